"""Downstream segmentation, the BraSyn challenge's second score: does a tumour segmenter still work
when the synthesised contrast replaces the real one?

`Segmenter` runs any segmentation tool given as a command template (nnU-Net, the `brats`
package's challenge winners, a user's script) once on a subject's four real contrasts and once per
target with the synthesised contrast in place of the real one; `overlap_scores` compares each
segmentation with the ground truth. `evaluate_model(..., segmenter=...)` (and
`python -m magan_keras.evaluate --segmenter "COMMAND"`) puts the scores of both runs side by side
in the model's rows of `per_subject.csv` and `summary.csv` and in a table of `results.md`.

The command template (split like a shell line with `shlex`, run without a shell unless
`shell=True`; literal braces doubled, `{{` `}}`, as in `str.format`) takes these placeholders:

============================ ===========================================================
placeholder                  replaced by
============================ ===========================================================
`{t1}` `{t1ce}` `{t2}`       the input NIfTI files (`magan_keras.modalities` names)
`{flair}`
`{t1n}` `{t1c}` `{t2w}`      the same files under their BraTS 2023 names
`{t2f}`
`{out}`                      where the command must write the segmentation (`.nii.gz`)
`{dir}`                      the folder holding the four inputs, named as a BraTS 2023
                             subject (`<subject>-t1n.nii.gz` ...)
`{subject}`                  the subject id
============================ ===========================================================

The inputs are written into a temporary folder as float32 NIfTI on the ground truth's grid: the
canonical (RAS+) voxel order and affine of the subject's files (a prepared split has no header:
identity affine, 1 voxel = 1 mm, so HD95 is in stored voxels). Real contrasts are the scanner
volumes as read (a prepared split: its stored slices on the unit scale); the synthesised contrast
is on the unit scale that `magan_keras.synthesize` writes and a BraSyn submission is scored with
(0 outside the brain), so a segmenter must normalise each channel itself, as nnU-Net and the BraTS
algorithms do. The output must be on the same grid; its labels may follow BraTS 2018-2021
(1 necrosis / non-enhancing core, 2 edema, 4 enhancing tumour) or BraTS 2023 (enhancing 3), told
apart per file (`labels="auto"`) or stated (`"2021"`, `"2023"`).

Scores per structure: the labels necrosis (`ncr`, 1), edema (`ed`, 2) and enhancing tumour (`et`,
4 or 3, which is also the ET region), and the regions tumour core (`tc` = 1 + ET) and whole tumour
(`wt` = 1 + 2 + ET). Dice is `2 |A n B| / (|A| + |B|)`; HD95 is medpy's `hd95`, as the BraSyn
tutorial's `get_segmentation_metric.py` (hongweilibran/BraSyn_tutorial) uses it: the surface of a
mask is the voxels its 6-connected erosion removes, the distances (mm, voxel spacing from the
affine) from each surface voxel of one mask to the nearest surface voxel of the other come from a
scipy Euclidean distance transform, and HD95 is the larger of the two directional 95th
percentiles. Empty structures follow the BraTS 2023 legacy metrics (rachitsaluja/BraTS-2023-Metrics,
`Legacy_Dice` / `Legacy_HD95`): both empty, Dice 1 and HD95 0; one empty, Dice 0 and HD95
`EMPTY_HD95` = 374 mm (BraTS 2021 used 373.13, the diagonal of its 240 x 240 x 155 mm box; the
BraSyn tutorial leaves HD95 undefined there).

Example:
>>> import numpy as np
>>> from magan_keras.evaluation.segmentation import overlap_scores
>>> truth = np.zeros((12, 12, 12), np.uint8)
>>> truth[2:7, 2:7, 2:7] = 2
>>> prediction = np.roll(truth, 1, axis=0)
>>> scores = overlap_scores(prediction, truth, spacing=(2.0, 1.0, 1.0))
>>> round(scores["dice_wt"], 3), scores["hd95_wt"], scores["dice_et"], scores["hd95_et"]
(0.8, 2.0, 1.0, 0.0)
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import pathlib
import re
import shlex
import string
import subprocess
import tempfile
from collections.abc import Mapping

import numpy as np
from scipy import ndimage

from magan_keras import atomic
from magan_keras.modalities import BRATS_MODALITIES

# Structures scored, the challenge's regions first: whole tumour, tumour core, enhancing tumour,
# then the two other labels. The enhancing label (4, or 3 in BraTS 2023) is the ET region itself.
STRUCTURES = ("wt", "tc", "et", "ncr", "ed")
STRUCTURE_TITLES = {
    "wt": "whole tumour (1 + 2 + ET)",
    "tc": "tumour core (1 + ET)",
    "et": "enhancing tumour (label 4 / 2023: 3)",
    "ncr": "necrosis / non-enhancing core (label 1)",
    "ed": "edema (label 2)",
}
# The project's stored labels (`tfds_brats.constants.SEG_LABELS`): 1 necrosis, 2 edema, 4 enhancing.
_STRUCTURE_LABELS = {"wt": (1, 2, 4), "tc": (1, 4), "et": (4,), "ncr": (1,), "ed": (2,)}
SCORES = ("dice", "hd95")
RUNS = ("real", "synthetic")
# `seg_<score>_<structure>_<run>`: real and synthetic of one score side by side.
SEGMENTATION_METRICS = tuple(f"seg_{m}_{s}_{r}" for s in STRUCTURES for m in SCORES for r in RUNS)
# Enhancing-tumour label of each BraTS labelling; "auto" tells them apart per file.
LABEL_CONVENTIONS = {"2021": 4, "2023": 3}
LABEL_CHOICES = ("auto", *LABEL_CONVENTIONS)
EMPTY_HD95 = 374.0  # mm, HD95 when exactly one of the two masks is empty (BraTS 2023 legacy metrics)
HD95_PERCENTILE = 95.0
OUTPUT_PLACEHOLDER = "out"
FOLDER_PLACEHOLDER = "dir"
SUBJECT_PLACEHOLDER = "subject"


def _brats2023_tags() -> dict:
    from tfds_brats.subjects import NAMINGS  # pylint: disable=import-outside-toplevel

    return {role: tag for (_, tag), role in NAMINGS["brats2023"].items() if role != "seg"}


BRATS2023_TAGS = _brats2023_tags()  # contrast -> BraTS 2023 file tag: t1 -> t1n, ...
INPUT_PLACEHOLDERS = {**{c: c for c in BRATS_MODALITIES}, **{BRATS2023_TAGS[c]: c for c in BRATS_MODALITIES}}
PLACEHOLDERS = (*INPUT_PLACEHOLDERS, OUTPUT_PLACEHOLDER, FOLDER_PLACEHOLDER, SUBJECT_PLACEHOLDER)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_STDERR_TAIL = 300


class SegmenterError(ValueError):
    """A segmentation command that fails, or whose output cannot be scored (one line, naming the subject)."""


def dice(prediction, truth) -> float:
    """Dice of two boolean masks; 1 when both are empty (BraTS).

    Args:
        prediction: bool array.
        truth: bool array of the same shape.

    Example:
    >>> import numpy as np
    >>> a = np.zeros(10, bool); a[:4] = True
    >>> dice(a, np.roll(a, 2)), dice(a & False, a & False)
    (0.5, 1.0)
    """
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    total = int(prediction.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(prediction, truth).sum()) / total


def _surface(mask):
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=structure, iterations=1)


def surface_distances(prediction, truth, spacing) -> np.ndarray:
    """Distances (in the units of `spacing`) from each surface voxel of `prediction` to the nearest of `truth`'s.

    The surface of a mask is what its 6-connected erosion removes (a mask at the array's edge
    keeps its edge voxels), as medpy's `__surface_distances` defines it. Both masks must be
    non-empty. The distance transform runs on the masks' joint bounding box padded by one voxel,
    which gives the same distances as the whole volume.

    Args:
        prediction: bool `[X, Y, Z]` (or any rank), non-empty.
        truth: bool array of the same shape, non-empty.
        spacing: voxel size per axis (mm).

    Example:
    >>> import numpy as np
    >>> a = np.zeros((5, 5, 9), bool); a[2, 2, 1] = True
    >>> b = np.zeros((5, 5, 9), bool); b[2, 2, 7] = True
    >>> surface_distances(a, b, (1.0, 1.0, 0.5)).tolist()
    [3.0]
    """
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    both = np.argwhere(prediction | truth)
    low = np.maximum(both.min(axis=0) - 1, 0)
    high = np.minimum(both.max(axis=0) + 2, prediction.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high))
    prediction, truth = prediction[box], truth[box]
    distance = ndimage.distance_transform_edt(~_surface(truth), sampling=tuple(float(s) for s in spacing))
    return distance[_surface(prediction)]


def hd95(prediction, truth, spacing=None) -> float:
    """The 95th-percentile Hausdorff distance of two masks (medpy's `hd95`), with the BraTS empty rules.

    The larger of the two directional 95th percentiles of `surface_distances`. Both empty: 0;
    exactly one empty: `EMPTY_HD95`.

    Args:
        prediction: bool array.
        truth: bool array of the same shape.
        spacing: voxel size per axis (mm); None: 1 per axis.

    Example:
    >>> import numpy as np
    >>> a = np.zeros((4, 6, 6), bool); a[1, 1:5, 1:5] = True
    >>> hd95(a, np.roll(a, 2, axis=0), spacing=(2.5, 1.0, 1.0)), hd95(a, a & False)
    (5.0, 374.0)
    """
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    if prediction.shape != truth.shape:
        raise ValueError(f"hd95: shapes differ, {prediction.shape} vs {truth.shape}")
    spacing = (1.0,) * prediction.ndim if spacing is None else tuple(spacing)
    empty = (not prediction.any(), not truth.any())
    if all(empty):
        return 0.0
    if any(empty):
        return EMPTY_HD95
    forward = np.percentile(surface_distances(prediction, truth, spacing), HD95_PERCENTILE)
    backward = np.percentile(surface_distances(truth, prediction, spacing), HD95_PERCENTILE)
    return float(max(forward, backward))


def structure_masks(seg) -> dict:
    """Boolean masks of `STRUCTURES` from a segmentation with the stored labels (1, 2, 4).

    Args:
        seg: int array, labels 0 / 1 / 2 / 4 (`to_stored_labels` converts a segmenter's).

    Example:
    >>> import numpy as np
    >>> masks = structure_masks(np.array([0, 1, 2, 4]))
    >>> masks["wt"].tolist(), masks["tc"].tolist(), masks["et"].tolist()
    ([False, True, True, True], [False, True, False, True], [False, False, False, True])
    """
    seg = np.asarray(seg)
    if seg.dtype != np.uint8:
        return {name: np.isin(seg, labels) for name, labels in _STRUCTURE_LABELS.items()}
    masks = {}
    for name, labels in _STRUCTURE_LABELS.items():  # a lookup table: 10x faster than np.isin on a volume
        table = np.zeros(256, bool)
        table[list(labels)] = True
        masks[name] = table[seg]
    return masks


def overlap_scores(prediction, truth, spacing=None) -> dict:
    """Dice and HD95 of every structure: `{"dice_wt": ..., "hd95_wt": ..., ...}`.

    Args:
        prediction: int `[X, Y, Z]` segmentation, stored labels (1, 2, 4).
        truth: int array of the same shape, stored labels.
        spacing: voxel size per axis (mm); None: 1.

    Example: see the module docstring.
    """
    predicted, true = structure_masks(prediction), structure_masks(truth)
    scores = {}
    for name in STRUCTURES:
        scores[f"dice_{name}"] = dice(predicted[name], true[name])
        scores[f"hd95_{name}"] = hd95(predicted[name], true[name], spacing)
    return scores


def to_stored_labels(seg, labels="auto", where="segmentation") -> tuple:
    """A segmenter's labels -> the stored ones (1, 2, 4), with the labelling it used.

    Args:
        seg: array of integer labels.
        labels: "auto" (enhancing 4 -> BraTS 2021, 3 -> BraTS 2023; neither: either, no
            enhancing tumour), "2021" or "2023".
        where: str naming the file in errors.

    Returns:
        `(uint8 seg with labels 0/1/2/4, "2021" | "2023" | "either")`.

    Raises:
        SegmenterError: non-integer labels, labels outside the labelling, or both 3 and 4.

    Example:
    >>> import numpy as np
    >>> seg, found = to_stored_labels(np.array([0, 1, 2, 3]))
    >>> seg.tolist(), found
    ([0, 1, 2, 4], '2023')
    >>> to_stored_labels(np.array([0, 3]), "2021")
    Traceback (most recent call last):
    ...
    magan_keras.evaluation.segmentation.SegmenterError: segmentation: labels [3] are not BraTS 2021 labels (0, 1, 2, 4)
    """
    if labels not in LABEL_CHOICES:
        raise ValueError(f"labels must be one of {LABEL_CHOICES}, got {labels!r}")
    seg = np.asarray(seg)
    if not np.all(np.isfinite(seg)) or not np.array_equal(seg, np.round(seg)):
        raise SegmenterError(f"{where}: non-integer labels")
    present = {int(v) for v in np.unique(seg)}
    if labels == "auto":
        if {3, 4} <= present:
            raise SegmenterError(f"{where}: both 3 and 4 occur; pass the labelling (2021 or 2023)")
        labels = "2023" if 3 in present else "2021" if 4 in present else "either"
    allowed = {0, 1, 2, LABEL_CONVENTIONS.get(labels, 4)}
    bad = sorted(present - allowed)
    if bad:
        known = ", ".join(str(v) for v in sorted(allowed))
        raise SegmenterError(f"{where}: labels {bad} are not BraTS {labels} labels ({known})")
    stored = seg.astype(np.uint8)
    stored[stored == 3] = 4
    return stored, labels


def voxel_spacing(affine) -> tuple:
    """Voxel size per array axis (mm) from a NIfTI affine.

    Example:
    >>> import numpy as np
    >>> voxel_spacing(np.diag([-1.0, 2.0, 3.0, 1.0]))
    (1.0, 2.0, 3.0)
    """
    affine = np.asarray(affine, np.float64)
    return tuple(float(v) for v in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))


def _tail(text):
    text = " | ".join(line.strip() for line in (text or "").strip().splitlines() if line.strip())
    return ("..." + text[-_STDERR_TAIL:]) if len(text) > _STDERR_TAIL else (text or "no output on stderr")


@dataclasses.dataclass
class Segmenter:
    """A segmentation command run on NIfTI inputs (see the module docstring for the placeholders).

    Attributes:
        command: str. The command template, e.g. `"python seg.py {t1} {t1ce} {t2} {flair} {out}"`.
            It must contain `{out}` and at least one input placeholder or `{dir}`.
        labels: "auto", "2021" or "2023": the labelling of the command's output.
        shell: bool. Run the command through the shell (`/bin/sh -c`, placeholders quoted);
            default: split with `shlex` and run directly.
        timeout: float or None. Seconds one run may take.
        found_labels: Counter of the labellings seen in the outputs (for the report).

    Raises:
        ValueError: an unknown or missing placeholder, a bad template or option.

    Example:
    >>> import sys
    >>> from magan_keras.evaluation.segmentation import Segmenter
    >>> Segmenter(f"{sys.executable} seg.py {{t1n}} {{t1c}} {{t2w}} {{t2f}} {{out}}").inputs
    ('t1', 't1ce', 't2', 'flair')
    >>> Segmenter("seg {flair} {mask}")
    Traceback (most recent call last):
    ...
    ValueError: --segmenter: unknown placeholder {mask}; use {t1}, {t1ce}, ..., {out}, {dir}, {subject}
    """

    command: str
    labels: str = "auto"
    shell: bool = False
    timeout: float | None = None
    found_labels: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def __post_init__(self):
        if self.labels not in LABEL_CHOICES:
            raise ValueError(f"--segmenter-labels must be one of {', '.join(LABEL_CHOICES)}, got {self.labels!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"--segmenter-timeout must be > 0 seconds, got {self.timeout}")
        try:
            fields = [f for _, f, spec, conv in string.Formatter().parse(self.command) if f is not None]
            tokens = shlex.split(self.command)
        except ValueError as error:
            raise ValueError(f"--segmenter: cannot parse {self.command!r} ({error})") from error
        for name in fields:
            if name not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise ValueError(f"--segmenter: unknown placeholder {{{name}}}; use {known}")
        if not tokens:
            raise ValueError("--segmenter: the command is empty")
        if OUTPUT_PLACEHOLDER not in fields:
            raise ValueError("--segmenter: the command must contain {out}, where it writes the segmentation")
        if FOLDER_PLACEHOLDER not in fields and not any(f in INPUT_PLACEHOLDERS for f in fields):
            raise ValueError("--segmenter: the command names no input ({t1} ... {flair}, {t1n} ... {t2f} or {dir})")
        self._fields = tuple(fields)

    @property
    def inputs(self) -> tuple:
        """The contrasts the template names (all four when it names `{dir}`), in BraTS order."""
        if FOLDER_PLACEHOLDER in self._fields:
            return BRATS_MODALITIES
        named = {INPUT_PLACEHOLDERS[f] for f in self._fields if f in INPUT_PLACEHOLDERS}
        return tuple(c for c in BRATS_MODALITIES if c in named)

    def describe(self) -> str:
        """One line for the report: the command and the labellings its outputs used.

        Example:
        >>> from magan_keras.evaluation.segmentation import Segmenter
        >>> Segmenter("seg {dir} {out}", labels="2023").describe()
        'segmenter: `seg {dir} {out}` (labels stated: BraTS 2023)'
        """
        if self.labels != "auto":
            found = f"labels stated: BraTS {self.labels}"
        else:
            seen = ", ".join(f"{k} x{v}" for k, v in sorted(self.found_labels.items())) or "none yet"
            found = f"labels detected per output: {seen}"
        return f"segmenter: `{self.command}` ({found})"

    def arguments(self, values: Mapping[str, str]):
        """The command with its placeholders filled: a list of str, or one str with `shell`.

        Args:
            values: placeholder -> text (paths, the subject id).

        Example:
        >>> from magan_keras.evaluation.segmentation import Segmenter
        >>> Segmenter("seg --in '{flair}' -o {out}").arguments({"flair": "a b.nii.gz", "out": "o.nii.gz"})
        ['seg', '--in', 'a b.nii.gz', '-o', 'o.nii.gz']
        """
        if self.shell:
            return self.command.format(**{k: shlex.quote(str(v)) for k, v in values.items()})
        return [token.format(**values) for token in shlex.split(self.command)]

    def segment(self, subject_id, volumes: Mapping[str, np.ndarray], affine=None, *, run="real") -> np.ndarray:
        """Writes `volumes` as NIfTI into a temporary folder, runs the command, reads its segmentation.

        Args:
            subject_id: str. Named in errors and given as `{subject}`.
            volumes: contrast -> float `[X, Y, Z]` canonical volumes (at least `inputs`).
            affine: `[4, 4]` canonical affine of the grid, or None (identity).
            run: str. Which inputs these are ("real", "synthetic flair"), for errors.

        Returns:
            uint8 `[X, Y, Z]` with the stored labels (0, 1, 2, 4).

        Raises:
            SegmenterError: the command fails, times out or is not found, or its output is
                missing, unreadable, on another grid or has other labels.

        Example (a one-line thresholding script as the segmenter):
        >>> import sys
        >>> import numpy as np
        >>> from magan_keras.evaluation.segmentation import Segmenter
        >>> script = ("import sys, nibabel as nib, numpy as np; f = nib.load(sys.argv[1]); "
        ...           "nib.save(nib.Nifti1Image((f.get_fdata() > 0.5).astype(np.uint8) * 2, f.affine), sys.argv[2])")
        >>> segmenter = Segmenter(f"{sys.executable} -c '{script}' {{flair}} {{out}}")
        >>> ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(4, 4, 4)
        >>> seg = segmenter.segment("case0", {c: ramp for c in ("t1", "t1ce", "t2", "flair")})
        >>> int((seg == 2).sum()), segmenter.found_labels["either"]
        (32, 1)
        """
        import nibabel as nib  # pylint: disable=import-outside-toplevel

        from tfds_brats.subjects import AFFINE_TOLERANCE  # pylint: disable=import-outside-toplevel

        missing = [c for c in self.inputs if c not in volumes]
        if missing:
            raise ValueError(f"subject {subject_id}: no volume for the segmenter's inputs {missing}")
        shape = np.shape(volumes[self.inputs[0]])
        affine = np.eye(4) if affine is None else np.asarray(affine, np.float64)
        name = subject_id if _SAFE_NAME.match(str(subject_id)) else "subject"
        where = f"subject {subject_id} ({run} inputs)"
        with tempfile.TemporaryDirectory(prefix="magan_segmenter_") as scratch:
            folder = pathlib.Path(scratch) / "inputs" / name
            output = pathlib.Path(scratch) / "output" / f"{name}-seg.nii.gz"
            output.parent.mkdir(parents=True)
            values = {FOLDER_PLACEHOLDER: os.fspath(folder), OUTPUT_PLACEHOLDER: os.fspath(output)}
            values[SUBJECT_PLACEHOLDER] = str(subject_id)
            for contrast in BRATS_MODALITIES:
                if contrast not in volumes:
                    continue
                path = folder / f"{name}-{BRATS2023_TAGS[contrast]}.nii.gz"
                image = nib.Nifti1Image(np.ascontiguousarray(volumes[contrast], np.float32), affine)
                with atomic.replacing(path) as temporary:
                    nib.save(image, os.fspath(temporary))
                values[contrast] = values[BRATS2023_TAGS[contrast]] = os.fspath(path)
            arguments = self.arguments(values)
            try:
                result = subprocess.run(
                    arguments, shell=self.shell, capture_output=True, text=True, timeout=self.timeout, check=False
                )
            except FileNotFoundError as error:
                raise SegmenterError(f"--segmenter on {where}: command not found ({error})") from error
            except subprocess.TimeoutExpired as error:
                raise SegmenterError(f"--segmenter on {where}: no result after {self.timeout:g} s") from error
            if result.returncode != 0:
                raise SegmenterError(
                    f"--segmenter on {where} exited with status {result.returncode}: {_tail(result.stderr)}"
                )
            if not output.is_file():
                raise SegmenterError(
                    f"--segmenter on {where} wrote no segmentation to {{out}} ({output.name}): {_tail(result.stderr)}"
                )
            try:
                image = nib.as_closest_canonical(nib.load(os.fspath(output)))
                data = np.asanyarray(image.dataobj)
            except Exception as error:  # nibabel raises many types for bad files
                raise SegmenterError(f"--segmenter on {where}: cannot read its output ({error})") from error
        if data.ndim > 3 and all(n == 1 for n in data.shape[3:]):
            data = data.reshape(data.shape[:3])
        if data.shape != tuple(shape):
            raise SegmenterError(f"--segmenter on {where}: output shape {data.shape} is not the inputs' {tuple(shape)}")
        if not np.allclose(image.affine, affine, atol=AFFINE_TOLERANCE):
            raise SegmenterError(f"--segmenter on {where}: the output's affine is not the inputs' (another grid)")
        stored, found = to_stored_labels(data, self.labels, f"--segmenter output on {where}")
        self.found_labels[found] += 1
        return stored

    def scores(self, subject, replace: Mapping[str, np.ndarray] | None = None) -> dict:
        """Segments one `SubjectData` and scores it against its ground truth (`overlap_scores`).

        Args:
            subject: `magan_keras.evaluation.subjects.SubjectData` with `seg`, contrasts in
                BraTS order (`BRATS_MODALITIES`).
            replace: contrast -> model-scale `[X, Y, Z]` synthesis put in place of the real one
                (on the unit scale, 0 outside the brain), or None for the real contrasts.

        Returns:
            dict `dice_<structure>` / `hd95_<structure>` -> float.

        Raises:
            ValueError: the subject has no ground-truth segmentation.
            SegmenterError: see `segment`.

        Example (the script of `segment`'s example; the truth is its own output on the real FLAIR):
        >>> import sys
        >>> import numpy as np
        >>> from magan_keras.evaluation.segmentation import Segmenter
        >>> from magan_keras.evaluation.subjects import SubjectData
        >>> script = ("import sys, nibabel as nib, numpy as np; f = nib.load(sys.argv[1]); "
        ...           "nib.save(nib.Nifti1Image((f.get_fdata() > 0.5).astype(np.uint8) * 2, f.affine), sys.argv[2])")
        >>> segmenter = Segmenter(f"{sys.executable} -c '{script}' {{flair}} {{out}}")
        >>> ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(4, 4, 4)
        >>> images = np.stack([2 * ramp - 1] * 4, axis=-1)  # model scale
        >>> truth = np.where(ramp > 0.5, 2, 0).astype(np.uint8)
        >>> subject = SubjectData("case0", images, np.ones(ramp.shape, bool), truth, None, np.arange(4), True)
        >>> segmenter.scores(subject)["dice_wt"], segmenter.scores(subject, {"flair": -images[..., 3]})["dice_wt"]
        (1.0, 0.0)
        """
        from magan_keras.inference.generator import to_unit_scale  # pylint: disable=import-outside-toplevel

        if subject.seg is None:
            raise ValueError(f"--segmenter needs ground-truth segmentations; subject {subject.subject_id} has none")
        volumes = {}
        for index, contrast in enumerate(BRATS_MODALITIES):
            if replace and contrast in replace:
                volumes[contrast] = to_unit_scale(replace[contrast], subject.brain_mask)
            elif subject.scanner is not None:
                volumes[contrast] = subject.scanner[contrast]
            else:
                volumes[contrast] = to_unit_scale(subject.images[..., index], subject.brain_mask)
        run = "real" if not replace else "synthetic " + ", ".join(replace)
        geometry = getattr(subject, "geometry", None)  # a BraTS folder's truth grid; None for a prepared split
        affine = geometry.affine if geometry is not None else None
        seg = self.segment(subject.subject_id, volumes, affine, run=run)
        spacing = voxel_spacing(affine) if affine is not None else None
        return overlap_scores(seg, subject.seg, spacing)


def row_columns(real: Mapping[str, float], synthetic: Mapping[str, float]) -> dict:
    """The `SEGMENTATION_METRICS` columns of one row from the scores of both runs.

    Args:
        real: `Segmenter.scores` on the real contrasts.
        synthetic: `Segmenter.scores` with the synthesis in place of the target.

    Example:
    >>> from magan_keras.evaluation.segmentation import SEGMENTATION_METRICS, row_columns
    >>> scores = {f"{m}_{s}": 1.0 for m in ("dice", "hd95") for s in ("wt", "tc", "et", "ncr", "ed")}
    >>> columns = row_columns(scores, {**scores, "dice_wt": 0.5})
    >>> list(columns)[:2], columns["seg_dice_wt_synthetic"], len(columns) == len(SEGMENTATION_METRICS)
    (['seg_dice_wt_real', 'seg_dice_wt_synthetic'], 0.5, True)
    """
    runs = {"real": real, "synthetic": synthetic}
    return {f"seg_{m}_{s}_{r}": float(runs[r][f"{m}_{s}"]) for s in STRUCTURES for m in SCORES for r in RUNS}


def has_segmentation(rows) -> bool:
    """Whether any row carries segmentation scores.

    Example:
    >>> has_segmentation([{"seg_dice_wt_real": 1.0}]), has_segmentation([{"slice_ssim": 0.5}])
    (True, False)
    """
    return any(SEGMENTATION_METRICS[0] in row for row in rows)


def markdown_table(summary) -> str:
    """The segmentation section of `results.md`: Dice and HD95, real vs synthetic, per target and structure.

    Args:
        summary: `EvaluationResults.summary()` entries with `seg_*_mean` / `seg_*_std`.

    Example:
    >>> import math
    >>> from magan_keras.evaluation.segmentation import SEGMENTATION_METRICS, markdown_table
    >>> entry = {"target": "flair", "method": "magan", "n": 2,
    ...          **{f"{c}_{k}": 0.5 for c in SEGMENTATION_METRICS for k in ("mean", "std")}}
    >>> markdown_table([entry, {"target": "flair", "method": "linear", "n": 2}]).splitlines()[4]
    '| flair | magan | 2 | whole tumour (1 + 2 + ET) | 0.5000 ± 0.5000 | 0.5000 ± 0.5000 | 0.50 ± 0.50 | 0.50 ± 0.50 |'
    """
    lines = [
        "## Downstream segmentation (real vs synthetic inputs)",
        "",
        "| target | method | n | structure | Dice real | Dice synthetic | HD95 real (mm) | HD95 synthetic (mm) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in summary:
        means = [entry.get(f"{c}_mean", math.nan) for c in SEGMENTATION_METRICS]
        if not np.any(np.isfinite(means)):  # a method the segmenter was not run on
            continue
        for structure in STRUCTURES:
            cells = [entry["target"], entry["method"], str(entry["n"]), STRUCTURE_TITLES[structure]]
            for score, digits in (("dice", 4), ("hd95", 2)):
                for run in RUNS:
                    mean = entry.get(f"seg_{score}_{structure}_{run}_mean", math.nan)
                    std = entry.get(f"seg_{score}_{structure}_{run}_std", math.nan)
                    cells.append("–" if not np.isfinite(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


FIGURE_FILE = "segmentation.png"


def segmentation_figure(summary, path) -> pathlib.Path:
    """`segmentation.png`: Dice and HD95 per structure, real vs synthetic inputs, one column per target.

    Bars are the mean over subjects, whiskers the standard deviation (`EvaluationResults.summary`).

    Args:
        summary: `EvaluationResults.summary()` entries with `seg_*_mean` / `seg_*_std`.
        path: the PNG to write (`magan_keras.atomic.save_figure`).

    Example:
    >>> from magan_keras.evaluation.segmentation import SEGMENTATION_METRICS, segmentation_figure
    >>> entry = {"target": "flair", "method": "magan", "n": 2,
    ...          **{f"{c}_{k}": 0.5 for c in SEGMENTATION_METRICS for k in ("mean", "std")}}
    >>> segmentation_figure([entry], "segmentation.png").name
    'segmentation.png'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    entries = [e for e in summary if np.any(np.isfinite([e.get(f"{c}_mean", math.nan) for c in SEGMENTATION_METRICS]))]
    if not entries:
        raise ValueError("no segmentation scores to draw")
    figure = Figure(figsize=(3.2 * len(entries) + 0.8, 5.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(entries), squeeze=False)
    x = np.arange(len(STRUCTURES))
    for column, entry in enumerate(entries):
        for row, (score, label) in enumerate((("dice", "Dice"), ("hd95", "HD95 (mm)"))):
            axis = axes[row, column]
            for offset, run, colour in ((-0.2, "real", "0.6"), (0.2, "synthetic", "tab:blue")):
                means = [entry.get(f"seg_{score}_{s}_{run}_mean", math.nan) for s in STRUCTURES]
                stds = [entry.get(f"seg_{score}_{s}_{run}_std", math.nan) for s in STRUCTURES]
                axis.bar(x + offset, means, 0.4, yerr=stds, color=colour, label=f"{run} inputs", capsize=2)
            axis.set_xticks(x, [s.upper() for s in STRUCTURES], fontsize=8)
            axis.set_ylabel(label, fontsize=8)
            tops = [entry.get(f"seg_{score}_{s}_{r}_mean", math.nan) for s in STRUCTURES for r in RUNS]
            axis.set_ylim(0, 1.05 if score == "dice" else max(1.0, 1.15 * np.nanmax([0.0, *tops])))
            if score == "dice":
                axis.set_title(f"target {entry['target']} ({entry['method']}, n={entry['n']})", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    figure.suptitle("Downstream segmentation: real vs synthetic inputs", fontsize=10)
    return atomic.save_figure(figure, path)


NOTE = (
    "downstream segmentation (model rows only): the segmenter run on the four real contrasts and "
    "with the synthesis (unit scale, 0 outside the brain) in place of the target, inputs written on "
    "the truth's grid; Dice and HD95 (medpy's hd95: surface distances in mm, larger directional "
    "95th percentile) per structure against the ground truth; both empty: Dice 1, HD95 0; one empty: "
    f"Dice 0, HD95 {EMPTY_HD95:g} mm (BraTS 2023 legacy metrics)"
)
