"""PSNR, MAE and SSIM per region and protocol, and their spread over subjects in summary.csv / results.md."""

import csv
import math

import numpy as np
import pytest

from magan_keras.evaluation import protocols
from magan_keras.evaluation.results import METRIC_LAYOUT, METRICS, EvaluationResults


def test_region_psnr_and_mae_equal_hand_computed_values():
    shape = (20, 20, 20)
    brain = np.zeros(shape, bool)
    brain[2:18, 2:18, 2:18] = True
    truth = np.where(brain, 0.5, 0.0)
    truth[2:18, 2:18, 2:4] = 1.0  # 5 % of all voxels at the maximum: the 99.5th percentile is 1
    seg = np.zeros(shape, np.uint8)
    seg[8:12, 8:12, 8:12] = 1
    prediction = truth + 0.1 * (seg > 0)
    scores = protocols.brasyn_metrics(prediction, truth, brain, seg)
    tumour_fraction = (seg > 0).sum() / brain.sum()
    assert scores["brain_mae_tumour"] == pytest.approx(0.1)
    assert scores["brain_mae_non_tumour"] == pytest.approx(0.0, abs=1e-12)
    assert scores["brain_mae"] == pytest.approx(0.1 * tumour_fraction)
    assert scores["brain_psnr_tumour"] == pytest.approx(20.0)  # MSE 0.01
    assert scores["brain_psnr_non_tumour"] == pytest.approx(100.0)  # the cap
    assert scores["brain_psnr"] == pytest.approx(-10 * math.log10(0.01 * tumour_fraction))
    assert scores["brain_ssim_non_tumour"] > scores["brain_ssim_tumour"]
    without = protocols.brasyn_metrics(prediction, truth, brain, None)
    assert math.isnan(without["brain_mae_tumour"]) and math.isnan(without["brain_psnr_non_tumour"])
    assert without["brain_mae"] == pytest.approx(scores["brain_mae"])


def test_summary_csv_and_results_md_hold_the_spread(tmp_path):
    values = {"s1": 0.2, "s2": 0.6, "s3": 0.7}
    rows = []
    for subject, value in values.items():
        row = {"subject_id": subject, "target": "flair", "method": "magan", "slices": 4}
        row.update({metric: value for metric in METRICS})
        rows.append(row)
    rows[0]["brain_mae_tumour"] = math.nan  # s1 has no tumour
    results = EvaluationResults(rows, ("flair",), ("magan",), {}, [])
    results.write(tmp_path, figure=False)
    with open(tmp_path / "summary.csv", newline="", encoding="utf-8") as handle:
        (summary,) = list(csv.DictReader(handle))
    expected = np.array(list(values.values()))
    assert float(summary["slice_mae_mean"]) == pytest.approx(expected.mean())
    assert float(summary["slice_mae_std"]) == pytest.approx(expected.std(), rel=1e-5)
    assert summary["slice_mae_n"] == "3" and summary["n"] == "3"
    assert (
        float(summary["brain_mae_tumour_std"]) == pytest.approx(0.05, rel=1e-5) and summary["brain_mae_tumour_n"] == "2"
    )
    markdown = (tmp_path / "results.md").read_text(encoding="utf-8")
    std = f"{expected.std():.4f}"
    line = next(x for x in markdown.splitlines() if x.startswith("| flair | magan | brain | tumour |"))
    assert line.endswith(f"| 0.6500 ± 0.0500 (2) | {expected.mean():.4f} ± {std} (3) |")
    line = next(x for x in markdown.splitlines() if x.startswith("| flair | magan | challenge | tumour |"))
    assert line.startswith("| flair | magan | challenge | tumour | – | – | ")  # the challenge reports SSIM only
    assert {layout[0] for layout in METRIC_LAYOUT.values()} == {"challenge", "brain", "slice", "orientation"}
    # Roughness is a ratio, not a PSNR, MAE or SSIM: it is in summary.csv and the wide table only.
    assert set(METRIC_LAYOUT) == set(METRICS) - {"roughness_z", "roughness_inplane"}
    assert "roughness_z_mean" in summary and "roughness_inplane_std" in summary
