"""`studies.input_checks` (margins table) and `studies.uncertainty` (scores, threshold) on tiny data."""

import numpy as np

from studies import input_checks, uncertainty
from tfds_brats import phantom


def test_margins_table_counts_caught_variants_and_false_alarms():
    made = phantom.make_subject(1, shape=(48, 48, 16), tumour_probability=1.0)
    rows = input_checks.measure_subject("p1", "phantom", made.volumes, made.brain_mask)
    named = next(r for r in rows if r["variant"] == "as named")
    assert named["errors"] == "" and named["t1/t2"] > 0
    swapped = next(r for r in rows if r["variant"] == "t1<->t2 swapped")
    assert abs(swapped["t1/t2"] + named["t1/t2"]) < 1e-9 and "contrast" in swapped["errors"]
    lines = input_checks.margins_table(rows)
    assert any(line.startswith("| dice |") and "1/1" in line for line in lines)
    assert lines[-1] == "False alarms as named: 0 of 1 subjects."


def test_score_case_and_flag_threshold():
    brain = np.ones((8, 8, 2), bool)
    truth = np.zeros((8, 8, 2))
    rows = []
    for i, level in enumerate((0.01, 0.05, 0.2)):
        synthesis = truth + level * np.linspace(0, 1, truth.size).reshape(truth.shape)
        spread = level * np.linspace(0, 1, truth.size).reshape(truth.shape)
        rows.append(uncertainty.score_case("phantom", f"s{i}", "flair", synthesis, truth, spread, brain, None))
    assert all(abs(r["rho_brain"] - 1.0) < 1e-9 for r in rows)
    flag = uncertainty.flag_threshold(rows, worst=0.34)
    assert flag["worst_cases"] == ["s2/flair"] and flag["flagged_others"] == 0
    assert abs(flag["threshold"] - rows[2]["uncertainty_brain"]) < 1e-12


def test_agreement_of_a_strided_map_with_the_exact_one():
    brain = np.zeros((8, 8, 3), bool)
    brain[2:6, 2:6] = True
    exact = np.linspace(0.0, 0.2, brain.size).reshape(brain.shape)
    same = uncertainty.agreement(uncertainty.brain_values(exact, brain), uncertainty.brain_values(exact, brain))
    assert same == {"pearson_r": 1.0, "mean_abs_difference": 0.0, "relative_difference": 0.0}
    noisy = exact + np.random.default_rng(0).normal(0.0, 0.05, exact.shape)
    worse = uncertainty.agreement(uncertainty.brain_values(exact, brain), uncertainty.brain_values(noisy, brain))
    assert worse["pearson_r"] < 0.9 and worse["relative_difference"] > 0.2
    rows = [{"source": "real", "stride": 3, "subject": "a", "target": "t1"} | worse]
    summary = uncertainty.summarise_agreement(rows, 1)
    assert summary["real, stride 3 vs 1"]["pearson_r_median"] == worse["pearson_r"]
    assert uncertainty.agreement_markdown(summary)[2].startswith("| real, stride 3 vs 1 | 1 |")


def test_stride_figure_is_written(tmp_path):
    brain = np.ones((6, 6, 5), bool)
    exact = np.random.default_rng(1).uniform(0, 0.1, brain.shape)
    path = uncertainty.stride_figure({1: (exact, brain), 3: (exact * 0.9, brain)}, tmp_path / "f.png", "s / t1")
    assert path.read_bytes().startswith(b"\x89PNG")
