"""`EvaluationResults` (`magan_keras.evaluation.results`): summary, markdown, all-or-nothing writes."""

import csv
import math
import os

import numpy as np
import pytest

from magan_keras import atomic
from magan_keras.evaluation import figures
from magan_keras.evaluation.results import METRICS, OUTPUT_FILES, EvaluationResults, existing_outputs


def make_results(value=0.5, subjects=("a", "b"), methods=("magan", "linear")):
    rows = []
    for k, subject in enumerate(subjects):
        for method in methods:
            row = {"subject_id": subject, "target": "flair", "method": method, "slices": 4}
            row.update({m: value + 0.1 * k for m in METRICS})
            row["brain_ssim_tumour"] = math.nan
            rows.append(row)
    image = np.full((8, 8), 0.5, np.float32)
    examples = {"flair": {"subject_id": subjects[0], "slice_index": 3, "truth": image, **{m: image for m in methods}}}
    return EvaluationResults(rows, ("flair",), tuple(methods), examples, [f"value {value}"], 0.25)


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in OUTPUT_FILES}


def test_summary_is_mean_and_population_std_and_skips_undefined_scores():
    results = make_results()
    entry = results.summary()[0]
    assert (entry["target"], entry["method"], entry["n"]) == ("flair", "magan", 2)
    assert entry["slice_ssim_mean"] == pytest.approx(0.55) and entry["slice_ssim_std"] == pytest.approx(0.05)
    assert math.isnan(entry["brain_ssim_tumour_mean"])
    assert results.metric_mean("flair", "linear", "slice_mae") == pytest.approx(0.55)
    with pytest.raises(KeyError, match="t1"):
        results.metric_mean("t1", "magan", "slice_mae")
    markdown = results.to_markdown()
    row = "| flair | magan | 2 | 0.5500 ± 0.0500 | 0.5500 ± 0.0500 | 0.5500 ± 0.0500 | – |"
    assert row in markdown and markdown.endswith("- value 0.5\n")


def test_write_gives_the_four_outputs(tmp_path):
    paths = make_results().write(tmp_path / "report")
    assert [p.name for p in paths] == list(OUTPUT_FILES)
    rows = read_csv(tmp_path / "report" / "per_subject.csv")
    assert len(rows) == 4 and rows[0]["subject_id"] == "a" and rows[0]["slice_ssim"] == "0.5"
    assert rows[0]["brain_ssim_tumour"] == "nan" and list(rows[0])[:4] == ["subject_id", "target", "method", "slices"]
    summary = read_csv(tmp_path / "report" / "summary.csv")
    assert [(r["method"], r["n"]) for r in summary] == [("magan", "2"), ("linear", "2")]
    assert (tmp_path / "report" / "results.md").read_text(encoding="utf-8").startswith("# MA-GAN evaluation\n")
    assert (tmp_path / "report" / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path / "report")) == sorted(OUTPUT_FILES)  # no temporary left


def test_write_refuses_to_replace_without_overwrite(tmp_path):
    make_results().write(tmp_path, figure=False)
    assert [p.name for p in existing_outputs(tmp_path)] == list(OUTPUT_FILES[:3])
    before = (tmp_path / "summary.csv").read_bytes()
    with pytest.raises(FileExistsError, match="per_subject.csv exists"):
        make_results(0.7).write(tmp_path, figure=False)
    assert (tmp_path / "summary.csv").read_bytes() == before
    make_results(0.7).write(tmp_path, overwrite=True, figure=False)
    assert read_csv(tmp_path / "per_subject.csv")[0]["slice_ssim"] == "0.7"


def test_a_failure_while_writing_keeps_every_previous_file(tmp_path, monkeypatch):
    make_results(0.5).write(tmp_path)
    before = snapshot(tmp_path)

    def half_written_figure(results, path):
        with open(path, "wb") as handle:  # a partial PNG, then the failure
            handle.write(b"\x89PNG")
        raise OSError("disk full")

    # The figure is written last: the CSVs and the markdown of the new results are complete by then.
    monkeypatch.setattr(figures, "evaluation_figure", half_written_figure)
    with pytest.raises(OSError, match="disk full"):
        make_results(0.9).write(tmp_path, overwrite=True)
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == sorted(OUTPUT_FILES)

    # A failure inside one file's write (the markdown, after both CSVs) keeps them all too.
    monkeypatch.undo()

    def failing_write_text(path, text):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text[:10])
        raise KeyboardInterrupt  # as a kill would stop it

    monkeypatch.setattr(atomic, "write_text", failing_write_text)
    with pytest.raises(KeyboardInterrupt):
        make_results(0.9).write(tmp_path, overwrite=True)
    assert snapshot(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == sorted(OUTPUT_FILES)
