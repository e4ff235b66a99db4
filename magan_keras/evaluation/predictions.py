"""Synthesised volumes that any model wrote, found by name and scored as `evaluate_model` scores ours.

`PredictionSource` stands where the model stands in `evaluate_model` (`ModelSource` is the
model's): it gives each subject's prediction of a target, and the evaluation scores it against
the truth folder with the same protocols, tables, figures and baselines.

Two namings are recognised, flat in the folder or one folder per subject (searched recursively,
hidden files ignored, `.nii.gz` or `.nii`):

| who writes it                          | file name                                   |
|----------------------------------------|---------------------------------------------|
| `magan_keras.synthesize` (this project) | `<subject>_<t1|t1ce|t2|flair>_synthetic.nii.gz` |
| BraSyn submissions (the challenge)     | `<subject>-<t1n|t1c|t2w|t2f>.nii.gz`          |

Every (subject, target) to score must have exactly one file: a missing one, or one under another
name, stops the run with a `PredictionError` listing each subject and contrast with the names
looked for, and the files that were not recognised. A prediction is read with the project's
NIfTI reader (`tfds_brats.subjects.load_subject`, canonical orientation) and must lie on its
truth's voxel grid (shape and affine), or the run stops naming the file. Its intensity scale is
free (scanner units, [0, 1], anything): it is normalised as the truth is, clipped to its own
brain percentiles and scaled to [-1, 1] inside the truth's brain mask
(`tfds_brats.intensity.normalise_volume`); the challenge protocol renormalises each volume again
as the organisers do.

Example:
>>> from magan_keras.evaluation.predictions import find_predictions, parse_prediction_name
>>> parse_prediction_name("BraTS-GLI-00001-000-t2f.nii.gz"), parse_prediction_name("s1_t1ce_synthetic.nii.gz")
(('BraTS-GLI-00001-000', 'flair'), ('s1', 't1ce'))
>>> import pathlib
>>> for name in ("flat/s1_flair_synthetic.nii.gz", "flat/s2/s2-t2f.nii.gz", "flat/notes.nii.gz"):
...     pathlib.Path(name).parent.mkdir(parents=True, exist_ok=True)
...     _ = pathlib.Path(name).write_bytes(b"")
>>> found = find_predictions("flat")
>>> sorted(found.files), [p.name for p in found.unrecognised]
([('s1', 'flair'), ('s2', 'flair')], ['notes.nii.gz'])
>>> found.missing({"s1": ("flair", "t1"), "s2": ("flair",)})
[('s1', 't1')]
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import time

import numpy as np

from magan_keras.inference.synthesis import OUTPUT_SUFFIX
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats import subjects as subject_io

PREDICTIONS_METHOD = "predictions"
NIFTI_SUFFIXES = (".nii.gz", ".nii")
_OUR_PATTERN = re.compile(
    rf"^(?P<subject>.+)_(?P<contrast>{'|'.join(BRATS_MODALITIES)})"
    rf"{re.escape(OUTPUT_SUFFIX.removesuffix('.nii.gz'))}\.nii(?:\.gz)?$"
)
_CHALLENGE_NAMING = "brats2023"


class PredictionError(ValueError):
    """Missing, misnamed, repeated or misplaced prediction files (the message names each)."""


def challenge_tag(contrast) -> str:
    """The challenge's file tag of one of our contrasts (`flair` -> `t2f`).

    Args:
        contrast: str. One of `BRATS_MODALITIES`.

    Example:
    >>> from magan_keras.evaluation.predictions import challenge_tag
    >>> [challenge_tag(c) for c in ("t1", "t1ce", "t2", "flair")]
    ['t1n', 't1c', 't2w', 't2f']
    """
    for (_, tag), role in subject_io.NAMINGS[_CHALLENGE_NAMING].items():
        if role == contrast:
            return tag
    raise ValueError(f"no challenge tag for contrast {contrast!r}")


def parse_prediction_name(filename):
    """`(subject, contrast)` of a prediction file named either way (module docstring), else None.

    Args:
        filename: a file name (no folder).

    Example:
    >>> from magan_keras.evaluation.predictions import parse_prediction_name
    >>> parse_prediction_name("BraTS2021_00001_flair_synthetic.nii"), parse_prediction_name("s1-seg.nii.gz")
    (('BraTS2021_00001', 'flair'), None)
    """
    if filename.startswith("."):
        return None
    match = _OUR_PATTERN.match(filename)
    if match is not None:
        return match["subject"], match["contrast"]
    parsed = subject_io.parse_filename(filename)
    if parsed is not None and parsed[2] == _CHALLENGE_NAMING and parsed[1] != "seg":
        return parsed[0], parsed[1]
    return None


def expected_names(subject_id, contrast) -> str:
    """The two names a prediction of `contrast` for `subject_id` may have, for messages.

    Args:
        subject_id: str.
        contrast: str.

    Example:
    >>> from magan_keras.evaluation.predictions import expected_names
    >>> expected_names("s1", "flair")
    's1_flair_synthetic.nii.gz or s1-t2f.nii.gz'
    """
    return f"{subject_id}_{contrast}{OUTPUT_SUFFIX} or {subject_id}-{challenge_tag(contrast)}.nii.gz"


@dataclasses.dataclass(frozen=True)
class PredictionFiles:
    """The prediction files of a folder.

    Attributes:
        folder: pathlib.Path searched.
        files: dict `(subject, contrast)` -> pathlib.Path.
        unrecognised: tuple of NIfTI paths named neither way.

    Example: see the module docstring.
    """

    folder: pathlib.Path
    files: dict
    unrecognised: tuple

    def missing(self, expected) -> list:
        """The `(subject, contrast)` pairs of `expected` without a file, in order.

        Args:
            expected: dict subject id -> contrasts to score.

        Example: see the module docstring.
        """
        return [(s, c) for s, contrasts in expected.items() for c in contrasts if (s, c) not in self.files]

    def contrasts(self) -> tuple:
        """The contrasts that have at least one file, in `BRATS_MODALITIES` order.

        Example:
        >>> import pathlib
        >>> from magan_keras.evaluation.predictions import PredictionFiles
        >>> PredictionFiles(pathlib.Path("p"), {("s", "flair"): None, ("s", "t1"): None}, ()).contrasts()
        ('t1', 'flair')
        """
        found = {contrast for _, contrast in self.files}
        return tuple(m for m in BRATS_MODALITIES if m in found)


def find_predictions(folder) -> PredictionFiles:
    """Walks `folder` and collects the prediction files of both namings.

    Args:
        folder: str or path-like.

    Raises:
        PredictionError: no such folder, no NIfTI file in it, or two files for one subject and
            contrast (both named).

    Example: see the module docstring.
    """
    root = pathlib.Path(os.path.expanduser(os.fspath(folder)))
    if not root.is_dir():
        raise PredictionError(f"--predictions {root}: no such folder")
    files, unrecognised = {}, []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith(".") or not filename.endswith(NIFTI_SUFFIXES):
                continue
            path = pathlib.Path(dirpath) / filename
            parsed = parse_prediction_name(filename)
            if parsed is None:
                unrecognised.append(path)
            elif parsed in files:
                raise PredictionError(
                    f"--predictions: two files for subject {parsed[0]}, contrast {parsed[1]}: "
                    f"{files[parsed]} and {path}"
                )
            else:
                files[parsed] = path
    if not files and not unrecognised:
        raise PredictionError(
            f"--predictions {root}: no NIfTI file (expected names like {expected_names('<subject>', 'flair')})"
        )
    return PredictionFiles(root, files, tuple(unrecognised))


class PredictionSource:
    """Prediction files in place of a model, for `evaluate_model(PredictionSource(...), data_dir)`.

    Args:
        folder: str or path-like. The predictions (module docstring).
        method: str. The method's name in the tables (`predictions`).

    Attributes:
        found: `PredictionFiles`.
        method: str.
        modalities: `BRATS_MODALITIES` (a BraTS truth folder's).
        preprocessing: None (no model record: the builders' defaults pick the per-slice slices).
        seconds: float. Time spent reading and normalising files.

    Example:
    >>> from magan_keras.evaluation.predictions import PredictionSource
    >>> from magan_keras.inference.synthesis import output_path
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> truth = write_fake_subject("truth/s1", "s1")
    >>> _ = output_path("pred", "s1", "flair").parent.mkdir(exist_ok=True)
    >>> _ = output_path("pred", "s1", "flair").write_bytes(truth["flair"].read_bytes())  # a perfect one
    >>> source = PredictionSource("pred")
    >>> source.check({"s1": ("flair",)})
    []
    >>> source.check({"s1": ("flair", "t2")})
    Traceback (most recent call last):
    ...
    magan_keras.evaluation.predictions.PredictionError: --predictions pred: 1 missing (subject, contrast):
    s1 t2 (pred/s1_t2_synthetic.nii.gz or pred/s1-t2w.nii.gz, ...)
    """

    def __init__(self, folder, method=PREDICTIONS_METHOD):
        from magan_keras.evaluation.baselines import METHODS  # pylint: disable=import-outside-toplevel

        if not method or method in METHODS:
            raise PredictionError(f"--name {method!r}: give a name other than the baselines' ({', '.join(METHODS)})")
        self.found = find_predictions(folder)
        self.method = method
        self.modalities = BRATS_MODALITIES
        self.preprocessing = None
        self.seconds = 0.0
        self._last = None  # ((subject, target), volume as read)

    def expected(self, data_dir, targets=(), dropped=None, max_subjects=None) -> dict:
        """The contrasts to score per truth subject: `targets`, or every contrast with a file, or the dropout's.

        Args:
            data_dir: the BraTS truth folder.
            targets: contrasts to score (empty: every contrast with at least one file).
            dropped: dict subject id -> contrast (`challenge.brasyn_dropout_for_folder`), or None.
            max_subjects: int or None. The first subjects only.

        Returns:
            dict subject id -> tuple of contrasts, in subject order.

        Raises:
            tfds_brats.subjects.NoSubjectsError: no subject in `data_dir`.

        Example:
        >>> from magan_keras.evaluation.predictions import PredictionSource
        >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
        >>> _ = write_fake_subject("truth/s1", "s1")
        >>> import pathlib; _ = pathlib.Path("p").mkdir(); _ = pathlib.Path("p/s1-t2f.nii.gz").write_bytes(b"")
        >>> PredictionSource("p").expected("truth"), PredictionSource("p").expected("truth", dropped={"s1": "t2"})
        ({'s1': ('flair',)}, {'s1': ('t2',)})
        """
        ids = [files.subject_id for files in subject_io.find_subjects(data_dir)][:max_subjects]
        targets = tuple(targets or self.found.contrasts())
        return {s: (dropped[s],) if dropped is not None else targets for s in ids}

    def check(self, expected) -> list:
        """Stops unless every expected prediction has its file; returns notes on the files left out.

        Args:
            expected: dict subject id -> contrasts to score.

        Returns:
            list of str: notes on files that will not be scored (unrecognised names, other
            subjects or contrasts), for the report.

        Raises:
            PredictionError: listing every missing (subject, contrast), with the unrecognised files.

        Example: see the class docstring.
        """
        missing = self.found.missing(expected)
        root = self.found.folder
        unrecognised = ", ".join(str(p) for p in self.found.unrecognised)
        if missing:
            listed = "; ".join(
                f"{s} {c} ({root / (s + '_' + c + OUTPUT_SUFFIX)} or {root / (s + '-' + challenge_tag(c) + '.nii.gz')}"
                ", flat or in a folder per subject)"
                for s, c in missing
            )
            extra = f"; files not named either way: {unrecognised}" if unrecognised else ""
            raise PredictionError(f"--predictions {root}: {len(missing)} missing (subject, contrast): {listed}{extra}")
        notes = []
        if unrecognised:
            notes.append(f"not scored, named neither way: {unrecognised}")
        wanted = {(s, c) for s, contrasts in expected.items() for c in contrasts}
        others = sorted(pair for pair in self.found.files if pair not in wanted)
        if others:
            notes.append(
                f"not scored, other subjects or contrasts than those evaluated: {len(others)} files "
                f"({', '.join(f'{s} {c}' for s, c in others[:10])}{', ...' if len(others) > 10 else ''})"
            )
        return notes

    def predict(self, subject, available, target) -> np.ndarray:  # pylint: disable=unused-argument
        """The prediction of `subject`'s channel `target` on the model scale ([-1, 1], -1 outside the brain).

        The per-slice protocol scores this; the BraSyn protocols score the file as written
        (`as_written`), as the challenge does.

        Args:
            subject: `SubjectData` of a BraTS folder (with its `geometry`).
            available: `[M]` 0/1 (unused: the file is what the other model made).
            target: int channel of the target in `BRATS_MODALITIES`.

        Raises:
            PredictionError: no file, a file on another grid than the truth, or a constant one.
            tfds_brats.subjects.SubjectError: an unreadable file (named).
        """
        from tfds_brats import intensity  # pylint: disable=import-outside-toplevel

        contrast = self.modalities[int(target)]
        key = (subject.subject_id, contrast)
        if key not in self.found.files:
            raise PredictionError(
                f"--predictions: no file for subject {key[0]}, contrast {key[1]} ({expected_names(*key)})"
            )
        path = self.found.files[key]
        start = time.perf_counter()
        volumes, _, geometry = subject_io.load_subject({contrast: path}, subject.subject_id, required=())
        if subject.geometry is not None:
            truth = subject.geometry
            reference = next(iter(truth.paths.values())) if truth.paths else "the truth"
            if tuple(geometry.shape) != tuple(truth.shape):
                raise PredictionError(
                    f"{path}: prediction grid {tuple(geometry.shape)} differs from its truth's "
                    f"{tuple(truth.shape)} ({reference}); resample it onto the truth's grid"
                )
            if not np.allclose(geometry.affine, truth.affine, atol=subject_io.AFFINE_TOLERANCE):
                raise PredictionError(
                    f"{path}: prediction affine differs from its truth's ({reference}): the files are not on "
                    "one voxel grid; resample it onto the truth's grid"
                )
        elif volumes[contrast].shape != subject.brain_mask.shape:
            raise PredictionError(
                f"{path}: prediction shape {volumes[contrast].shape} differs from its truth's "
                f"{subject.brain_mask.shape}"
            )
        try:
            scaled, _, _ = intensity.normalise_volume(volumes[contrast], subject.brain_mask)
        except intensity.ConstantImageError as error:
            raise PredictionError(f"{path}: constant inside the brain ({error})") from error
        self.seconds += time.perf_counter() - start
        self._last = ((subject.subject_id, int(target)), volumes[contrast])
        return scaled.astype(np.float32)

    def as_written(self, subject, target) -> np.ndarray:
        """The last `predict`ed volume as stored in its file (canonical orientation), for the BraSyn protocols.

        The challenge normalises each file as it is (`challenge.challenge_metrics`); this is that file.

        Args:
            subject: `SubjectData` given to `predict` just before.
            target: int channel given to `predict` just before.

        Raises:
            PredictionError: `predict` was not called for that subject and target.
        """
        if self._last is None or self._last[0] != (subject.subject_id, int(target)):
            raise PredictionError(f"as_written: call predict for subject {subject.subject_id} first")
        return self._last[1]

    def description(self) -> str:
        """One line for the report.

        Example:
        >>> import pathlib
        >>> from magan_keras.evaluation.predictions import PredictionFiles, PredictionSource
        >>> source = object.__new__(PredictionSource)
        >>> source.found, source.method = PredictionFiles(pathlib.Path("p"), {}, ()), "predictions"
        >>> source.description()
        'predictions: the NIfTI files in p (any model), each normalised as its truth (brain percentiles -> [-1, 1])'
        """
        return (
            f"{self.method}: the NIfTI files in {self.found.folder} (any model), each normalised as its "
            "truth (brain percentiles -> [-1, 1])"
        )
