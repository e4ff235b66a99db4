"""Synthesise missing contrasts of a subject's NIfTI volumes: `python -m magan_keras.synthesize`.

Every contrast absent from the inputs is synthesised from those present (any non-empty subset),
or only the ones named with `--target`. A `--target` whose file is given is hidden from the model
and serves as the ground truth of the figure.

What happens to the volumes:

1. Each file is read and brought to canonical (RAS+) orientation; files must share one voxel
   grid (shape and affine), be finite and not all zero (errors name the file).
2. Brain mask: the voxels non-zero in any input contrast. Each input is normalised as the
   training data were (`tfds_brats.intensity.normalise_volume`: clip to the 0.5 / 99.5
   percentiles inside the brain, scale to [-1, 1], background -1).
3. Axial slices with brain are padded / cropped to the training canvas and resized to the
   model's size as `tfds_brats` made the training slices, run through the generator in batches,
   resized back and un-padded exactly (`magan_keras.inference.volumes`), reassembled.
4. Output intensity scale ("unit"): the model's [-1, 1] mapped linearly to [0, 1] inside the
   brain mask, 0 outside. 0 and 1 stand for the 0.5th and 99.5th brain percentiles the
   model learnt for that contrast: a missing contrast has no scanner scale to go back to.
   Written as float32 NIfTI (`cal_min` 0, `cal_max` 1) in the first input file's own voxel
   order, affine and header, named `<subject>_<contrast>_synthetic.nii.gz`. Existing files are
   never overwritten without `--overwrite`; files are written under a temporary name and
   renamed.

Command line:

    python -m magan_keras.synthesize --model model.keras \\
        --subject-dir /data/BraTS2021/BraTS2021_00000 --out-dir out/ --figure
    python -m magan_keras.synthesize --model model.keras --t1 s_t1.nii.gz --t1ce s_t1ce.nii.gz \\
        --t2 s_t2.nii.gz --out-dir out/                     # writes s_flair_synthetic.nii.gz
    python -m magan_keras.synthesize --model model.keras --subject-dir S --target flair \\
        --out-dir out/ --figure                              # hides S's flair, shows it as truth

Example:

```python
from magan_keras.inference.synthesis import synthesize_subject, write_outputs

result = synthesize_subject("model.keras", {"t1": "s_t1.nii.gz", "t2": "s_t2.nii.gz"})
paths = write_outputs(result, "out/")  # s_t1ce_synthetic.nii.gz, s_flair_synthetic.nii.gz
```
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import time
from collections.abc import Mapping

import numpy as np

from magan_keras.inference import generator as inference

from magan_keras.inference import volumes as volume_io

from magan_keras.modalities import BRATS_MODALITIES

OUTPUT_SUFFIX = "_synthetic.nii.gz"
INTENSITY_SCALE = "unit: the model's [-1, 1] mapped to [0, 1] inside the brain, 0 outside"


class InputError(ValueError):
    """Bad command-line input (the message names the file or argument)."""


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
    """

    subject_id: str
    outputs: dict
    inputs: dict
    truths: dict
    brain_mask: np.ndarray
    loaded: volume_io.LoadedVolumes
    seconds: float = 0.0


def parse_contrast_list(values, known=BRATS_MODALITIES, option="--target"):
    """Contrast names from repeated and / or comma-separated option values, validated.

    Example:

    ```python
    parse_contrast_list(["t1,t2", "flair"])  # ("t1", "t2", "flair")
    ```
    """
    names = []
    for value in values or ():
        for name in str(value).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in known:
                raise InputError(f"{option}: unknown contrast '{name}'; choose from {', '.join(known)}")
            if name not in names:
                names.append(name)
    return tuple(names)


def find_subject_files(subject_dir) -> tuple[str, dict]:
    """`(subject_id, {contrast: path})` of the one BraTS-named subject in `subject_dir`.

    Both namings are recognised (`tfds_brats.subjects`); any non-empty set of contrasts is
    accepted; a seg file is ignored.

    Raises:
        InputError: no such folder, no BraTS-named file, several subjects, or several files for
            one contrast.

    Example:

    ```python
    subject_id, files = find_subject_files("/data/BraTS2021/BraTS2021_00000")
    ```
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


def subject_id_from_files(files: Mapping[str, os.PathLike]) -> str:
    """The BraTS prefix of the first file (`s1_t1.nii.gz` -> `s1`), else its name without `.nii.gz`."""
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
        targets: contrasts named with `--target` (empty: every model contrast not given).
        model_source: str. The model's name for messages.

    Returns:
        `(inputs, truths, targets)`: dict, dict, tuple.

    Raises:
        InputError: a file or target for a contrast the model was not trained on, no input left,
            or nothing to synthesise.

    Example:

    ```python
    plan({"t1": a, "t2": b, "flair": c}, ("t1", "t1ce", "t2", "flair"), ("flair",))
    # ({"t1": a, "t2": b}, {"flair": c}, ("flair",))
    ```
    """
    if not files:
        raise InputError(
            "no contrasts given: use --subject-dir or at least one of --t1, --t1ce, --t2, --flair"
        )
    for name, path in files.items():
        if name not in modalities:
            raise InputError(
                f"{path}: {model_source} was trained on contrasts {', '.join(modalities)} and has "
                f"no input for '{name}'"
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
    """`out_dir/<subject>_<contrast>_synthetic.nii.gz`."""
    return pathlib.Path(out_dir) / f"{subject_id}_{contrast}{OUTPUT_SUFFIX}"


def synthesize_subject(model, files: Mapping[str, os.PathLike], *, targets=(), subject_id=None,
                       canvas_size=None, batch_size=8, progress=False) -> Synthesis:
    """Synthesises the missing (or the named) contrasts of one subject; writes nothing.

    Args:
        model: `.keras` path or model (see `inference.load_generator`).
        files: dict contrast -> NIfTI path of the contrasts the user has.
        targets: contrasts to synthesise (default: every model contrast without a file); a target
            with a file is hidden from the model and returned as ground truth.
        subject_id: str or None (default: from the file names).
        canvas_size: int or None (see `volumes.resolve_canvas_size`).
        batch_size: int. Slices per model call.
        progress: bool. Show a progress bar on stderr.

    Returns:
        `Synthesis`.

    Raises:
        InputError: bad arguments (see `plan`).
        inference.ModelError: the model file is unusable.
        tfds_brats.subjects.SubjectError: a bad file (named in the message).

    Example:

    ```python
    result = synthesize_subject("model.keras", {"t1": "a_t1.nii.gz", "t2": "a_t2.nii.gz"},
                                targets=["flair"])
    result.outputs["flair"].shape  # canonical (X, Y, Z)
    ```
    """
    model_source = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "the model"
    generator = inference.load_generator(model)
    modalities = tuple(generator.modalities)
    files = {name: pathlib.Path(os.fspath(path)) for name, path in files.items()}
    inputs, truths, targets = plan(files, modalities, tuple(targets or ()), model_source)
    subject_id = subject_id or subject_id_from_files(files)
    # Inputs first: the first input file is the reference of the outputs' geometry.
    loaded_all = volume_io.load_volumes({**inputs, **truths}, subject_id)
    loaded = dataclasses.replace(
        loaded_all,
        volumes={k: v for k, v in loaded_all.volumes.items() if k in inputs},
        paths={k: v for k, v in loaded_all.paths.items() if k in inputs},
    )
    mask = volume_io.brain_mask_of(loaded.volumes)
    images, available = volume_io.normalise_inputs(loaded, modalities, mask)

    start = time.perf_counter()
    outputs = {}
    bar = _progress_bar(progress, total=len(targets) * len(volume_io.slices_with_brain(mask)),
                        description=f"{subject_id}: synthesising {', '.join(targets)}")
    try:
        for target in targets:
            volume = inference.synthesize_volume(
                generator, images, available, target, mask, canvas_size=canvas_size,
                batch_size=batch_size, progress=None if bar is None else bar.update,
            )
            outputs[target] = inference.to_unit_scale(volume, mask)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start

    input_units = {
        name: inference.to_unit_scale(images[..., modalities.index(name)], mask) for name in inputs
    }
    truth_units = {}
    for name in truths:
        truth_only = dataclasses.replace(
            loaded_all, volumes={name: loaded_all.volumes[name]}, paths={name: loaded_all.paths[name]}
        )
        normalised, _ = volume_io.normalise_inputs(truth_only, modalities, mask)
        truth_units[name] = inference.to_unit_scale(normalised[..., modalities.index(name)], mask)
    return Synthesis(subject_id, outputs, input_units, truth_units, mask, loaded, seconds)


def existing_outputs(out_dir, subject_id, targets) -> list:
    """The output files of `targets` that already exist in `out_dir`."""
    return [p for p in (output_path(out_dir, subject_id, t) for t in targets) if p.exists()]


def write_outputs(result: Synthesis, out_dir, *, overwrite=False) -> list:
    """Writes each synthesised contrast as NIfTI beside nothing else; returns the paths.

    Raises:
        FileExistsError: an output exists and `overwrite` is False (nothing is written then).

    Example:

    ```python
    write_outputs(result, "out/")  # [PosixPath('out/s_flair_synthetic.nii.gz')]
    ```
    """
    out_dir = pathlib.Path(out_dir)
    existing = existing_outputs(out_dir, result.subject_id, result.outputs)
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing[0]} exists; pass --overwrite (overwrite=True) to replace it"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for target, volume in result.outputs.items():
        written.append(
            volume_io.save_like(
                volume, result.loaded.reference, output_path(out_dir, result.subject_id, target),
                description=f"MA-GAN synthetic {target}, unit scale", cal_range=(0.0, 1.0),
            )
        )
    return written


def _progress_bar(enabled, total, description):
    if not enabled:
        return None
    from tqdm.auto import tqdm  # pylint: disable=import-outside-toplevel

    return tqdm(total=total, desc=description, unit="slice", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of `python -m magan_keras.synthesize`."""
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.synthesize",
        description="Synthesise missing MRI contrasts of one subject with a trained MA-GAN.",
        epilog=f"Outputs: <out-dir>/<subject>_<contrast>{OUTPUT_SUFFIX}, float32, {INTENSITY_SCALE}.",
    )
    parser.add_argument("--model", required=True, help="trained model: a .keras MAGAN or generator")
    parser.add_argument("--subject-dir", help="folder of one BraTS subject (2018-2021 or 2023+ names)")
    for name in BRATS_MODALITIES:
        parser.add_argument(f"--{name}", metavar="FILE", help=f"NIfTI file of the {name} contrast")
    parser.add_argument("--subject-id", help="name of the outputs (default: from the file names)")
    parser.add_argument("--out-dir", required=True, help="folder for the synthesised volumes")
    parser.add_argument("--target", action="append", default=[],
                        help="contrast to synthesise (repeat or comma-separate; default: every "
                             "missing one). A target whose file is given is hidden and used as truth")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--figure", nargs="?", const="", default=None, metavar="PNG",
                        help="also write a PNG of a few slices (default name: "
                             "<out-dir>/<subject>_synthesis.png)")
    parser.add_argument("--batch-size", type=int, default=8, help="slices per model call (8)")
    parser.add_argument("--canvas-size", type=int, default=None,
                        help="square canvas the training slices were padded to before resizing "
                             "(brats builder: 256; default: the model size when the volume "
                             "already has it, else 256)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    try:
        if args.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
        targets = parse_contrast_list(args.target)
        explicit = {name: getattr(args, name) for name in BRATS_MODALITIES if getattr(args, name)}
        if args.subject_dir and explicit:
            raise InputError("give either --subject-dir or contrast files (--t1 ...), not both")
        if args.subject_dir:
            subject_id, files = find_subject_files(args.subject_dir)
        else:
            subject_id, files = None, explicit
        subject_id = args.subject_id or subject_id
        generator = inference.load_generator(args.model)
        inputs, truths, targets = plan(files, tuple(generator.modalities), targets, args.model)
        subject_id = subject_id or subject_id_from_files(files)
        existing = existing_outputs(args.out_dir, subject_id, targets)
        if existing and not args.overwrite:
            raise InputError(f"{existing[0]} exists; pass --overwrite to replace it")
        figure = None
        if args.figure is not None:
            figure = pathlib.Path(args.figure or pathlib.Path(args.out_dir) / f"{subject_id}_synthesis.png")
            if figure.exists() and not args.overwrite:
                raise InputError(f"{figure} exists; pass --overwrite to replace it")
        result = synthesize_subject(
            generator, files, targets=targets, subject_id=subject_id, canvas_size=args.canvas_size,
            batch_size=args.batch_size, progress=not args.quiet,
        )
        written = write_outputs(result, args.out_dir, overwrite=args.overwrite)
        if figure is not None:
            from magan_keras.evaluation import figures  # pylint: disable=import-outside-toplevel

            figure.parent.mkdir(parents=True, exist_ok=True)
            written.append(figures.synthesis_figure(result, figure))
    except (InputError, inference.ModelError, subjects.SubjectError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{result.subject_id}: inputs {', '.join(result.inputs)}; synthesised "
          f"{', '.join(result.outputs)} in {result.seconds:.1f} s "
          f"({result.seconds / max(len(result.outputs), 1):.1f} s per volume)")
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
