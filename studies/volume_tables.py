"""The tables of the through-the-volume studies: each model synthesised axially and fused over three planes.

`studies.real_loso` (folds of real subjects) and `studies.through_plane` (phantom seeds) score
every run once per entry of `FUSIONS` and hand the scores here as `values`:
`{(variant, fusion, target): {run: {score: value}}}`, a run being a held-out subject or a seed.

Example:
>>> from studies.volume_tables import paired_table, score_table
>>> row = lambda v: {"brain_ssim": v, "roughness_z": 2 * v}
>>> values = {("a", "axial", "t1"): {0: row(0.5), 1: row(0.7)}, ("a", "fused", "t1"): {0: row(0.6), 1: row(0.7)}}
>>> score_table(values, ["a"], ("brain_ssim",), {("a", "axial"): [30.0, 34.0]})[2]
'| t1 | a | axial | 0.600 ± 0.141 | 32 |'
>>> paired_table(values, ["a"], ("a", "axial"), metrics=("brain_ssim", "roughness_z"))[2]
'| t1 | a, fused | +0.050 ± 0.071 | +0.100 ± 0.141 | 2 |'
"""

from __future__ import annotations

import numpy as np

from magan_keras.modalities import BRATS_MODALITIES

FUSIONS = {"axial": "axial", "fused": "axial,coronal,sagittal"}
TITLES = {
    "brain_ssim": "brain SSIM",
    "challenge_ssim_non_tumour": "challenge SSIM",
    "challenge_ssim_tumour": "challenge SSIM tumour",
    "plane_ssim_axial": "axial SSIM",
    "plane_ssim_coronal": "coronal SSIM",
    "plane_ssim_sagittal": "sagittal SSIM",
    "roughness_z": "roughness z",
    "roughness_inplane": "roughness in-plane",
}


def mean_std(values):
    """Mean and sample standard deviation (ddof 1; 0 for one value) of the finite values, and their count.

    Example:
    >>> from studies.volume_tables import mean_std
    >>> mean_std([1.0, 3.0, float("nan")])
    (2.0, 1.4142135623730951, 2)
    """
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return float("nan"), float("nan"), 0
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values)


def score_table(values, variants, scores, seconds=None) -> list:
    """Markdown lines: per target, variant and fusion, mean ± std over runs of each of `scores`.

    Args:
        values: `{(variant, fusion, target): {run: row}}` (see the module docstring).
        variants: the row order.
        scores: the columns (keys of the rows; `TITLES` names them).
        seconds: `{(variant, fusion): [seconds per run]}` or None: the synthesis time column.

    Example: see the module docstring.
    """
    lines = [
        "| target | variant | synthesis | "
        + " | ".join(TITLES.get(m, m) for m in scores)
        + (" | s per run (4 targets) |" if seconds is not None else " |"),
        "|---|---|---" + "|---" * (len(scores) + (seconds is not None)) + "|",
    ]
    for target in BRATS_MODALITIES:
        for variant in variants:
            for fusion in FUSIONS:
                runs = values.get((variant, fusion, target))
                if not runs:
                    continue
                cells = []
                for m in scores:
                    mean, std, _ = mean_std([r[m] for r in runs.values()])
                    cells.append(f"{mean:.3f} ± {std:.3f}")
                if seconds is not None:
                    timing = seconds.get((variant, fusion))
                    cells.append(f"{np.mean(timing):.0f}" if timing else "-")
                lines.append(f"| {target} | {variant} | {fusion} | " + " | ".join(cells) + " |")
    return lines


def paired_table(
    values,
    variants,
    reference,
    metrics=("brain_ssim", "plane_ssim_coronal", "plane_ssim_sagittal", "roughness_z"),
) -> list:
    """Markdown lines: each variant and fusion minus `reference` on the same run, mean ± std over runs.

    Args:
        values: `{(variant, fusion, target): {run: row}}`.
        variants: the row order.
        reference: `(variant, fusion)` every other row is read against.
        metrics: the columns.

    Example: see the module docstring.
    """
    lines = [
        "| target | variant, synthesis | " + " | ".join(TITLES.get(m, m) for m in metrics) + " | runs |",
        "|---|---" + "|---" * (len(metrics) + 1) + "|",
    ]
    for target in BRATS_MODALITIES:
        base = values.get((*reference, target), {})
        for variant in variants:
            for fusion in FUSIONS:
                if (variant, fusion) == tuple(reference):
                    continue
                runs = values.get((variant, fusion, target), {})
                shared = sorted(set(runs) & set(base))
                if not shared:
                    continue
                cells = []
                for m in metrics:
                    mean, std, _ = mean_std([runs[k][m] - base[k][m] for k in shared])
                    cells.append(f"{mean:+.3f} ± {std:.3f}")
                lines.append(f"| {target} | {variant}, {fusion} | " + " | ".join(cells) + f" | {len(shared)} |")
    return lines
