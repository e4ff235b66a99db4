"""`magan_keras.inference.export` and its command `python -m magan_keras.export`: a TF Serving SavedModel."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from magan_keras import MAGAN, MultiBranchGenerator
from magan_keras.cli import export as command
from magan_keras.inference import export

SIZE = 16


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    magan = MAGAN(image_size=SIZE, base_filters=4, res_blocks=1)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    magan.save(path)
    return magan, path


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    available = np.array([[1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 0]], np.float32)
    target = np.array([[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 0]], np.float32)
    images = rng.uniform(-1, 1, (3, SIZE, SIZE, 4)).astype(np.float32) * available[:, None, None, :]
    return {"images": images, "available": available, "target": target}


def test_saved_model_matches_keras_and_has_the_serving_layout(model, tmp_path):
    magan, path = model
    written = export.export_generator(path, tmp_path / "serving", name="magan", version=3)
    assert written == tmp_path / "serving" / "magan" / "3"
    assert (written / "saved_model.pb").is_file() and (written / "variables").is_dir()
    assert os.listdir(tmp_path / "serving" / "magan") == ["3"]  # no temporary folder left
    loaded = tf.saved_model.load(str(written))
    signature = loaded.signatures["serving_default"]
    batch = inputs()
    out = signature(**{k: tf.constant(v) for k, v in batch.items()})
    assert list(out) == ["synthesis"]
    expected = np.asarray(magan.generator(batch, training=False))
    np.testing.assert_allclose(out["synthesis"].numpy(), expected, atol=1e-5)
    info = json.loads((written / "assets.extra" / "magan_keras.json").read_text())
    assert info["modalities"] == ["t1", "t1ce", "t2", "flair"] and info["image_size"] == SIZE
    assert info["inputs"]["images"]["shape"] == [-1, SIZE, SIZE, 4]
    # Saved without a record: the defaults, said to be assumed.
    assert info["preprocessing_assumed"] is True and info["preprocessing"]["canvas_size"] == 256
    assert "no preprocessing record" in info["notes"][0]


def test_the_description_carries_the_models_preprocessing(tmp_path):
    record = {"canvas_size": 40, "lower_percentile": 1.0, "upper_percentile": 99.0, "min_brain_fraction": 0.1}
    generator = MultiBranchGenerator(image_size=SIZE, base_filters=2, res_blocks=1, preprocessing=record)
    generator.build_on_zeros()
    written = export.export_generator(generator, tmp_path, version=1)
    info = json.loads((written / "assets.extra" / "magan_keras.json").read_text())
    assert info["preprocessing"] == {"modalities": ["t1", "t1ce", "t2", "flair"], "orientation": "RAS", **record}
    assert info["preprocessing_assumed"] is False and info["notes"] == []
    assert info == export.describe(generator)


def test_saved_model_cli_lists_the_signature(model, tmp_path):
    written = export.export_generator(model[1], tmp_path, version=1)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tensorflow.python.tools.saved_model_cli",
            "show",
            "--dir",
            str(written),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    text = result.stdout
    for name, shape in (("images", f"(-1, {SIZE}, {SIZE}, 4)"), ("available", "(-1, 4)"), ("target", "(-1, 4)")):
        assert f"inputs['{name}']" in text
        assert shape in text.split(f"inputs['{name}']")[1].split("name:")[0]
    assert "outputs['synthesis']" in text and f"(-1, {SIZE}, {SIZE}, 1)" in text


def test_refuses_to_overwrite_a_version_and_bad_arguments(model, tmp_path, capsys):
    _, path = model
    argv = ["--model", str(path), "--export-dir", str(tmp_path), "--name", "m", "--version", "2"]
    assert command.main(argv) == 0
    before = sorted(p.name for p in (tmp_path / "m" / "2").iterdir())
    capsys.readouterr()
    assert command.main(argv) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "m" / "2").iterdir()) == before
    assert os.listdir(tmp_path / "m") == ["2"]
    with pytest.raises(ValueError, match="--version"):
        export.export_generator(path, tmp_path, version=0)
    with pytest.raises(ValueError, match="--name"):
        export.export_generator(path, tmp_path, name="a/b")
    assert command.main(["--model", str(tmp_path / "missing.keras"), "--export-dir", str(tmp_path)]) == 2
    assert "missing.keras" in capsys.readouterr().err


def test_command_notes_an_old_model_and_the_entry_point_runs(model, tmp_path, capsys):
    assert command.main(["--model", str(model[1]), "--export-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "note: the model carries no preprocessing record" in captured.err and "wrote" in captured.out
    result = subprocess.run(
        [sys.executable, "-m", "magan_keras.export", "--help"], capture_output=True, text=True, check=True
    )
    assert "--export-dir" in result.stdout


def test_a_failed_export_leaves_no_version(model, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("tracing failed")

    monkeypatch.setattr(export, "_archive", broken)
    with pytest.raises(RuntimeError, match="tracing failed"):
        export.export_generator(model[1], tmp_path, version=1)
    assert os.listdir(tmp_path / "magan") == []


def test_a_read_only_folder_or_a_file_in_the_way_is_a_one_line_error(model, tmp_path, capsys, monkeypatch):
    import pathlib

    _, path = model
    blocker = tmp_path / "a_file"
    blocker.write_text("keep")
    for export_dir in (blocker, tmp_path / "named"):
        if export_dir.name == "named":
            export_dir.mkdir()
            (export_dir / "magan").write_text("not a folder")
        assert command.main(["--model", str(path), "--export-dir", str(export_dir)]) == 2
        err = capsys.readouterr().err.splitlines()[-1]
        assert err.startswith("error: --export-dir: ") and "is not a folder" in err
    assert blocker.read_text() == "keep" and os.listdir(tmp_path / "named") == ["magan"]
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse as it would for a user
        original = pathlib.Path.mkdir

        def refuse(self, *args, **kwargs):
            if str(self).startswith(str(read_only)):
                raise PermissionError(13, "Permission denied", str(self))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    assert command.main(["--model", str(path), "--export-dir", str(read_only)]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == f"error: --export-dir: cannot write {read_only / 'magan'} (Permission denied); nothing was written"
    read_only.chmod(0o755)
    assert os.listdir(read_only) == []


def test_temporary_folders_of_a_killed_export_go_after_a_successful_rerun(model, tmp_path):
    left = tmp_path / "magan" / ".1.k1lled.tmp"  # what new_directory leaves when killed
    (left / "variables").mkdir(parents=True)
    other_version = tmp_path / "magan" / ".2.busy.tmp"  # another version's export may still run
    other_version.mkdir()
    export.export_generator(model[1], tmp_path, version=1)
    assert sorted(os.listdir(tmp_path / "magan")) == [".2.busy.tmp", "1"]
