"""The commands take a preset folder wherever they take `--model`; `publish` checks, then uploads."""

import json
import runpy
import sys

import nibabel as nib
import numpy as np
import pytest

from magan_keras.cli import export as export_command
from magan_keras.cli import publish as publish_command
from magan_keras.cli import synthesize as synthesize_command
from magan_keras.inference import synthesis
from magan_keras.sharing import preset as presets
from magan_keras.tuning.settings import make_settings
from tfds_brats.brats.make_dummy_data import write_fake_subject

from .test_preset import _fake_run


def run(main, argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_synthesize_takes_a_preset_folder(saved_preset, tmp_path, capsys):
    model, folder = saved_preset
    files = write_fake_subject(tmp_path / "s1", "s1", shape=(20, 20, 6), seed=2)
    out = tmp_path / "out"
    argv = ["--model", folder, "--t1", files["t1"], "--t1ce", files["t1ce"], "--t2", files["t2"], "--out-dir", out]
    code, text = run(synthesize_command.main, [*argv, "--quiet"], capsys)
    assert code == 0, text
    written = np.asarray(nib.load(out / "s1_flair_synthetic.nii.gz").dataobj)
    expected = synthesis.synthesize_subject(model, {k: files[k] for k in ("t1", "t1ce", "t2")}).outputs["flair"]
    assert np.ptp(written) > 0
    np.testing.assert_allclose(written, expected, atol=1e-6)  # the preset's model is the saved one


def test_commands_refuse_a_damaged_preset_in_one_line(preset_copy, tmp_path, capsys):
    (preset_copy / "model.weights.h5").unlink()
    files = write_fake_subject(tmp_path / "s1", "s1", shape=(20, 20, 6), with_seg=False)
    argv = ["--model", preset_copy, "--t1", files["t1"], "--out-dir", tmp_path / "out", "--quiet"]
    code, text = run(synthesize_command.main, argv, capsys)
    assert code == 2 and text.strip() == f"error: preset {preset_copy}: model.weights.h5 is missing"
    code, text = run(export_command.main, ["--model", preset_copy, "--export-dir", tmp_path / "serving"], capsys)
    assert code == 2 and "model.weights.h5 is missing" in text
    assert not (tmp_path / "out").exists() and not (tmp_path / "serving").exists()


def test_tune_config_takes_a_preset(saved_preset, tmp_path):
    model, _ = saved_preset
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _fake_run(run_dir)
    folder = presets.save_to_preset(model, tmp_path / "preset", run_dir=run_dir)
    settings = make_settings(config_file=str(folder), output_dir=str(tmp_path / "tune"))
    assert (settings.config.num_subjects, settings.config.image_size, settings.config.base_filters) == (4, 16, 4)


def test_publish_entry_point_runs_the_command(saved_preset, tmp_path, monkeypatch):
    """`python -m magan_keras.publish` runs the CLI's main (the shim imports it only when run)."""
    target = tmp_path / "via_m"
    monkeypatch.setattr(sys, "argv", ["magan_keras.publish", "--preset", str(saved_preset[1]), "--to", str(target)])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("magan_keras.publish", run_name="__main__")
    assert exited.value.code == 0
    assert json.loads((target / "metadata.json").read_text()) == presets.validate_preset(saved_preset[1])


def test_publish_command_to_a_folder(saved_preset, tmp_path, capsys):
    target = tmp_path / "copy"
    code, text = run(publish_command.main, ["--preset", saved_preset[1], "--to", target], capsys)
    assert code == 0 and text.strip() == f"published {saved_preset[1]} to {target}"
    assert json.loads((target / "metadata.json").read_text()) == presets.validate_preset(saved_preset[1])
    code, text = run(publish_command.main, ["--preset", saved_preset[1], "--to", target], capsys)
    assert code == 2 and text.strip() == f"error: target folder {target} exists and is not empty; choose a new folder"
    code, text = run(publish_command.main, ["--preset", tmp_path / "nothing", "--to", "hf://o/n"], capsys)
    assert code == 2 and text.strip() == f"error: preset folder {tmp_path / 'nothing'} does not exist"
