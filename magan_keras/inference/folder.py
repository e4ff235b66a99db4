"""Synthesis over a folder of subjects, optionally with the BraSyn challenge's missing-modality protocol.

`plan_folder` decides, before anything is synthesised, what each subject of a BraTS folder gets:

- default: each subject's contrasts without a file (a BraSyn validation folder lacks one per
  subject), or the named `targets` (a target whose file is there is hidden from the model);
- `brasyn_dropout=True`: the contrast the challenge organisers' `dropout_modality.py` drops for
  that subject folder (`magan_keras.evaluation.challenge.brasyn_dropout_for_folder`: seed
  123456, one draw per sorted subject folder), its file hidden when present, the other three
  given. A run over a complete folder is then the challenge's validation setting, and
  `python -m magan_keras.evaluate --predictions OUT --data-dir FOLDER --brasyn-dropout` scores it.

`synthesize_folder` synthesises each subject with `synthesis.synthesize_subject` and writes
`<out_dir>/<subject>_<contrast>_synthetic.nii.gz` (flat, `synthesis.write_outputs`). Every
subject's plan and every output name are checked first: a bad subject or an existing output
stops the run before the first file is written.

Example:
>>> from magan_keras.inference.folder import plan_folder
>>> from tfds_brats.brats.make_dummy_data import write_fake_subject
>>> for k in (1, 2):
...     files = write_fake_subject(f"val/BraTS-GLI-0000{k}-000", f"BraTS-GLI-0000{k}-000", naming="brats2023")
>>> files["flair"].unlink()        # the second subject lacks its FLAIR
>>> [(p.subject_id, p.targets) for p in plan_folder("val", ("t1", "t1ce", "t2", "flair"), targets=["t2"])]
[('BraTS-GLI-00001-000', ('t2',)), ('BraTS-GLI-00002-000', ('t2',))]
>>> plan_folder("val", ("t1", "t1ce", "t2", "flair"))
Traceback (most recent call last):
...
magan_keras.inference.synthesis.InputError: subject BraTS-GLI-00001-000: nothing to synthesise: ...
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from magan_keras.inference import synthesis
from magan_keras.modalities import BRATS_MODALITIES


@dataclasses.dataclass(frozen=True)
class SubjectPlan:
    """What `synthesize_folder` does for one subject.

    Attributes:
        subject_id: str.
        files: dict contrast -> pathlib.Path of the files found (targets' files are hidden).
        targets: tuple of contrasts to synthesise.
    """

    subject_id: str
    files: dict
    targets: tuple


def plan_folder(data_dir, modalities=BRATS_MODALITIES, targets=(), brasyn_dropout=False, max_subjects=None) -> list:
    """One `SubjectPlan` per subject of a BraTS folder (module docstring), checked; nothing is read.

    Args:
        data_dir: str or path-like. A folder of BraTS subjects (either naming).
        modalities: the model's contrasts.
        targets: contrasts to synthesise for every subject (empty: each subject's missing ones).
        brasyn_dropout: bool. The challenge's pick per subject folder instead of `targets`.
        max_subjects: int or None. The first subjects (sorted) only.

    Raises:
        synthesis.InputError: no subject, `targets` with `brasyn_dropout`, or a subject with
            nothing to synthesise or no input left (named).

    Example: see the module docstring.
    """
    from magan_keras.evaluation import challenge  # pylint: disable=import-outside-toplevel
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    if brasyn_dropout and targets:
        raise synthesis.InputError("--brasyn-dropout picks each subject's target; give no --target with it")
    try:
        found = subjects.find_subjects(data_dir)
        dropped = challenge.brasyn_dropout_for_folder(data_dir) if brasyn_dropout else None
    except subjects.NoSubjectsError as error:
        raise synthesis.InputError(f"--data-dir: {error}") from error
    except ValueError as error:
        raise synthesis.InputError(str(error)) from error
    plans = []
    for files in found[:max_subjects]:
        for role, paths in files.matches.items():
            if len(paths) > 1:
                raise synthesis.InputError(
                    f"subject {files.subject_id}: several files for '{role}': {', '.join(map(str, paths))}"
                )
        given = {m: files.matches[m][0] for m in BRATS_MODALITIES if m in files.matches}
        wanted = (dropped[files.subject_id],) if dropped is not None else tuple(targets)
        try:
            _, _, chosen = synthesis.plan(given, tuple(modalities), wanted, os.fspath(data_dir))
        except synthesis.InputError as error:
            raise synthesis.InputError(f"subject {files.subject_id}: {error}") from error
        plans.append(SubjectPlan(files.subject_id, given, chosen))
    return plans


def synthesize_folder(
    model,
    data_dir,
    out_dir,
    *,
    targets=(),
    brasyn_dropout=False,
    max_subjects=None,
    overwrite=False,
    report=None,
    **options,
) -> list:
    """Synthesises every subject of a folder (`plan_folder`) and writes the outputs flat in `out_dir`.

    Args:
        model: `.keras` path or model (`inference.load_generator`).
        data_dir: str or path-like. The BraTS folder.
        out_dir: str or path-like. Output folder (created).
        targets: see `plan_folder`.
        brasyn_dropout: bool. See `plan_folder`.
        max_subjects: int or None.
        overwrite: bool. Replace existing outputs (else an existing one stops the run first).
        report: callable taking each `(Synthesis, written paths)` as it is done, or None.
        **options: passed to `synthesis.synthesize_subject` (`canvas_size`, `batch_size`,
            `progress`, `input_checks`).

    Returns:
        list of `(Synthesis, paths)`, one per subject, in order.

    Raises:
        synthesis.InputError: a bad folder or subject (named), or an existing output without `overwrite`.

    Example:
    >>> from magan_keras.inference.folder import synthesize_folder
    >>> from magan_keras.models import MultiBranchGenerator
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> for k in (1, 2):
    ...     _ = write_fake_subject(f"val/BraTS-GLI-0000{k}-000", f"BraTS-GLI-0000{k}-000", naming="brats2023")
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": 24})
    >>> done = synthesize_folder(generator, "val", "out", brasyn_dropout=True, input_checks=False)
    >>> [(result.subject_id, [p.name for p in paths]) for result, paths in done]  # doctest: +NORMALIZE_WHITESPACE
    [('BraTS-GLI-00001-000', ['BraTS-GLI-00001-000_t1_synthetic.nii.gz']),
     ('BraTS-GLI-00002-000', ['BraTS-GLI-00002-000_flair_synthetic.nii.gz'])]
    """
    from magan_keras.inference import generator as inference  # pylint: disable=import-outside-toplevel

    generator = inference.load_generator(model)
    plans = plan_folder(data_dir, tuple(generator.modalities), targets, brasyn_dropout, max_subjects)
    out_dir = pathlib.Path(os.fspath(out_dir))
    if not overwrite:
        for plan in plans:
            existing = synthesis.existing_outputs(out_dir, plan.subject_id, plan.targets)
            if existing:
                raise synthesis.InputError(f"{existing[0]} exists; pass --overwrite to replace it")
    done = []
    for plan in plans:
        result = synthesis.synthesize_subject(
            generator, plan.files, targets=plan.targets, subject_id=plan.subject_id, **options
        )
        written = synthesis.write_outputs(result, out_dir, overwrite=overwrite)
        done.append((result, written))
        if report is not None:
            report(result, written)
    return done
