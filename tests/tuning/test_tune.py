"""`python -m magan_keras.tune`: spaces, trials, resume, failures, distributed search, best config."""

import csv
import json
import math
import os
import subprocess
import sys

import pytest

from magan_keras.tuning import search_space
from magan_keras.cli import train
from magan_keras.tuning import search as tune


TINY = [
    "--image-size", "32", "--base-filters", "4", "--res-blocks", "1", "--num-subjects", "6", "--batch-size", "4",
    "--epochs", "1", "--steps-per-epoch", "2", "--validation-steps", "1", "--verbose", "0",
]


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A TFDS folder with the 6-subject phantom prepared once for the module."""
    from magan_keras.training import run
    from magan_keras.training.config import TrainConfig

    folder = str(tmp_path_factory.mktemp("tfds"))
    run.load_splits(TrainConfig(image_size=32, num_subjects=6, tfds_data_dir=folder))
    return folder


def trials(output_dir):
    """`{trial_id: trial.json}` of a search folder."""
    project = os.path.join(output_dir, "search")
    out = {}
    for entry in sorted(os.listdir(project)):
        path = os.path.join(project, entry, "trial.json")
        if os.path.isfile(path):
            with open(path) as f:
                trial = json.load(f)
            trial["mtime"] = os.stat(path).st_mtime_ns
            out[trial["trial_id"]] = trial
    return out


def write_space(path, hyperparameters):
    path.write_text(json.dumps({"hyperparameters": hyperparameters}))
    return str(path)


# === Search spaces and options (no training) ===
def test_best_config_is_valid_toml_with_numpy_values(tmp_path):
    import tomllib

    import numpy as np

    from magan_keras.training.config import TrainConfig

    # KerasTuner's Bayesian oracle hands back NumPy floats; their repr is not TOML.
    config = TrainConfig.from_dict({"gamma": np.float64(0.25), "epochs": np.int64(3)})
    assert type(config.gamma) is float and type(config.epochs) is int
    text = "\n".join(f"{k} = {tune._toml_value(v)}" for k, v in
                     {"gamma": np.float64(0.25), "alpha": 1e-3, "epochs": np.int64(3), "target": "t2"}.items())
    assert tomllib.loads(text) == {"gamma": 0.25, "alpha": 1e-3, "epochs": 3, "target": "t2"}


def test_builtin_spaces_load_by_name():
    assert set(search_space.builtin_space_names()) >= {"paper", "extended"}
    paper = search_space.load_space("paper")
    assert paper.names == ["gamma", "alpha", "beta"]
    assert (paper.hyperparameters["gamma"].min, paper.hyperparameters["gamma"].max) == (0.0, 1.0)
    assert paper.hyperparameters["alpha"].sampling == "log" and paper.hyperparameters["beta"].sampling == "log"
    assert {"lambda_l1", "lambda_ssim", "learning_rate", "lr_decay"} <= set(search_space.load_space("extended").names)
    with pytest.raises(search_space.SearchSpaceError, match="paper"):
        search_space.load_space("no_such_space")


@pytest.mark.parametrize(
    "hyperparameters, message",
    [
        ({"gama": {"type": "float", "min": 0, "max": 1}}, "gama"),
        ({"gamma": {"type": "float", "min": 0, "max": 1, "smapling": "log"}}, "smapling"),
        ({"gamma": {"type": "float", "min": 0, "max": 1.5}}, "gamma"),
        ({"alpha": {"type": "float", "min": 0, "max": 10, "sampling": "log"}}, "min > 0"),
        ({"modal_attention": {"type": "float", "min": 0, "max": 1}}, "modal_attention"),
        ({"gan_loss": {"type": "choice", "values": ["vanilla", "wgan"]}}, "wgan"),
        ({"epochs": {"type": "int", "min": 1, "max": 5}}, "epochs"),
        ({"gamma": {"type": "float", "min": "0", "max": 1}}, "min"),
        ({"gamma": {"type": "uniform", "min": 0, "max": 1}}, "type"),
        ({}, "hyperparameters"),
    ],
)
def test_invalid_space_files_name_the_file_and_the_problem(tmp_path, hyperparameters, message):
    path = write_space(tmp_path / "bad_space.json", hyperparameters)
    with pytest.raises(search_space.SearchSpaceError) as error:
        search_space.load_space(path)
    assert "bad_space.json" in str(error.value) and message in str(error.value)


def test_toml_space_by_path_with_every_type(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "mixed"\n'
        '[hyperparameters.gamma]\ntype = "float"\nmin = 0.0\nmax = 1.0\nstep = 0.25\n'
        '[hyperparameters.res_blocks]\ntype = "int"\nmin = 1\nmax = 3\n'
        '[hyperparameters.gan_loss]\ntype = "choice"\nvalues = ["vanilla", "lsgan"]\n'
        '[hyperparameters.intra_attention]\ntype = "boolean"\n'
    )
    space = search_space.load_space(str(path))
    assert space.name == "mine" and space.names == ["gamma", "res_blocks", "gan_loss", "intra_attention"]
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    values = {name: spec.declare(hp) for name, spec in space.hyperparameters.items()}
    assert space.contains(values) and values["gan_loss"] == "vanilla"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--gamma", "0.3"], "--gamma is searched"),
        (["--tuner", "hyperband", "--max-trials", "3"], "hyperband"),
        (["--search-space", "nope"], "nope"),
        (["--image-size", "30"], "image_size"),
        (["--objective", "fid"], "objective"),
    ],
)
def test_bad_options_stop_before_any_work(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        tune.main([*argv, "--output-dir", str(tmp_path / "search")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "search").exists()


def test_folder_that_is_not_a_search_is_never_touched(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit):
        tune.main([*TINY, "--output-dir", str(tmp_path), "--overwrite"])
    assert "not a search folder" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_tune_options_reuse_the_training_options():
    tune_options = {a.dest for a in tune.build_parser()._actions}
    train_options = {a.dest for a in train.build_parser()._actions}
    assert train_options - {"help"} <= tune_options
    parse = tune.build_parser().parse_args
    settings = tune.settings_from_args(parse(["--lambda-l1", "50", "--epochs", "5"]))
    assert (settings.config.lambda_l1, settings.config.epochs, settings.config.image_size) == (50.0, 5, 32)
    with pytest.raises(ValueError, match="--lambda-l1 is searched"):
        tune.settings_from_args(parse(["--lambda-l1", "50", "--search-space", "extended"]))


def test_default_initial_points_leave_room_for_the_bayesian_model():
    from magan_keras.tuning.hypermodel import default_initial_points

    assert default_initial_points(3, 10) == 5  # KerasTuner's default would be 9 of 10
    assert default_initial_points(3, 4) == 2
    assert default_initial_points(1, 40) == 3


def test_repair_requeues_killed_trials_and_drops_finished_ones(tmp_path):
    project = tmp_path / "search"
    for trial_id, status in (("0", "COMPLETED"), ("1", "RUNNING"), ("2", "COMPLETED")):
        (project / f"trial_{trial_id}").mkdir(parents=True)
        (project / f"trial_{trial_id}" / "trial.json").write_text(json.dumps({"trial_id": trial_id, "status": status}))
    state = {"ongoing_trials": {"tuner0": "1", "tuner1": "2"}, "retry_queue": [], "end_order": ["0"]}
    (project / "oracle.json").write_text(json.dumps(state))
    tune.repair_search_state(str(project))
    repaired = json.loads((project / "oracle.json").read_text())
    assert repaired["ongoing_trials"] == {}
    assert repaired["retry_queue"] == ["1"]  # killed mid-trial: runs again, for any tuner id
    assert repaired["end_order"] == ["0", "2"]  # finished: kept, not redone


# === Searches ===
@pytest.fixture(scope="module")
def search(tfds_dir, tmp_path_factory):
    """A search stopped after one trial, then resumed to two; returns (folder, trials after each run)."""
    out = str(tmp_path_factory.mktemp("tune") / "search")
    argv = [*TINY, "--tfds-data-dir", tfds_dir, "--output-dir", out]
    assert tune.main([*argv, "--max-trials", "1"]) == 0
    first = trials(out)
    assert tune.main([*argv, "--max-trials", "2"]) == 0
    second = trials(out)
    assert tune.main([*argv, "--max-trials", "2"]) == 0  # finished: nothing runs again
    third = trials(out)
    return out, first, second, third


def test_two_trials_complete_with_real_scores_inside_the_space(search):
    out, _, second, _ = search
    assert sorted(second) == ["0", "1"]
    space = search_space.load_space("paper")
    for trial in second.values():
        assert trial["status"] == "COMPLETED"
        assert trial["score"] is not None and math.isfinite(trial["score"])
        values = trial["hyperparameters"]["values"]
        assert space.contains(values), values
    best = json.loads(open(os.path.join(out, "best_config.json")).read())
    assert space.contains(best)
    assert best["gamma"] == max(second.values(), key=lambda t: t["score"])["hyperparameters"]["values"]["gamma"]


def test_resumed_search_keeps_finished_trials(search):
    _, first, second, third = search
    assert sorted(first) == ["0"]
    assert second["0"]["mtime"] == first["0"]["mtime"] and second["0"]["score"] == first["0"]["score"]
    assert third == second


def test_reports_are_written(search):
    out = search[0]
    with open(os.path.join(out, "leaderboard.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["COMPLETED", "COMPLETED"]
    assert float(rows[0]["val_ssim"]) >= float(rows[1]["val_ssim"])
    assert {"gamma", "alpha", "beta", "val_psnr", "val_mae"} <= set(rows[0])
    markdown = open(os.path.join(out, "leaderboard.md")).read()
    assert "| rank | trial | status | val_ssim | gamma | alpha | beta |" in markdown
    with open(os.path.join(out, "objective_vs_hyperparameters.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_best_config_trains_with_the_training_command(search, tmp_path):
    from magan_keras.training.config import TrainConfig

    best = os.path.join(search[0], "best_config.toml")
    config = TrainConfig.from_file(best)
    assert (config.image_size, config.base_filters, config.res_blocks, config.num_subjects) == (32, 4, 1, 6)
    argv = ["--config", best, "--epochs", "1", "--steps-per-epoch", "2", "--validation-steps", "1",
            "--output-dir", str(tmp_path / "run")]
    assert train.main(argv) == 0
    assert (tmp_path / "run" / "report.md").is_file()


# === Failures ===
def test_failed_trials_are_reported_and_all_failed_exits_non_zero(tfds_dir, tmp_path, monkeypatch, capsys):
    from magan_keras.training import run

    def broken(config, strategy=None):
        raise ValueError(f"injected failure at gamma={config.gamma:.3f}")

    monkeypatch.setattr(run, "build_model", broken)
    out = tmp_path / "search"
    argv = [*TINY, "--tfds-data-dir", tfds_dir, "--output-dir", str(out), "--tuner", "random"]
    assert tune.main([*argv, "--max-trials", "2"]) == 1
    captured = capsys.readouterr()
    assert captured.out.count(" FAILED: ValueError: injected failure at gamma=") == 2  # as they happen
    assert captured.err.count("FAILED trial") == 2  # and in the summary
    assert "no trial finished" in captured.err
    with open(out / "leaderboard.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["FAILED", "FAILED"]
    assert all("injected failure" in r["error"] for r in rows)
    assert not (out / "best_config.toml").exists()
    # Failures in a row stop the search; the failed trials are kept, not redone.
    assert tune.main([*argv, "--max-trials", "6", "--max-failures", "2"]) == 1
    assert "2 trials failed in a row" in capsys.readouterr().err
    assert [t["status"] for t in trials(str(out)).values()] == ["FAILED"] * 4


# === Distributed ===
@pytest.mark.slow
def test_chief_and_two_workers_share_one_search(tfds_dir, tmp_path):
    out = str(tmp_path / "search")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable, "-m", "tuning.launch_distributed", "--workers", "2", "--timeout", "420", "--",
        *TINY, "--tfds-data-dir", tfds_dir, "--output-dir", out, "--max-trials", "3", "--tuner", "random",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=480, env=env)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    finished = trials(out)
    assert sorted(finished) == ["0", "1", "2"]
    assert all(t["status"] == "COMPLETED" and math.isfinite(t["score"]) for t in finished.values())
    ran = []
    for worker in ("tuner0", "tuner1"):
        log = open(os.path.join(out, "launch_logs", f"{worker}.log")).read()
        line = next(line for line in log.splitlines() if line.startswith(f"Worker {worker} done"))
        ran += line.split("ran trials: ")[1].split(")")[0].split(", ")
    assert sorted(ran) == ["0", "1", "2"]  # both workers trained, each trial once
    assert os.path.isfile(os.path.join(out, "best_config.toml"))
    # KerasTuner's own chief leaves the last finished trial listed as ongoing; a
    # re-run must not redo it.
    oracle_path = os.path.join(out, "search", "oracle.json")
    state = json.load(open(oracle_path))
    state["ongoing_trials"] = {"tuner0": "2"}  # the id a single-process run uses
    json.dump(state, open(oracle_path, "w"))
    assert tune.main([*TINY, "--tfds-data-dir", tfds_dir, "--output-dir", out, "--max-trials", "3",
                      "--tuner", "random"]) == 0
    assert trials(out) == finished
