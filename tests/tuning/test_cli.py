"""`python -m magan_keras.tune` (`magan_keras.cli.tune`): options, errors before any work, failures, exit codes."""

import ast
import csv
import pathlib
import subprocess
import sys

import pytest

from magan_keras.cli import train, tune

TUNING = pathlib.Path(__file__).parents[2] / "magan_keras" / "tuning"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--gamma", "0.3"], "--gamma is searched"),
        (["--tuner", "hyperband", "--max-trials", "3"], "hyperband"),
        (["--search-space", "nope"], "nope"),
        (["--image-size", "30"], "image_size"),
        (["--objective", "fid"], "objective"),
        (["--max-trials", "0"], "positive integer"),
    ],
)
def test_bad_options_stop_before_any_work(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        tune.main([*argv, "--output-dir", str(tmp_path / "search")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "search").exists()


def test_folder_that_is_not_a_search_is_never_touched(tmp_path, capsys, tiny):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit):
        tune.main([*tiny, "--output-dir", str(tmp_path), "--overwrite"])
    assert "not a magan_keras search folder" in capsys.readouterr().err
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


def test_module_entry_point_prints_the_options():
    completed = subprocess.run(
        [sys.executable, "-m", "magan_keras.tune", "--help"], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for option in ("--search-space", "--tuner", "--max-trials", "--output-dir", "--image-size", "--lambda-l1"):
        assert option in completed.stdout
    assert "--epochs 3" in completed.stdout  # the quick search's defaults, in the epilog


def test_library_uses_no_cli_and_no_private_kerastuner_module():
    for path in sorted(TUNING.glob("*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
        assert not [m for m in imported if m.startswith(("magan_keras.cli", "keras_tuner.src"))], path.name


def test_failed_trials_are_reported_and_all_failed_exits_non_zero(
    tfds_dir, tmp_path, monkeypatch, capsys, tiny, trials
):
    from magan_keras.training import run

    def broken(config, strategy=None, preprocessing=None):
        raise ValueError(f"injected failure at gamma={config.gamma:.3f}")

    monkeypatch.setattr(run, "build_model", broken)
    out = tmp_path / "search"
    argv = [*tiny, "--tfds-data-dir", tfds_dir, "--output-dir", str(out), "--tuner", "random"]
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
