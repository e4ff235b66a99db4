"""Input checks: are a subject's files the contrasts their names say, co-registered, skull-stripped?

Used by `python -m tfds_brats.prepare` (every subject, before anything is written),
`magan_keras.synthesize` and `magan_keras.evaluate` (each with `--no-input-checks` to go on
anyway). Every check looks at the images themselves, not only at the headers:

- Contrast identity, judged from the tissue intensity order (`pair_evidence`), one score per
  pair of named files, positive when the files look as named, negative when they look swapped:
  - `t1`/`t2`: CSF is the brightest tissue on T2 and the darkest on T1, so T2's upper tail (99th
    over 50th brain percentile) is far longer: score `log(tail(t2) / tail(t1))`.
  - `t2`/`flair`: CSF is bright on T2 and suppressed on FLAIR: the brightest 2% of T2's brain
    voxels sit low in FLAIR's ranks and FLAIR's brightest (lesions) sit high in T2's; score the
    difference of those two median ranks.
  - `t1`/`t1ce`: gadolinium brightens enhancing tumour and vessels on T1Gd that T1 lacks; score
    the asymmetry of the tails of `log(t1ce / t1)` (both smoothed, scaled to their brain median,
    over voxels bright enough in both), upper tail plus lower tail.
  A score below `-SWAP_THRESHOLDS[pair]` is an error naming both files and the evidence; a subject
  without the tissue that shows it (no CSF in a tiny test volume, no enhancement) scores near 0
  and passes.
- Co-registration: each contrast's own signal mask overlaps the others' (Dice of the mask
  against the voxels where most other contrasts have signal, `MIN_MASK_DICE`); one voxel grid
  (shape and affine) is already enforced by `tfds_brats.subjects.load_subject`.
- Skull-stripped: no dark gap enclosed by signal in the axial slices (a skull between brain and
  scalp, `MAX_ENCLOSED_GAP`) and some background around the head (`MIN_BACKGROUND`).
- Soft (warnings): voxel spacing far from the 1 mm the models were trained on
  (`SPACING_RANGE_MM`), a brain much smaller than or larger than the model's canvas
  (`CANVAS_FILL_RANGE`, only when a canvas is given), a header without a recorded orientation
  (qform and sform codes 0) or an oblique voxel grid.

Each threshold's margin on the real subjects, the phantom and the builder's dummy data is
measured by `python -m studies.input_checks` (docs/results.md, "Input checks").

Example:
>>> from tfds_brats import phantom
>>> subject = phantom.make_subject(1, tumour_probability=1.0)
>>> check_volumes(subject.volumes, subject_id="p1").errors
()
>>> swapped = dict(subject.volumes, t1=subject.volumes["t2"], t2=subject.volumes["t1"])
>>> report = check_volumes(swapped, subject_id="p1")
>>> print(report.errors[0].message)  # doctest: +ELLIPSIS
t1 and t2 look swapped: ...
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np
from scipy import ndimage

from tfds_brats.constants import TRAINED_SPACING_MM

# A pair whose score is below -threshold looks swapped (error). Margins: docs/results.md.
SWAP_THRESHOLDS = {("t1", "t2"): 0.2, ("t2", "flair"): 0.3, ("t1", "t1ce"): 0.2}
MIN_MASK_DICE = 0.93  # each contrast's signal mask against the others' consensus
MAX_ENCLOSED_GAP = 0.02  # fraction of the filled head that is dark but enclosed (a skull)
MIN_BACKGROUND = 0.05  # fraction of the volume without signal
SIGNAL_FRACTION = 0.02  # signal: above this fraction of the volume's 99th percentile
SPACING_RANGE_MM = (0.75 * TRAINED_SPACING_MM, 1.35 * TRAINED_SPACING_MM)
CANVAS_FILL_RANGE = (0.3, 1.0)  # brain extent in the axial plane over the model's canvas
MAX_OBLIQUE_DEGREES = 5.0
_TOP_FRACTION = 0.02  # the brightest voxels the t2/flair evidence compares
_MAX_SAMPLES = 400_000  # voxels sampled for ranks and percentiles


class InputCheckError(ValueError):
    """Inputs that failed a check: the message lists every failure, naming the files."""

    def __init__(self, report: CheckReport, option="--no-input-checks"):
        self.report = report
        lines = "\n".join(f"  - {finding.message}" for finding in report.errors)
        super().__init__(
            f"subject '{report.subject_id}' failed the input checks; nothing was written "
            f"({option} to go on anyway):\n{lines}"
        )


@dataclasses.dataclass(frozen=True)
class Finding:
    """One check's result.

    Attributes:
        check: str. `contrast`, `registration`, `skull`, `spacing`, `canvas`, `orientation`.
        severity: str. `ok`, `warning` or `error`.
        message: str. What was seen, naming the files.
        value: float or None. The measured score.
        threshold: float or None. The score's limit.
    """

    check: str
    severity: str
    message: str
    value: float | None = None
    threshold: float | None = None


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """All findings for one subject.

    Attributes:
        subject_id: str.
        findings: tuple of `Finding`.
    """

    subject_id: str
    findings: tuple

    @property
    def errors(self) -> tuple:
        """The findings that stop a command."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple:
        """The soft problems."""
        return tuple(f for f in self.findings if f.severity == "warning")

    def raise_for_errors(self, option="--no-input-checks") -> CheckReport:
        """Raises `InputCheckError` when any check failed; returns the report otherwise.

        Args:
            option: str. The switch named in the message.
        """
        if self.errors:
            raise InputCheckError(self, option)
        return self

    def to_json(self) -> dict:
        """JSON-friendly form."""
        return {"subject_id": self.subject_id, "findings": [dataclasses.asdict(f) for f in self.findings]}


def signal_mask(volume) -> np.ndarray:
    """Voxels with signal: above `SIGNAL_FRACTION` of the 99th percentile of the non-zero voxels.

    Small non-zero background values (interpolation residue of user-preprocessed scans) fall
    below it.

    Args:
        volume: `[X, Y, Z]` array.

    Example:
    >>> v = np.zeros((4, 4, 1)); v[1:3, 1:3] = 100.0; v[0, 0] = 0.5
    >>> int(signal_mask(v).sum())
    4
    """
    volume = np.asarray(volume, np.float32)
    nonzero = volume[volume > 0]
    if nonzero.size == 0:
        return np.zeros(volume.shape, bool)
    return volume > SIGNAL_FRACTION * float(np.percentile(_sample(nonzero), 99))


def pair_evidence(volumes: Mapping[str, np.ndarray], mask=None) -> dict:
    """The swap scores of the named pairs present (positive: as named; negative: swapped).

    Args:
        volumes: dict contrast -> `[X, Y, Z]` (canonical, one grid).
        mask: bool brain mask, or None (voxels with signal in any contrast).

    Returns:
        dict `(a, b)` -> float score, for each pair of `SWAP_THRESHOLDS` whose files are given.

    Example:
    >>> from tfds_brats import phantom
    >>> scores = pair_evidence(phantom.make_subject(1).volumes)
    >>> sorted(scores), all(score > 0 for score in scores.values())
    ([('t1', 't1ce'), ('t1', 't2'), ('t2', 'flair')], True)
    """
    if mask is None:
        mask = np.logical_or.reduce([signal_mask(v) for v in volumes.values()])
    scores = {}
    for pair in SWAP_THRESHOLDS:
        if all(name in volumes for name in pair):
            score = float(_PAIR_SCORES[pair](volumes[pair[0]], volumes[pair[1]], mask))
            scores[pair] = score if np.isfinite(score) else 0.0  # no evidence either way
    return scores


def check_volumes(
    volumes: Mapping[str, np.ndarray],
    *,
    subject_id: str = "?",
    paths: Mapping[str, os.PathLike] | None = None,
    affine=None,
    header=None,
    canvas_size: int | None = None,
) -> CheckReport:
    """Runs every check on one subject's co-registered canonical volumes.

    Args:
        volumes: dict contrast -> float `[X, Y, Z]` in canonical (RAS+) orientation, one grid.
        subject_id: str. Named in the messages.
        paths: dict contrast -> file, for the messages (default: the contrast names).
        affine: `[4, 4]` canonical voxel -> mm, or None (spacing and obliqueness not checked).
        header: the reference file's nibabel header, or None (orientation codes not checked).
        canvas_size: int. The model's canvas; None skips the field-of-view check.

    Returns:
        `CheckReport` (call `raise_for_errors()` to stop on errors).

    Example:
    >>> from tfds_brats import phantom
    >>> volumes = phantom.make_subject(2).volumes
    >>> shifted = dict(volumes, flair=np.roll(volumes["flair"], 10, axis=0))
    >>> [f.check for f in check_volumes(shifted, subject_id="p2").errors]
    ['registration']
    """
    names = {name: _name(name, paths) for name in volumes}
    masks = {name: signal_mask(v) for name, v in volumes.items()}
    union = np.logical_or.reduce(list(masks.values()))
    findings = []

    findings.extend(_contrast_findings(volumes, union, names))

    if len(masks) > 1:
        for name, mask in masks.items():
            others = [m for other, m in masks.items() if other != name]
            consensus = np.sum(others, axis=0) * 2 > len(others) if len(others) > 1 else others[0]
            dice = 2.0 * np.logical_and(mask, consensus).sum() / max(mask.sum() + consensus.sum(), 1)
            severity = "error" if dice < MIN_MASK_DICE else "ok"
            message = (
                f"{names[name]} is not co-registered with the other contrasts: its brain mask overlaps "
                f"theirs with Dice {dice:.3f} (below {MIN_MASK_DICE:g})"
                if severity == "error"
                else f"{name} mask overlap Dice {dice:.3f}"
            )
            findings.append(Finding("registration", severity, message, float(dice), MIN_MASK_DICE))

    gap, background = skull_evidence(union)
    if gap > MAX_ENCLOSED_GAP or background < MIN_BACKGROUND:
        reason = (
            f"{gap:.1%} of the head is a dark gap enclosed by signal (a skull; at most {MAX_ENCLOSED_GAP:.0%})"
            if gap > MAX_ENCLOSED_GAP
            else f"only {background:.1%} of the volume has no signal (at least {MIN_BACKGROUND:.0%})"
        )
        files = ", ".join(names.values())
        findings.append(Finding("skull", "error", f"not skull-stripped: {reason} in {files}", gap, MAX_ENCLOSED_GAP))
    else:
        findings.append(Finding("skull", "ok", f"skull-stripped (enclosed gap {gap:.2%})", gap, MAX_ENCLOSED_GAP))

    findings.extend(_geometry_findings(affine, header, union, canvas_size, names))
    return CheckReport(subject_id, tuple(findings))


def _contrast_findings(volumes, mask, names):
    """One error per swap: the transposition of two files that makes every pair look as named."""
    scores = pair_evidence(volumes, mask)
    failed = {pair: score for pair, score in scores.items() if score < -SWAP_THRESHOLDS[pair]}
    if not failed:
        return [
            Finding("contrast", "ok", f"{a}/{b} as named (score {v:+.2f})", v, -SWAP_THRESHOLDS[(a, b)])
            for (a, b), v in scores.items()
        ]
    given = list(volumes)
    explained = []
    for i, a in enumerate(given):
        for b in given[i + 1 :]:
            renamed = dict(volumes, **{a: volumes[b], b: volumes[a]})
            fixed = pair_evidence(renamed, mask)
            if all(v >= -SWAP_THRESHOLDS[p] for p, v in fixed.items()):
                explained.append((sum(fixed.values()), a, b))
    evidence = "; ".join(
        f"{_EVIDENCE[pair]}: score {v:+.2f}, below -{SWAP_THRESHOLDS[pair]:g} (as named it is positive)"
        for pair, v in failed.items()
    )
    worst = min(failed.values())
    if explained:
        _, a, b = max(explained)
        return [
            Finding(
                "contrast",
                "error",
                f"{a} and {b} look swapped: {names[a]} and {names[b]} ({evidence})",
                worst,
                -SWAP_THRESHOLDS[min(failed, key=failed.get)],
            )
        ]
    return [
        Finding(
            "contrast",
            "error",
            f"{a} and {b} do not look as named: {names[a]} and {names[b]} ({_EVIDENCE[(a, b)]}: "
            f"score {v:+.2f}, below -{SWAP_THRESHOLDS[(a, b)]:g})",
            v,
            -SWAP_THRESHOLDS[(a, b)],
        )
        for (a, b), v in failed.items()
    ]


def check_files(paths: Mapping[str, os.PathLike], subject_id=None, *, canvas_size=None) -> CheckReport:
    """Reads a subject's files (`tfds_brats.subjects.load_subject`) and runs `check_volumes`.

    Args:
        paths: dict contrast -> NIfTI path (any non-empty set).
        subject_id: str or None.
        canvas_size: int or None. See `check_volumes`.

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> files = write_fake_subject("checked", "s1")
    >>> check_files({m: files[m] for m in ("t1", "t2")}, "s1").errors
    ()
    """
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    volumes, _, geometry = subjects.load_subject(dict(paths), subject_id, required=())
    return check_volumes(
        volumes,
        subject_id=subject_id or "?",
        paths=geometry.paths,
        affine=geometry.affine,
        header=getattr(geometry.reference, "header", None),
        canvas_size=canvas_size,
    )


def skull_evidence(mask) -> tuple[float, float]:
    """`(enclosed gap fraction, background fraction)` of a signal mask.

    The gap: voxels without signal that the signal encloses in their axial slice (holes filled by
    `scipy.ndimage.binary_fill_holes`), over the filled area: a skull between brain and scalp.

    Args:
        mask: bool `[X, Y, Z]` signal mask.

    Example:
    >>> ring = np.zeros((20, 20, 1), bool); ring[2:18, 2:18] = True; ring[5:15, 5:15] = False
    >>> ring[7:13, 7:13] = True  # brain inside a dark gap inside a scalp
    >>> [round(v, 2) for v in skull_evidence(ring)]
    [0.25, 0.52]
    """
    mask = np.asarray(mask, bool)
    filled = np.zeros_like(mask)
    for k in range(mask.shape[2]):
        filled[:, :, k] = ndimage.binary_fill_holes(mask[:, :, k])
    gap = float((filled & ~mask).sum() / max(filled.sum(), 1))
    return gap, float(1.0 - mask.mean())


def _geometry_findings(affine, header, mask, canvas_size, names):
    findings = []
    if affine is not None:
        affine = np.asarray(affine, np.float64)
        spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        low, high = SPACING_RANGE_MM
        text = " x ".join(f"{s:.2f}" for s in spacing)
        if np.any(spacing < low) or np.any(spacing > high):
            findings.append(
                Finding(
                    "spacing",
                    "warning",
                    f"voxel spacing {text} mm in {next(iter(names.values()))}; the models were trained at "
                    f"{TRAINED_SPACING_MM:g} mm (resample to it for a trustworthy synthesis)",
                    float(spacing.max()),
                    high,
                )
            )
        else:
            findings.append(Finding("spacing", "ok", f"voxel spacing {text} mm", float(spacing.max()), high))
        cosines = np.abs(affine[:3, :3] / np.maximum(spacing, 1e-12)).max(axis=0)
        degrees = float(np.degrees(np.arccos(np.clip(cosines.min(), -1.0, 1.0))))
        if degrees > MAX_OBLIQUE_DEGREES:
            findings.append(
                Finding(
                    "orientation",
                    "warning",
                    f"the voxel grid of {next(iter(names.values()))} is oblique by {degrees:.0f} degrees; axial "
                    "slices are cut along the nearest axes",
                    degrees,
                    MAX_OBLIQUE_DEGREES,
                )
            )
    if header is not None and hasattr(header, "get_qform"):
        codes = (int(header["qform_code"]), int(header["sform_code"]))
        if codes == (0, 0):
            findings.append(
                Finding(
                    "orientation",
                    "warning",
                    f"{next(iter(names.values()))} records no orientation (qform and sform codes 0): left/right "
                    "and the axial axis are guessed from the voxel order",
                )
            )
    if canvas_size:
        rows = np.flatnonzero(mask.any(axis=(1, 2)))
        cols = np.flatnonzero(mask.any(axis=(0, 2)))
        extent = max(int(np.ptp(rows)) + 1 if rows.size else 0, int(np.ptp(cols)) + 1 if cols.size else 0)
        fill = extent / float(canvas_size)
        low, high = CANVAS_FILL_RANGE
        if fill < low or fill > high:
            findings.append(
                Finding(
                    "canvas",
                    "warning",
                    f"the brain spans {extent} voxels in the axial plane, {fill:.0%} of the model's {canvas_size} px "
                    f"canvas (trained on {low:.0%}-{high:.0%}): "
                    + ("it is cropped" if fill > high else "the field of view differs from the training data"),
                    fill,
                    low if fill < low else high,
                )
            )
    return findings


def _sample(values, limit=_MAX_SAMPLES):
    values = np.ravel(values)
    if values.size <= limit:
        return values
    return values[:: int(np.ceil(values.size / limit))]


def _ranks(values):
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size, np.float64)
    ranks[order] = (np.arange(values.size) + 0.5) / values.size
    return ranks


def _t1_t2_score(t1, t2, mask):
    def tail(volume):
        values = _sample(np.asarray(volume, np.float32)[mask])
        low = np.percentile(values, 50)
        return float(np.percentile(values, 99)) / max(float(low), 1e-12)

    return np.log(max(tail(t2), 1e-12) / max(tail(t1), 1e-12))


def _t2_flair_score(t2, flair, mask):
    a = _sample(np.asarray(t2, np.float32)[mask])
    b = _sample(np.asarray(flair, np.float32)[mask])
    rank_a, rank_b = _ranks(a), _ranks(b)
    top = 1.0 - _TOP_FRACTION
    csf_in_flair = np.median(rank_b[rank_a > top])  # T2's brightest (CSF) are dark on FLAIR
    lesion_in_t2 = np.median(rank_a[rank_b > top])  # FLAIR's brightest (lesions) are bright on T2
    return lesion_in_t2 - csf_in_flair


def _t1_t1ce_score(t1, t1ce, mask):
    a = ndimage.gaussian_filter(np.asarray(t1, np.float32), 1.0)
    b = ndimage.gaussian_filter(np.asarray(t1ce, np.float32), 1.0)
    a = a / max(float(np.median(a[mask])), 1e-12)
    b = b / max(float(np.median(b[mask])), 1e-12)
    selected = mask & (a > 0.6) & (b > 0.6)  # symmetric in the two files: a swap negates the score
    if selected.sum() < 100:
        return 0.0
    log_ratio = _sample(np.log(b[selected] / a[selected]))
    log_ratio = log_ratio - np.median(log_ratio)
    return float(np.percentile(log_ratio, 99.9) + np.percentile(log_ratio, 0.1))


_PAIR_SCORES = {("t1", "t2"): _t1_t2_score, ("t2", "flair"): _t2_flair_score, ("t1", "t1ce"): _t1_t1ce_score}
_EVIDENCE = {
    (
        "t1",
        "t2",
    ): "CSF makes T2's bright tail long and T1's short: log of the ratio of their 99th/50th percentile ratios",
    ("t2", "flair"): "T2's brightest voxels (CSF) should be dark on FLAIR and FLAIR's brightest bright on T2: "
    "difference of their median ranks",
    ("t1", "t1ce"): "enhancement should make T1Gd brighter than T1, never darker: tail asymmetry of log(t1ce/t1)",
}


def _name(name, paths):
    if paths and name in paths:
        return os.fspath(paths[name])
    return name
