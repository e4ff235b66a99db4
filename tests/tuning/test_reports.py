"""`magan_keras.tuning.reports`: leaderboard, plot and best config, written through `magan_keras.atomic`."""

import csv
import os

import numpy as np
import pytest
import tomllib

from magan_keras import atomic
from magan_keras.training.config import TrainConfig
from magan_keras.tuning import reports
from magan_keras.tuning.settings import make_settings


def test_best_config_is_valid_toml_with_numpy_values():
    # KerasTuner's Bayesian oracle hands back NumPy floats; their repr is not TOML.
    config = TrainConfig.from_dict({"gamma": np.float64(0.25), "epochs": np.int64(3)})
    assert type(config.gamma) is float and type(config.epochs) is int
    values = {"gamma": np.float64(0.25), "alpha": 1e-3, "epochs": np.int64(3), "target": "t2", "augment": True}
    text = "\n".join(f"{k} = {reports.toml_value(v)}" for k, v in values.items())
    assert tomllib.loads(text) == {"gamma": 0.25, "alpha": 1e-3, "epochs": 3, "target": "t2", "augment": True}


@pytest.fixture
def rows():
    failed = reports.example_row("2", None, status="FAILED", gamma=0.9, alpha=50.0, beta=0.02)
    failed["error"] = "ValueError: injected"
    return [
        reports.example_row("1", 0.7, gamma=0.3, alpha=2.0, beta=0.5),
        {**reports.example_row("0", 0.6, gamma=0.5, alpha=1.0, beta=1.0), "rank": 2},
        failed,
    ]


def test_every_report_file_is_written_atomically(tmp_path, monkeypatch, rows):
    written = []
    original = atomic.replacing

    def spy(path):
        written.append(os.path.basename(os.fspath(path)))
        return original(path)

    monkeypatch.setattr(atomic, "replacing", spy)
    settings = make_settings(output_dir=str(tmp_path))
    paths = reports.write_files(rows, settings)
    assert sorted(written) == sorted(reports.FILES.values()) == sorted(os.path.basename(p) for p in paths.values())
    assert not [name for name in os.listdir(tmp_path) if ".tmp" in name]


def test_leaderboard_and_best_config_hold_the_best_trial(tmp_path, rows):
    settings = make_settings(output_dir=str(tmp_path))
    paths = reports.write_files(rows, settings)
    with open(paths["leaderboard_csv"]) as f:
        table = list(csv.DictReader(f))
    assert [r["trial"] for r in table] == ["1", "0", "2"]
    assert [r["status"] for r in table] == ["COMPLETED", "COMPLETED", "FAILED"]
    assert table[2]["error"] == "ValueError: injected"
    markdown = open(paths["leaderboard_md"]).read()
    assert "| rank | trial | status | val_ssim | gamma | alpha | beta |" in markdown
    assert "- trial 2: `ValueError: injected`" in markdown
    best = TrainConfig.from_file(paths["best_toml"])
    assert (best.gamma, best.alpha, best.beta, best.image_size) == (0.3, 2.0, 0.5, 32)
    assert TrainConfig.from_file(paths["best_json"]) == best
    with open(paths["figure"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_no_finished_trial_removes_an_earlier_best_config(tmp_path, rows):
    settings = make_settings(output_dir=str(tmp_path))
    reports.write_files(rows, settings)
    paths = reports.write_files([rows[2]], settings)
    assert sorted(paths) == ["leaderboard_csv", "leaderboard_md"]
    assert sorted(os.listdir(tmp_path)) == ["leaderboard.csv", "leaderboard.md"]


def test_hyperband_leaderboard_shows_each_trials_epochs(tmp_path):
    settings = make_settings(tuner="hyperband", output_dir=str(tmp_path))
    row = {**reports.example_row("0", 0.5, gamma=0.5, alpha=1.0, beta=1.0), "epochs": 2}
    paths = reports.write_files([row], settings)
    with open(paths["leaderboard_csv"]) as f:
        assert next(csv.DictReader(f))["epochs"] == "2"
