"""`python -m magan_keras.evaluate` (`magan_keras.cli.evaluate`): options, outputs, errors."""

import csv
import runpy
import subprocess
import sys

import numpy as np
import pytest

from magan_keras.cli import evaluate
from magan_keras.evaluation.baselines import DEFAULT_MAX_EXAMPLES
from magan_keras.evaluation.results import METRICS
from tfds_brats.brats.make_dummy_data import write_fake_subject

SIZE = 16


def read_csv(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_entry_point_runs_the_console_scripts_main(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["magan_keras.evaluate", "--help"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("magan_keras.evaluate", run_name="__main__")
    assert exited.value.code == 0
    assert capsys.readouterr().out == evaluate.build_parser().format_help()


def test_defaults_and_target_parsing():
    args = evaluate.build_parser().parse_args(["--model", "m.keras", "--dataset", "d", "--out-dir", "o"])
    assert args.baseline_max_slices == DEFAULT_MAX_EXAMPLES and args.canvas_size is None
    assert (args.split, args.baseline_split, args.batch_size) == ("test", "train", 8)
    known = ("t1", "t1ce", "t2", "flair")
    assert evaluate.parse_targets(["flair,T2", " t1 ,", "flair"], known) == ("flair", "t2", "t1")
    assert evaluate.parse_targets([], known) == ()
    with pytest.raises(evaluate.InputError, match="--target: unknown contrast 'pd'"):
        evaluate.parse_targets(["t1,pd"], known)


def test_command_line_on_a_brats_folder(model_path, tmp_path, capsys):
    for i, naming in enumerate(("brats2018-2021", "brats2023")):
        write_fake_subject(
            tmp_path / "brats" / f"case{i}",
            f"case{i}",
            naming=naming,
            axcodes=("L", "P", "S"),
            seed=i,
            shape=(20, 20, 10),
        )
    write_fake_subject(tmp_path / "train" / "case9", "case9", seed=9, shape=(20, 20, 10))
    out = tmp_path / "report"
    argv = [
        "--model",
        model_path,
        "--data-dir",
        tmp_path / "brats",
        "--baseline-data-dir",
        tmp_path / "train",
        "--out-dir",
        out,
        "--canvas-size",
        24,
        "--quiet",
        "--target",
        "flair,t2",
    ]
    assert evaluate.main([str(a) for a in argv]) == 0, capsys.readouterr().err
    rows = read_csv(out / "per_subject.csv")
    assert len(rows) == 2 * 2 * 3
    assert {r["method"] for r in rows} == {"magan", "best_single", "linear"}
    for row in rows:
        for name in METRICS:
            assert np.isfinite(float(row[name])), (row, name)
    summary = read_csv(out / "summary.csv")
    assert len(summary) == 2 * 3 and summary[0]["n"] == "2"
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "| flair | best_single | 2 |" in markdown and str(tmp_path / "train") in markdown
    assert "canvas 24 px (given)" in markdown
    assert (out / "evaluation.png").stat().st_size > 5000
    printed = capsys.readouterr().out
    assert "| flair | magan | 2 |" in printed and f"wrote {out / 'evaluation.png'}" in printed
    before = (out / "summary.csv").read_bytes()
    assert evaluate.main([str(a) for a in argv]) == 2  # refuses to overwrite
    assert "per_subject.csv exists" in capsys.readouterr().err
    assert (out / "summary.csv").read_bytes() == before


def test_command_line_on_a_prepared_phantom_split(model_path, tmp_path, capsys):
    from tfds_brats.prepare import prepare

    builder = prepare(phantom=True, image_size=SIZE, num_subjects=4, data_dir=tmp_path / "tfds")
    out = tmp_path / "report"
    argv = [
        "--model",
        model_path,
        "--dataset",
        builder.data_dir,
        "--split",
        "test",
        "--out-dir",
        out,
        "--quiet",
        "--baseline-max-slices",
        7,
    ]
    code = evaluate.main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = read_csv(out / "per_subject.csv")
    assert {r["method"] for r in rows} == {"magan", "best_single", "linear"}
    assert all(np.isfinite(float(r["slice_psnr"])) for r in rows)
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "split 'train' (at most 7 slices)" in markdown
    # --overwrite replaces the outputs.
    assert evaluate.main([str(a) for a in argv] + ["--overwrite", "--target", "t1"]) == 0
    assert {r["target"] for r in read_csv(out / "per_subject.csv")} == {"t1"}


def test_command_line_errors(model_path, tmp_path, capsys):
    out = str(tmp_path / "o")
    code = evaluate.main(
        [
            "--model",
            str(model_path),
            "--dataset",
            "brats_phantom/slices_32",
            "--tfds-data-dir",
            str(tmp_path / "empty"),
            "--out-dir",
            out,
        ]
    )
    assert code == 2 and "tfds_brats.prepare" in capsys.readouterr().err
    code = evaluate.main(["--model", str(model_path), "--dataset", "brats_phantom/no_such_config", "--out-dir", out])
    assert code == 2 and "no_such_config" in capsys.readouterr().err
    code = evaluate.main(
        ["--model", str(model_path), "--data-dir", str(tmp_path / "none"), "--out-dir", out, "--no-baselines"]
    )
    assert code == 2 and str(tmp_path / "none") in capsys.readouterr().err
    code = evaluate.main(["--model", str(tmp_path / "nope.keras"), "--data-dir", "x", "--out-dir", out])
    assert code == 2 and "nope.keras does not exist" in capsys.readouterr().err
    code = evaluate.main(["--model", str(model_path), "--data-dir", "x", "--out-dir", out, "--target", "pd"])
    assert code == 2 and "unknown contrast 'pd'" in capsys.readouterr().err
    for option, value in (("--batch-size", "0"), ("--canvas-size", "0"), ("--max-subjects", "-1")):
        with pytest.raises(SystemExit) as stop:
            evaluate.main(["--model", str(model_path), "--data-dir", "x", "--out-dir", out, option, value])
        assert stop.value.code == 2 and f"argument {option}: expected an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_python_dash_m_keeps_its_options():
    result = subprocess.run(
        [sys.executable, "-m", "magan_keras.evaluate", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    for option in (
        "--model",
        "--data-dir",
        "--dataset",
        "--split",
        "--out-dir",
        "--target",
        "--canvas-size",
        "--baseline-split",
        "--baseline-data-dir",
        "--baseline-max-slices",
        "--no-baselines",
        "--overwrite",
        "--quiet",
        "--max-subjects",
        "--tfds-data-dir",
        "--batch-size",
    ):
        assert option in result.stdout
    assert result.stdout.startswith("usage: python -m magan_keras.evaluate")
