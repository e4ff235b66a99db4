"""Checks every BraTS subject before anything is written.

A subject is rejected, with a `subjects.SubjectError` naming it and the file,
when: a contrast is missing or given twice; a file cannot be read completely
(truncated, not NIfTI); a volume is not 3-D, holds NaN / infinite voxels or
is all zero; the contrasts (or the seg) differ in canonical shape or affine;
the seg has labels outside 0-4; a contrast is constant inside the brain mask;
its id is also used by a subject in another folder; (slice layouts) no
axial slice has enough brain; or it fails the input checks of `tfds_brats.checks`
(files that look swapped, not co-registered, not skull-stripped; `input_checks=False`
skips them, and their warnings are kept in `SubjectReport.warnings`).

Example:
>>> from tfds_brats import subjects, validation
>>> from tfds_brats.brats.make_dummy_data import write_fake_subject
>>> _ = write_fake_subject("brats/s1", "s1")
>>> bad = write_fake_subject("brats/s2", "s2")
>>> bad["t2"].write_bytes(b"not a volume")
12
>>> found = subjects.find_subjects("brats")
>>> good, rejected = validation.validate_subjects(found, layout="slices", min_brain_fraction=0.05)
>>> [report.subject_id for report in good], [error.subject_id for error in rejected]
(['s1'], ['s2'])
>>> print(validation.BadSubjectsError(rejected, total=len(found)))  # doctest: +ELLIPSIS
1 of 2 BraTS subjects failed validation; nothing was written. ...
  - subject 's2', file brats/s2/s2_t2.nii.gz: cannot read the file...
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterable, Sequence

from tfds_brats import checks, intensity
from tfds_brats.constants import MODALITIES
from tfds_brats.slicing import usable_slice_indices
from tfds_brats.subjects import SubjectError, SubjectFiles, load_subject


@dataclasses.dataclass(frozen=True)
class SubjectReport:
    """A subject that passed validation.

    Attributes:
        files: `SubjectFiles`.
        num_slices: int. axial slices with enough brain (slice layouts), 1 for
            volumes.
        has_seg: bool.
        warnings: tuple of str. The input checks' soft problems (spacing, orientation).
    """

    files: SubjectFiles
    num_slices: int
    has_seg: bool
    warnings: tuple = ()

    @property
    def subject_id(self) -> str:
        """The subject's id (`files.subject_id`)."""
        return self.files.subject_id


class BadSubjectsError(ValueError):
    """Some subjects failed validation; lists every one with its reason.

    Args:
        errors: the `SubjectError`s.
        total: int. Subjects checked.
    """

    def __init__(self, errors: Sequence[SubjectError], total: int):
        self.errors = list(errors)
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(
            f"{len(self.errors)} of {total} BraTS subjects failed validation; nothing was "
            "written. Fix or remove them, or leave them out with skip_bad_subjects=True "
            f"(--skip-bad-subjects):\n{lines}"
        )


def validate_subject(
    files: SubjectFiles, *, layout: str, min_brain_fraction: float, input_checks: bool = True
) -> SubjectReport:
    """Loads one subject completely and checks it.

    Args:
        files: `SubjectFiles` from `subjects.find_subjects`.
        layout: "slices" or "volumes".
        min_brain_fraction: float. see `slicing.usable_slice_indices`.
        input_checks: bool. Run `tfds_brats.checks.check_volumes`; its errors reject the subject.

    Returns:
        `SubjectReport`.

    Raises:
        SubjectError: naming the subject and the offending file.

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> from tfds_brats.subjects import find_subjects
    >>> _ = write_fake_subject("one/s1", "s1")
    >>> report = validate_subject(find_subjects("one")[0], layout="slices", min_brain_fraction=0.05)
    >>> report.subject_id, report.num_slices, report.has_seg
    ('s1', 11, True)
    """
    paths = files.paths()
    volumes, seg, geometry = load_subject(files)
    warnings = ()
    if input_checks:
        report = checks.check_volumes(
            volumes,
            subject_id=files.subject_id,
            paths=geometry.paths,
            affine=geometry.affine,
            header=getattr(geometry.reference, "header", None),
        )
        if report.errors:
            reasons = "; ".join(finding.message for finding in report.errors)
            raise SubjectError(files.subject_id, files.folder, f"failed the input checks: {reasons}")
        warnings = tuple(finding.message for finding in report.warnings)
    mask = intensity.brain_mask(volumes.values())
    for modality in MODALITIES:
        try:
            intensity.percentile_range(volumes[modality], mask)
        except intensity.ConstantImageError as error:
            raise SubjectError(files.subject_id, paths[modality], f"inside the brain mask: {error}") from error
    num_slices = 1
    if layout == "slices":
        num_slices = int(usable_slice_indices(mask, min_brain_fraction).size)
        if num_slices == 0:
            raise SubjectError(
                files.subject_id,
                files.folder,
                f"no axial slice has at least {min_brain_fraction:.0%} brain",
            )
    return SubjectReport(files=files, num_slices=num_slices, has_seg=seg is not None, warnings=warnings)


def validate_subjects(
    found: Sequence[SubjectFiles],
    *,
    layout: str,
    min_brain_fraction: float,
    progress: Callable[[Iterable], Iterable] | None = None,
    input_checks: bool = True,
) -> tuple[list[SubjectReport], list[SubjectError]]:
    """Validates all subjects; returns `(passed, rejected)`.

    Args:
        found: from `subjects.find_subjects`.
        layout, min_brain_fraction, input_checks: see `validate_subject`.
        progress: optional wrapper for a progress bar (e.g. `tqdm.tqdm`).

    Returns:
        reports of the subjects that passed, errors of those that did not, each
        in subject-id order.

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> from tfds_brats.subjects import find_subjects
    >>> _ = write_fake_subject("twice/a/s1", "s1"), write_fake_subject("twice/b/s1", "s1")
    >>> good, rejected = validate_subjects(find_subjects("twice"), layout="volumes", min_brain_fraction=0.0)
    >>> good, [error.reason.split(" in ")[0] for error in rejected]
    ([], ['the same subject id is also', 'the same subject id is also'])
    """
    folders = collections.defaultdict(list)
    for files in found:
        folders[files.subject_id].append(files.folder)
    passed, rejected = [], []
    iterable = progress(found) if progress is not None else found
    for files in iterable:
        others = [f for f in folders[files.subject_id] if f != files.folder]
        if others:
            rejected.append(
                SubjectError(
                    files.subject_id,
                    files.folder,
                    "the same subject id is also in " + ", ".join(str(f) for f in others),
                )
            )
            continue
        try:
            passed.append(
                validate_subject(files, layout=layout, min_brain_fraction=min_brain_fraction, input_checks=input_checks)
            )
        except SubjectError as error:
            rejected.append(error)
    return passed, rejected
