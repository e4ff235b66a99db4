"""`python -m magan_keras.evaluate --data-dir DIR --split-file F`: only the file's test (or --split) subjects."""

import csv

from magan_keras.cli import evaluate
from tfds_brats.brats.make_dummy_data import write_fake_subject


def _folder(root, count=3):
    for i in range(count):
        write_fake_subject(root / f"case{i}", f"case{i}", seed=i, shape=(20, 20, 10))
    return root


def _args(model_path, data, split_file, out, *extra):
    argv = ["--model", model_path, "--data-dir", data, "--split-file", split_file, "--out-dir", out]
    argv += ["--canvas-size", 24, "--quiet", "--target", "flair", *extra]
    return [str(a) for a in argv]


def test_only_the_split_files_test_subjects_are_scored(model_path, tmp_path, capsys):
    data = _folder(tmp_path / "brats")
    split_file = tmp_path / "split.csv"
    split_file.write_text("subject_id,split\ncase0,train\ncase1,test\ncase2,validation\n")
    out = tmp_path / "report"
    assert evaluate.main(_args(model_path, data, split_file, out)) == 0, capsys.readouterr().err
    with open(out / "per_subject.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["subject_id"] for r in rows} == {"case1"}
    assert {r["method"] for r in rows} == {"magan", "best_single", "linear"}
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert f"the train subjects of {split_file}" in markdown  # the baselines: the file's train subjects
    out2 = tmp_path / "report2"
    assert evaluate.main(_args(model_path, data, split_file, out2, "--split", "validation", "--no-baselines")) == 0
    with open(out2 / "per_subject.csv", newline="") as f:
        assert {r["subject_id"] for r in csv.DictReader(f)} == {"case2"}


def test_unknown_and_missing_subjects_are_named(model_path, tmp_path, capsys):
    data = _folder(tmp_path / "brats")
    split_file = tmp_path / "split.json"
    split_file.write_text('{"case0": "train", "case1": "test", "ghost": "test"}')
    out = tmp_path / "report"
    assert evaluate.main(_args(model_path, data, split_file, out)) == 2
    error = capsys.readouterr().err
    errors = [line for line in error.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "ghost" in errors[0] and "case2" in errors[0] and "split.json" in errors[0]
    assert not out.exists()
