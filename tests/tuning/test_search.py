"""`magan_keras.tuning.search`: a tiny real search, resumed, extended and rerun without redoing trials."""

import csv
import json
import math
import os

import pytest

from magan_keras.tuning import search
from magan_keras.tuning.search_space import load_space
from magan_keras.tuning.settings import make_settings

TINY = dict(
    image_size=32,
    base_filters=4,
    res_blocks=1,
    num_subjects=6,
    batch_size=4,
    epochs=1,
    steps_per_epoch=2,
    validation_steps=1,
)


def tiny_settings(output_dir, tfds_dir, **kwargs):
    return make_settings(output_dir=output_dir, verbose=0, options={**TINY, "tfds_data_dir": tfds_dir}, **kwargs)


def run(settings):
    search.prepare(settings)
    return search.run_search(settings, role="single")


@pytest.fixture(scope="module")
def resumed(tfds_dir, tmp_path_factory, trials):
    """A search stopped after one trial, then resumed to two, then rerun; returns (folder, trials after each run)."""
    out = str(tmp_path_factory.mktemp("tune") / "search")
    first_run = run(tiny_settings(out, tfds_dir, max_trials=1))
    assert first_run.finished and first_run.trials_run == ("0",)
    first = trials(out)
    assert run(tiny_settings(out, tfds_dir, max_trials=2)).trials_run == ("1",)
    second = trials(out)
    assert run(tiny_settings(out, tfds_dir, max_trials=2)).trials_run == ()  # finished: nothing runs again
    third = trials(out)
    return out, first, second, third


@pytest.mark.slow
def test_two_trials_complete_with_real_scores_inside_the_space(resumed):
    out, _, second, _ = resumed
    assert sorted(second) == ["0", "1"]
    space = load_space("paper")
    for trial in second.values():
        assert trial["status"] == "COMPLETED"
        assert trial["score"] is not None and math.isfinite(trial["score"])
        assert space.contains(trial["hyperparameters"]["values"]), trial["hyperparameters"]["values"]
    best = json.loads(open(os.path.join(out, "best_config.json")).read())
    assert space.contains(best)
    assert best["gamma"] == max(second.values(), key=lambda t: t["score"])["hyperparameters"]["values"]["gamma"]


def test_resumed_search_keeps_finished_trials(resumed):
    _, first, second, third = resumed
    assert sorted(first) == ["0"]
    assert second["0"]["mtime"] == first["0"]["mtime"] and second["0"]["score"] == first["0"]["score"]
    assert third == second


def test_reports_are_written(resumed):
    out = resumed[0]
    with open(os.path.join(out, "leaderboard.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["COMPLETED", "COMPLETED"]
    assert float(rows[0]["val_ssim"]) >= float(rows[1]["val_ssim"])
    assert {"gamma", "alpha", "beta", "val_psnr", "val_mae"} <= set(rows[0])
    markdown = open(os.path.join(out, "leaderboard.md")).read()
    assert "| rank | trial | status | val_ssim | gamma | alpha | beta |" in markdown
    with open(os.path.join(out, "objective_vs_hyperparameters.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_finished_search_saved_as_kerastuners_chief_leaves_it_reruns_nothing(resumed, tfds_dir, trials):
    # KerasTuner's chief saves the oracle in end_trial before it drops the trial from
    # ongoing_trials (see magan_keras.tuning.oracle): the last finished trial stays "ongoing".
    out, _, second, _ = resumed
    oracle_path = os.path.join(out, "search", "oracle.json")
    state = json.load(open(oracle_path))
    state["ongoing_trials"] = {"tuner0": "1"}
    json.dump(state, open(oracle_path, "w"))
    result = run(tiny_settings(out, tfds_dir, max_trials=2))
    assert result.trials_run == ()  # without oracle.repair_oracle_state, trial 1 trains again
    assert trials(out) == second


@pytest.mark.slow
def test_best_config_trains_with_the_training_command(resumed, tmp_path):
    from magan_keras.cli import train
    from magan_keras.training.config import TrainConfig

    best = os.path.join(resumed[0], "best_config.toml")
    config = TrainConfig.from_file(best)
    assert (config.image_size, config.base_filters, config.res_blocks, config.num_subjects) == (32, 4, 1, 6)
    argv = [
        "--config",
        best,
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--validation-steps",
        "1",
        "--output-dir",
        str(tmp_path / "run"),
    ]
    assert train.main(argv) == 0
    assert (tmp_path / "run" / "report.md").is_file()


def test_overwrite_is_refused_in_a_distributed_search(tmp_path):
    settings = make_settings(output_dir=str(tmp_path / "tune"), overwrite=True)
    for role in ("chief", "worker"):
        with pytest.raises(ValueError, match="--overwrite in a distributed search"):
            search.prepare(settings, role)
    assert not (tmp_path / "tune").exists()
