"""Synthesise the missing contrasts of a subject's NIfTI volumes (the library of `magan_keras.synthesize`).

Every contrast absent from the inputs is synthesised from those present (any non-empty subset),
or only the ones named as targets. A target whose file is given is hidden from the model and
returned as the ground truth (for the figure). The command line is `magan_keras.cli.synthesize`.

What happens to the volumes, with the preprocessing the model was trained with (its saved
`tfds_brats.preprocessing.Preprocessing`; a model saved without one gets the old defaults and a
note in `Synthesis.notes`):

1. Each file is read by `tfds_brats.subjects.load_subject` and brought to canonical (RAS+)
   orientation; files must share one voxel grid (shape and affine), be finite and not all zero
   (errors name the file).
2. Brain mask: the voxels non-zero in any input contrast. Each input is normalised as the
   training data were (`tfds_brats.intensity.normalise_volume` with the model's percentiles:
   clip to the brain percentiles, scale to [-1, 1], background -1).
3. Axial slices with brain are padded / cropped to the model's canvas and resized to its size
   as `tfds_brats` made the training slices, run through the generator in batches, resized back
   and un-padded exactly (`tfds_brats.slicing`), reassembled.
4. Output intensity scale ("unit"): the model's [-1, 1] mapped linearly to [0, 1] inside the
   brain mask, 0 outside. 0 and 1 stand for the lower and upper brain percentiles the model
   learnt for that contrast: a missing contrast has no scanner scale to go back to. Written as
   float32 NIfTI (`cal_min` 0, `cal_max` 1) in the first input file's own voxel order, affine and
   header, named `<subject>_<contrast>_synthetic.nii.gz`, through `magan_keras.atomic`. Existing
   files are never overwritten without `overwrite=True`.

Example:
>>> from magan_keras.inference.synthesis import synthesize_subject, write_outputs
>>> from magan_keras.models import MultiBranchGenerator
>>> from tfds_brats.brats.make_dummy_data import write_fake_subject
>>> files = write_fake_subject("in", "s", seed=1)
>>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1,
...                                  preprocessing={"canvas_size": 24})
>>> result = synthesize_subject(generator, {"t1": files["t1"], "t2": files["t2"]})
>>> sorted(result.outputs), result.canvas_size, result.notes
(['flair', 't1ce'], 24, ())
>>> [path.name for path in write_outputs(result, "out")]
['s_t1ce_synthetic.nii.gz', 's_flair_synthetic.nii.gz']
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import sys
import time
from collections.abc import Mapping

import numpy as np

from magan_keras import atomic
from magan_keras.inference import generator as inference
from magan_keras.inference import planes as plane_synthesis
from magan_keras.inference import uncertainty as uncertainty_maps
from magan_keras.inference import volumes as volume_io
from magan_keras.modalities import BRATS_MODALITIES, check_safe_name
from tfds_brats import checks

OUTPUT_SUFFIX = "_synthetic.nii.gz"
UNCERTAINTY_SUFFIX = "_uncertainty.nii.gz"
SUMMARY_SUFFIX = "_uncertainty.json"
INTENSITY_SCALE = "unit: the model's [-1, 1] mapped to [0, 1] inside the brain, 0 outside"


class InputError(ValueError):
    """Bad input (the message names the file or argument)."""


@dataclasses.dataclass
class Synthesis:
    """What `synthesize_subject` returns.

    Attributes:
        subject_id: str.
        outputs: dict target contrast -> float32 `[X, Y, Z]` on the unit scale, canonical
            orientation, 0 outside the brain.
        inputs: dict input contrast -> float32 `[X, Y, Z]` normalised input on the unit scale.
        truths: dict target contrast -> float32 `[X, Y, Z]`: a given file of a target,
            normalised like an input, unit scale (only for targets whose file was given).
        brain_mask: bool `[X, Y, Z]` (from the inputs).
        loaded: `volumes.LoadedVolumes` of the inputs (reference image for writing).
        seconds: float. Time spent synthesising (model and resampling).
        preprocessing: the `tfds_brats.preprocessing.Preprocessing` used (the model's record, or
            the assumed defaults), or None.
        canvas_size: int. The canvas the slices were cut on (0 when unknown).
        notes: tuple of str. What was assumed or overridden (empty when the model's record was
            used as saved).
        checks: `tfds_brats.checks.CheckReport` of the input checks, or None when skipped.
        uncertainty: dict target -> float32 `[X, Y, Z]` spread of the full and leave-one-out
            syntheses (`magan_keras.inference.uncertainty`), empty unless asked for.
        uncertainty_summary: dict target -> `uncertainty.summarise` (mean in the brain and the
            tumour), empty unless asked for.
        uncertainty_stride: int. The leave-one-out subsets ran on every this many brain slices
            (`uncertainty.slice_spread`); 0 without uncertainty.
    """

    subject_id: str
    outputs: dict
    inputs: dict
    truths: dict
    brain_mask: np.ndarray
    loaded: volume_io.LoadedVolumes
    seconds: float = 0.0
    preprocessing: object = None
    canvas_size: int = 0
    notes: tuple = ()
    checks: object = None
    uncertainty: dict = dataclasses.field(default_factory=dict)
    uncertainty_summary: dict = dataclasses.field(default_factory=dict)
    uncertainty_stride: int = 0


def find_subject_files(subject_dir) -> tuple[str, dict]:
    """`(subject_id, {contrast: path})` of the one BraTS-named subject in `subject_dir`.

    Both namings are recognised (`tfds_brats.subjects`); any non-empty set of contrasts is
    accepted; a seg file is ignored.

    Args:
        subject_dir: folder holding one subject's files (searched recursively).

    Returns:
        `(subject_id, files)`: str, dict contrast -> pathlib.Path in `BRATS_MODALITIES` order.

    Raises:
        InputError: no such folder, no BraTS-named file, several subjects, or several files for
            one contrast.

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> paths = write_fake_subject("BraTS2021_00000", "BraTS2021_00000", with_seg=True)
    >>> paths["t1ce"].unlink()
    >>> subject_id, files = find_subject_files("BraTS2021_00000")
    >>> subject_id, list(files)
    ('BraTS2021_00000', ['t1', 't2', 'flair'])
    """
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    try:
        found = subjects.find_subjects(subject_dir)
    except subjects.NoSubjectsError as error:
        raise InputError(f"--subject-dir: {error}") from error
    found = [s for s in found if any(m in s.matches for m in BRATS_MODALITIES)]
    if len(found) != 1:
        names = ", ".join(f"{s.subject_id} ({s.folder})" for s in found) or "none"
        raise InputError(f"--subject-dir {subject_dir}: expected one subject's contrasts, found: {names}")
    files = {}
    for name in BRATS_MODALITIES:
        paths = found[0].matches.get(name, ())
        if len(paths) > 1:
            raise InputError(f"--subject-dir: several files for '{name}': {', '.join(map(str, paths))}")
        if paths:
            files[name] = paths[0]
    return found[0].subject_id, files


def find_seg_file(subject_dir):
    """The one subject's seg file in `subject_dir` (BraTS names), or None.

    Args:
        subject_dir: folder of one subject.

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> find_seg_file(write_fake_subject("with_seg", "s", with_seg=True)["t1"].parent).name
    's_seg.nii.gz'
    """
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    try:
        found = subjects.find_subjects(subject_dir)
    except subjects.NoSubjectsError:
        return None
    segs = [path for s in found for path in s.matches.get("seg", ())]
    return segs[0] if len(segs) == 1 else None


def subject_id_from_files(files: Mapping[str, os.PathLike]) -> str:
    """The BraTS prefix of the first file (`s1_t1.nii.gz` -> `s1`), else its name without `.nii.gz`.

    Args:
        files: dict contrast -> path (the first one is used).

    Example:
    >>> subject_id_from_files({"t1": "a/BraTS-GLI-00001-000-t1n.nii.gz"}), subject_id_from_files({"t1": "scan.nii"})
    ('BraTS-GLI-00001-000', 'scan')
    """
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    first = pathlib.Path(next(iter(files.values())))
    parsed = subjects.parse_filename(first.name)
    if parsed is not None:
        return parsed[0]
    name = first.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def plan(files: Mapping[str, os.PathLike], modalities, targets=(), model_source="the model"):
    """Splits the given files into inputs and ground truths and picks the targets.

    Args:
        files: dict contrast -> path, contrasts given by the user.
        modalities: the model's contrasts.
        targets: contrasts to synthesise (empty: every model contrast not given).
        model_source: str. The model's name for messages.

    Returns:
        `(inputs, truths, targets)`: dict, dict, tuple.

    Raises:
        InputError: a file or target for a contrast the model was not trained on, no input left,
            or nothing to synthesise.

    Example:
    >>> plan({"t1": "a", "t2": "b", "flair": "c"}, ("t1", "t1ce", "t2", "flair"), ("flair",))
    ({'t1': 'a', 't2': 'b'}, {'flair': 'c'}, ('flair',))
    >>> plan({"t1": "a"}, ("t1", "t2"))
    ({'t1': 'a'}, {}, ('t2',))
    """
    if not files:
        raise InputError("no contrasts given: use --subject-dir or at least one of --t1, --t1ce, --t2, --flair")
    for name, path in files.items():
        if name not in modalities:
            raise InputError(
                f"{path}: {model_source} was trained on contrasts {', '.join(modalities)} and has no input for '{name}'"
            )
    for name in targets:
        if name not in modalities:
            raise InputError(
                f"--target {name}: {model_source} was trained on contrasts {', '.join(modalities)} "
                f"and cannot synthesise '{name}'"
            )
    if not targets:
        targets = tuple(m for m in modalities if m not in files)
        if not targets:
            raise InputError(
                "nothing to synthesise: every contrast of the model was given; name one with "
                "--target to hide it and synthesise it from the others"
            )
    inputs = {name: path for name, path in files.items() if name not in targets}
    truths = {name: path for name, path in files.items() if name in targets}
    if not inputs:
        raise InputError(f"no input contrast left: every given file is a --target ({', '.join(targets)})")
    return inputs, truths, tuple(targets)


def output_path(out_dir, subject_id, contrast) -> pathlib.Path:
    """`out_dir/<subject>_<contrast>_synthetic.nii.gz`.

    Args:
        out_dir: folder.
        subject_id: str.
        contrast: str.

    Example:
    >>> output_path("out", "s1", "flair").as_posix()
    'out/s1_flair_synthetic.nii.gz'
    >>> output_path("out", "../../x", "flair")
    Traceback (most recent call last):
    ...
    magan_keras.inference.synthesis.InputError: subject id '../../x' is not a safe name: ...
    """
    return _file_in(out_dir, f"{subject_id}_{contrast}{OUTPUT_SUFFIX}", subject_id, contrast)


def uncertainty_path(out_dir, subject_id, contrast) -> pathlib.Path:
    """`out_dir/<subject>_<contrast>_uncertainty.nii.gz`.

    Args:
        out_dir: folder.
        subject_id: str.
        contrast: str.

    Example:
    >>> uncertainty_path("out", "s1", "flair").as_posix()
    'out/s1_flair_uncertainty.nii.gz'
    """
    return _file_in(out_dir, f"{subject_id}_{contrast}{UNCERTAINTY_SUFFIX}", subject_id, contrast)


def summary_path(out_dir, subject_id) -> pathlib.Path:
    """`out_dir/<subject>_uncertainty.json`: the per-subject uncertainty summary.

    Args:
        out_dir: folder.
        subject_id: str.

    Example:
    >>> summary_path("out", "s1").as_posix()
    'out/s1_uncertainty.json'
    """
    return _file_in(out_dir, f"{subject_id}{SUMMARY_SUFFIX}", subject_id)


def _file_in(out_dir, filename, subject_id, contrast=None) -> pathlib.Path:
    """`out_dir / filename`, once the names it is built from are safe and it stays in `out_dir`."""
    check_safe_name(subject_id, "subject id", InputError)
    if contrast is not None:
        check_safe_name(contrast, "contrast name", InputError)
    path = pathlib.Path(out_dir) / filename
    if path.parent != pathlib.Path(out_dir) or os.path.normpath(path.parent) != os.path.normpath(out_dir):
        raise InputError(f"output file {ascii(filename)} would not be inside {out_dir}")
    return path


def synthesize_subject(
    model,
    files: Mapping[str, os.PathLike],
    *,
    targets=(),
    subject_id=None,
    canvas_size=None,
    batch_size=8,
    progress=False,
    input_checks=True,
    uncertainty=False,
    seg=None,
    planes=None,
    uncertainty_stride=uncertainty_maps.DEFAULT_STRIDE,
) -> Synthesis:
    """Synthesises the missing (or the named) contrasts of one subject; writes nothing.

    Args:
        model: `.keras` path or model (see `inference.load_generator`).
        files: dict contrast -> NIfTI path of the contrasts the user has.
        targets: contrasts to synthesise (default: every model contrast without a file); a target
            with a file is hidden from the model and returned as ground truth.
        subject_id: str or None (default: from the file names).
        canvas_size: int to override the canvas of the model's preprocessing record, or None
            (the record's; see `inference.canvas_size_of`).
        batch_size: int. Slices per model call.
        progress: bool. Show a progress bar on stderr.
        input_checks: bool. Check every given file (`tfds_brats.checks`: contrast identity,
            co-registration, skull stripping; spacing, field of view and orientation as warnings,
            in `Synthesis.checks`) and stop before any synthesis on a failure.
        uncertainty: bool. Also compute the spread of the full and leave-one-input-out
            syntheses per target (needs two inputs or more) and its summary.
        seg: path of a segmentation on the same grid (labels > 0: tumour) for the tumour mean of
            the uncertainty summary, or None.
        planes: slice orientations to synthesise along and fuse (`magan_keras.inference.planes`;
            names or "axial,coronal,sagittal"); None or axial alone: axial slices, as trained.
            A plane the model's record does not list is synthesised with a note.
        uncertainty_stride: int >= 1. With `uncertainty`, the leave-one-out subsets run on every
            this many brain slices and the map is interpolated between
            (`uncertainty.slice_spread`); 1 for the exact map on every slice.

    Returns:
        `Synthesis` (its `notes` say what was assumed for a model without a record).

    Raises:
        InputError: bad arguments (see `plan`).
        inference.ModelError: the model file is unusable.
        tfds_brats.subjects.SubjectError: a bad file (named in the message).
        tfds_brats.checks.InputCheckError: a failed input check (files and evidence named).

    Example:
    >>> from magan_keras.models import MultiBranchGenerator
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> files = write_fake_subject("in", "a")
    >>> old = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)  # no record
    >>> result = synthesize_subject(old, {m: files[m] for m in ("t1", "t2", "flair")}, targets=["flair"])
    >>> result.outputs["flair"].shape, sorted(result.truths), result.canvas_size
    ((24, 24, 12), ['flair'], 256)
    >>> print(result.notes[0])  # doctest: +ELLIPSIS
    the model carries no preprocessing record ...
    """
    model_source = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "the model"
    generator = inference.load_generator(model)
    modalities = tuple(generator.modalities)
    record = inference.preprocessing_of(generator)
    files = {name: pathlib.Path(os.fspath(path)) for name, path in files.items()}
    inputs, truths, targets = plan(files, modalities, tuple(targets or ()), model_source)
    planes = plane_synthesis.parse_options(planes, InputError)
    if uncertainty and planes != ("axial",):
        raise InputError("--uncertainty is made on axial slices; give no --planes with it (or --planes axial)")
    subject_id = subject_id or subject_id_from_files(files)
    # Inputs first: the first input file is the reference of the outputs' geometry.
    loaded_all = volume_io.load_volumes({**inputs, **truths}, subject_id)
    loaded = dataclasses.replace(
        loaded_all,
        volumes={k: v for k, v in loaded_all.volumes.items() if k in inputs},
        paths={k: v for k, v in loaded_all.paths.items() if k in inputs},
    )
    mask = volume_io.brain_mask_of(loaded.volumes)
    report = None
    canvas = inference.canvas_size_of(generator, mask.shape[:2], canvas_size)
    if input_checks:
        report = checks.check_volumes(
            loaded_all.volumes,
            subject_id=subject_id,
            paths=loaded_all.paths,
            affine=loaded_all.affine,
            header=getattr(loaded_all.reference, "header", None),
            canvas_size=canvas,
        ).raise_for_errors()
    if uncertainty and int(uncertainty_stride) < 1:
        raise InputError(f"--uncertainty-stride must be >= 1, got {uncertainty_stride}")
    if uncertainty and len(inputs) < 2:
        raise InputError(
            f"--uncertainty needs at least two input contrasts (leave-one-out subsets); given: {', '.join(inputs)}"
        )
    tumour = _tumour_mask(seg, subject_id, loaded_all) if seg is not None else None
    percentiles = {"lower_percentile": record.lower_percentile, "upper_percentile": record.upper_percentile}
    images, available = volume_io.normalise_inputs(loaded, modalities, mask, **percentiles)
    notes = [note for note in (inference.preprocessing_note(record),) if note]
    if canvas_size is not None and not record.assumed and canvas != record.canvas_size:
        notes.append(f"canvas {canvas} px given, overriding the model's {record.canvas_size} px")
    unseen = [plane for plane in planes if plane not in record.planes]
    if unseen:
        notes.append(
            f"synthesising along {', '.join(unseen)} slices, which the model never saw in training "
            f"(it was trained on {', '.join(record.planes)} slices)"
        )
    if len(planes) > 1:
        notes.append(f"{', '.join(planes)} syntheses fused by their voxel-wise mean")

    start = time.perf_counter()
    outputs, spreads, summaries = {}, {}, {}
    bar = _progress_bar(
        progress,
        total=len(targets) * plane_synthesis.slice_count(mask, planes),
        description=f"{subject_id}: synthesising {', '.join(targets)}",
    )
    try:
        for target in targets:
            passes = {
                "canvas_size": canvas,
                "batch_size": batch_size,
                "progress": None if bar is None else bar.update,
            }
            if uncertainty:
                outputs[target], spreads[target] = uncertainty_maps.synthesize_with_uncertainty(
                    generator, images, available, target, mask, stride=uncertainty_stride, **passes
                )
                summaries[target] = uncertainty_maps.summarise(spreads[target], mask, tumour)
                continue
            volume = plane_synthesis.synthesize_planes(
                generator, images, available, target, mask, planes=planes, **passes
            )
            outputs[target] = inference.to_unit_scale(volume, mask)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start

    input_units = {name: inference.to_unit_scale(images[..., modalities.index(name)], mask) for name in inputs}
    truth_units = {}
    for name in truths:
        truth_only = dataclasses.replace(
            loaded_all, volumes={name: loaded_all.volumes[name]}, paths={name: loaded_all.paths[name]}
        )
        normalised, _ = volume_io.normalise_inputs(truth_only, modalities, mask, **percentiles)
        truth_units[name] = inference.to_unit_scale(normalised[..., modalities.index(name)], mask)
    return Synthesis(
        subject_id,
        outputs,
        input_units,
        truth_units,
        mask,
        loaded,
        seconds,
        preprocessing=record,
        canvas_size=int(canvas),
        notes=tuple(notes),
        checks=report,
        uncertainty=spreads,
        uncertainty_summary=summaries,
        uncertainty_stride=int(uncertainty_stride) if uncertainty else 0,
    )


def existing_outputs(out_dir, subject_id, targets, uncertainty=False) -> list:
    """The output files of `targets` that already exist in `out_dir`.

    Args:
        out_dir: folder.
        subject_id: str.
        targets: contrast names.
        uncertainty: bool. Also the uncertainty maps and summary.

    Example:
    >>> existing_outputs("nowhere", "s1", ["flair"])
    []
    """
    paths = [output_path(out_dir, subject_id, t) for t in targets]
    if uncertainty:
        paths += [uncertainty_path(out_dir, subject_id, t) for t in targets] + [summary_path(out_dir, subject_id)]
    return [p for p in paths if p.exists()]


def write_outputs(result: Synthesis, out_dir, *, overwrite=False) -> list:
    """Writes each synthesised contrast as NIfTI (`volumes.save_like`, atomic); returns the paths.

    Args:
        result: from `synthesize_subject`.
        out_dir: folder (created).
        overwrite: bool. Replace existing outputs.

    Raises:
        FileExistsError: an output exists and `overwrite` is False (nothing is written then).

    Example:
    >>> import numpy as np, nibabel as nib
    >>> from magan_keras.inference import volumes
    >>> reference = nib.Nifti1Image(np.ones((4, 4, 2), np.int16), np.eye(4))
    >>> loaded = volumes.LoadedVolumes("s", {}, {}, reference, None, np.eye(4))
    >>> result = Synthesis("s", {"flair": np.zeros((4, 4, 2), np.float32)}, {}, {}, None, loaded)
    >>> [path.name for path in write_outputs(result, "written")]
    ['s_flair_synthetic.nii.gz']
    >>> write_outputs(result, "written")
    Traceback (most recent call last):
    ...
    FileExistsError: written/s_flair_synthetic.nii.gz exists; pass --overwrite (overwrite=True) to replace it
    """
    out_dir = pathlib.Path(out_dir)
    existing = existing_outputs(out_dir, result.subject_id, result.outputs, bool(result.uncertainty))
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass --overwrite (overwrite=True) to replace it")
    written = []
    for target, volume in result.outputs.items():
        written.append(
            volume_io.save_like(
                volume,
                result.loaded.reference,
                output_path(out_dir, result.subject_id, target),
                description=f"MA-GAN synthetic {target}, unit scale",
                cal_range=(0.0, 1.0),
            )
        )
    for target, volume in result.uncertainty.items():
        written.append(
            volume_io.save_like(
                volume,
                result.loaded.reference,
                uncertainty_path(out_dir, result.subject_id, target),
                description=f"MA-GAN {target} uncertainty (leave-one-out spread)",
                cal_range=(0.0, 0.5),
            )
        )
    if result.uncertainty_summary:
        summary = {
            "subject_id": result.subject_id,
            "inputs": list(result.inputs),
            "method": "standard deviation of the syntheses from all inputs and from each leave-one-input-out "
            "subset, on the unit scale (0-1 inside the brain)",
            "stride": result.uncertainty_stride,
            "stride_meaning": "the subsets ran on every stride-th brain slice (and the last); the map is "
            "interpolated linearly between them (1: every slice)",
            "targets": result.uncertainty_summary,
        }
        written.append(atomic.write_json(summary_path(out_dir, result.subject_id), summary))
    return written


def _tumour_mask(seg, subject_id, loaded):
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    reference = next(iter(loaded.paths.values()))
    _, labels, _ = subjects.load_subject({"ref": reference, "seg": seg}, subject_id, required=())
    return labels > 0


def _progress_bar(enabled, total, description):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # pylint: disable=import-outside-toplevel

    return tqdm(total=total, desc=description, unit="slice", file=sys.stderr)
