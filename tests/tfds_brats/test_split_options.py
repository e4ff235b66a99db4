"""Splits under the user's control: split files (CSV, JSON), fractions, separate folders, reuse refused."""

import contextlib
import io
import json

import pytest

from tfds_brats import splits
from tfds_brats.prepare import SplitChangedError, main, prepare


def _quiet_prepare(*args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return prepare(*args, **kwargs)


def _write_csv(path, assignment, header=True):
    lines = (["subject_id,split"] if header else []) + [f"{s},{split}" for s, split in assignment.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _assignment(ids):
    """Two train, two validation, one test: not what the 80/10/10 fractions give five subjects (3/1/1)."""
    return dict(zip(ids, ["train", "validation", "validation", "train", "test"]))


def test_csv_split_file_is_honoured(dummy_dir, dummy_ids, tmp_path):
    assignment = _assignment(dummy_ids)
    split_file = _write_csv(tmp_path / "split.csv", assignment)
    builder = _quiet_prepare(dummy_dir, config="slices_64", data_dir=tmp_path / "tfds", split_file=split_file)
    stored = builder.info.metadata["split_subjects"]
    for name in ("train", "validation", "test"):
        assert sorted(stored[name]) == sorted(s for s, split in assignment.items() if split == name)
    record = builder.info.metadata["split_source"]
    assert record["file"] == str(split_file) and len(record["sha256"]) == 64
    seen = {ex["subject_id"].decode() for ex in builder.as_dataset(split="validation").as_numpy_iterator()}
    assert seen == {s for s, split in assignment.items() if split == "validation"}


def test_json_split_file_is_honoured_on_the_phantom(tmp_path):
    ids = [f"phantom-{i:04d}" for i in range(4)]
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps({ids[0]: "test", ids[1]: "train", ids[2]: "train", ids[3]: "train"}))
    builder = _quiet_prepare(
        phantom=True, image_size=16, num_subjects=4, data_dir=tmp_path / "tfds", split_file=split_file
    )
    stored = builder.info.metadata["split_subjects"]
    assert stored == {"train": ids[1:], "test": [ids[0]]}
    assert "validation" not in builder.info.splits


def test_unknown_and_missing_subjects_are_named_and_nothing_is_written(dummy_dir, dummy_ids, tmp_path, capsys):
    assignment = _assignment(dummy_ids)
    del assignment[dummy_ids[0]]
    assignment["NotThere_001"] = "train"
    split_file = _write_csv(tmp_path / "split.csv", assignment, header=False)
    data_dir = tmp_path / "tfds"
    code = main(["--manual-dir", str(dummy_dir), "--split-file", str(split_file), "--data-dir", str(data_dir)])
    error = capsys.readouterr().err
    assert code == 2
    assert len(error.strip().splitlines()) == 1 and error.startswith("error: split file")
    assert "NotThere_001" in error and dummy_ids[0] in error and "unknown" in error and "missing" in error
    assert not list(data_dir.rglob("dataset_info.json"))


def test_bad_split_name_names_the_file(tmp_path):
    split_file = _write_csv(tmp_path / "split.csv", {"a": "val"})
    with pytest.raises(ValueError, match=r"split\.csv.*'a'.*'val'"):
        splits.read_split_file(split_file)


def test_a_different_split_file_is_not_reused(dummy_dir, dummy_ids, tmp_path):
    data_dir = tmp_path / "tfds"
    first = _write_csv(tmp_path / "first.csv", _assignment(dummy_ids))
    _quiet_prepare(dummy_dir, config="slices_64", data_dir=data_dir, split_file=first)
    other = dict(_assignment(dummy_ids), **{dummy_ids[0]: "test"})
    second = _write_csv(tmp_path / "second.csv", other)
    with pytest.raises(SplitChangedError, match=r"first\.csv.*second\.csv"):
        _quiet_prepare(dummy_dir, config="slices_64", data_dir=data_dir, split_file=second)
    with pytest.raises(SplitChangedError, match=r"first\.csv.*split fractions 0\.8/0\.1/0\.1"):
        _quiet_prepare(dummy_dir, config="slices_64", data_dir=data_dir)
    # The same file again is reused; --overwrite rebuilds with the new one.
    assert _quiet_prepare(dummy_dir, config="slices_64", data_dir=data_dir, split_file=first).is_prepared()
    rebuilt = _quiet_prepare(dummy_dir, config="slices_64", data_dir=data_dir, split_file=second, overwrite=True)
    assert sorted(rebuilt.info.metadata["split_subjects"]["test"]) == sorted(s for s, v in other.items() if v == "test")
    # Editing the file in place (same path, other content) is another split too.
    _write_csv(second, _assignment(dummy_ids))
    with pytest.raises(SplitChangedError, match="sha256"):
        _quiet_prepare(dummy_dir, config="slices_64", data_dir=data_dir, split_file=second)


def test_split_fractions_on_the_command_line(dummy_dir, tmp_path, capsys):
    data_dir = tmp_path / "tfds"
    assert main(["--manual-dir", str(dummy_dir), "--split-fractions", "1,0,0", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "train          5 subjects" in out and "validation" not in out.split("subjects found")[1]
    with pytest.raises(SystemExit):
        main(["--manual-dir", str(dummy_dir), "--split-fractions", "0.5,0.6,0", "--data-dir", str(data_dir)])
    assert "add up to 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--manual-dir", str(dummy_dir), "--split-fractions", "0,1,0", "--data-dir", str(data_dir)])
    assert "train fraction must be > 0" in capsys.readouterr().err


def test_an_empty_train_split_is_an_error(dummy_dir, dummy_ids, tmp_path):
    split_file = _write_csv(tmp_path / "split.csv", {s: "test" for s in dummy_ids})
    with pytest.raises(ValueError, match="the train split is empty"):
        _quiet_prepare(dummy_dir, config="slices_64", data_dir=tmp_path / "tfds", split_file=split_file)


def test_separate_validation_folder_makes_the_validation_split(dummy_dir, make_subject_folder, tmp_path):
    make_subject_folder("Extra_001", root=tmp_path / "val", shape=(24, 24, 12))
    make_subject_folder("Extra_002", root=tmp_path / "val", shape=(24, 24, 12))
    builder = _quiet_prepare(
        dummy_dir, config="slices_64", data_dir=tmp_path / "tfds", validation_data_dir=tmp_path / "val"
    )
    stored = builder.info.metadata["split_subjects"]
    assert stored["validation"] == ["Extra_001", "Extra_002"]
    assert len(stored["train"]) + len(stored["test"]) == 5 and stored["test"]
    assert builder.info.metadata["split_source"]["dirs"]["validation"]["path"] == str(tmp_path / "val")
    # Another subject in that folder: another split, refused.
    make_subject_folder("Extra_003", root=tmp_path / "val", shape=(24, 24, 12))
    with pytest.raises(SplitChangedError, match="validation from"):
        _quiet_prepare(dummy_dir, config="slices_64", data_dir=tmp_path / "tfds", validation_data_dir=tmp_path / "val")
