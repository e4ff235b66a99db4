"""Issue 24: nothing lost, nothing silently wrong, in `python -m magan_keras.train`.

A run folder is recognised by our marker only (never by a common file name), `--overwrite`
deletes only such folders, a finished `fit` is never redone, a folder is used by one run at a
time, bad options stop with a one-line message before anything is written, and logs read well
when stdout is not a terminal.
"""

import io
import json
import os

import pytest

from magan_keras.cli import train as train_cli
from magan_keras.training import run
from magan_keras.training.config import TrainConfig

TINY = dict(num_subjects=4, image_size=16, base_filters=4, res_blocks=1, batch_size=2, validation_steps=1)


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def exit_code(argv):
    """`train.main(argv)`'s exit code, whether it returns it or argparse exits."""
    try:
        return train_cli.main(argv)
    except SystemExit as exit_info:
        return exit_info.code


def listing(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files)


# === 1. A run folder is recognised by our marker, never by a common file name ===


def test_overwrite_never_deletes_a_folder_that_merely_holds_a_config_json(tmp_path, capsys):
    model = tmp_path / "bert"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    (model / "model.safetensors").write_text("weights")
    assert exit_code(["--output-dir", str(model), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "not a magan_keras run folder" in err and "unfinished" not in err
    assert listing(model) == ["config.json", "model.safetensors"]
    assert exit_code(["--output-dir", str(model)]) == 2  # nor is it "an unfinished run" without --overwrite
    assert "not a magan_keras run folder" in capsys.readouterr().err


@pytest.mark.parametrize("output_dir", ["", "   ", "/", "~", ".", "here/.."])
def test_empty_or_root_like_output_dir_is_refused(output_dir, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    (work / "here").mkdir(parents=True)
    (work / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    (work / "report.md").write_text("looks like a legacy run")
    monkeypatch.chdir(work)
    assert exit_code(["--output-dir", output_dir, "--overwrite"]) == 2
    assert "output_dir" in capsys.readouterr().err
    assert listing(work) == ["config.json", "report.md"]


def test_overwrite_clears_only_a_marked_run_folder(tmp_path):
    out = tmp_path / "run"
    run.prepare_run_folder(TrainConfig(output_dir=str(out), epochs=1))
    assert run.read_marker(str(out))["package"] == "magan_keras"
    (out / "report.md").write_text("finished")
    with pytest.raises(run.RunFolderError, match="finished magan_keras run.*--overwrite"):
        run.prepare_run_folder(TrainConfig(output_dir=str(out), epochs=1))
    run.prepare_run_folder(TrainConfig(output_dir=str(out), epochs=2, overwrite=True))
    assert not (out / "report.md").exists()
    assert json.loads((out / "config.json").read_text())["epochs"] == 2


def test_a_run_from_before_the_marker_is_recognised_only_by_a_train_config(tmp_path):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "config.json").write_text(json.dumps(TrainConfig(output_dir=str(legacy)).to_dict()))
    (legacy / "metrics.csv").write_text("epoch\n0\n")
    assert run.run_folder_kind(str(legacy)) == "legacy"
    run.prepare_run_folder(TrainConfig(output_dir=str(legacy)))  # resumed, and marked from now on
    assert run.read_marker(str(legacy)) is not None and (legacy / "metrics.csv").exists()
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({**TrainConfig().to_dict(), "extra": 1}))
    (odd / "metrics.csv").write_text("epoch\n0\n")
    assert run.run_folder_kind(str(odd)) is None


# === 3. One run per folder ===


def test_a_second_run_on_a_locked_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    with run.RunFolderLock(str(out)):
        with pytest.raises(run.RunFolderError, match="in use by another training run"):
            run.RunFolderLock(str(out))
        assert exit_code(["--output-dir", str(out), "--num-subjects", "4", "--image-size", "16"]) == 2
        assert str(out) in capsys.readouterr().err
        assert listing(out) == [run.LOCK_FILE]
    run.RunFolderLock(str(out)).release()  # free again once the first is done


# === 4. One-line messages naming the option, exit 2, nothing written ===


@pytest.mark.parametrize("dataset", ["no_such_dataset/slices_16", "brats_phantom/slices_16"])
def test_unknown_or_unprepared_dataset_stops_before_anything_is_written(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    assert exit_code(["--dataset", dataset, "--output-dir", str(out), "--tfds-data-dir", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dataset") and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "line, name",
    [
        ("output_dir = 5", "output_dir"),
        ("data_dir = 5", "data_dir"),
        ("validation_steps = true", "validation_steps"),
        ("tfds_data_dir = [1]", "tfds_data_dir"),
    ],
)
def test_config_values_of_the_wrong_type_are_named(line, name, tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(line + "\n")
    assert exit_code(["--config", str(config), "--output-dir", str(tmp_path / "run")]) == 2
    assert name in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    if name == "output_dir":  # without --output-dir overriding it
        assert exit_code(["--config", str(config)]) == 2
        assert name in capsys.readouterr().err


def _bad_brats_folder(tmp_path):
    from tfds_brats.brats.make_dummy_data import write_dummy_data

    brats = tmp_path / "brats"
    write_dummy_data(brats)
    (brats / "BraTS2021_00001" / "BraTS2021_00001_t2.nii.gz").unlink()  # a training subject lacks a contrast
    return brats


def test_a_bad_subject_under_data_dir_is_a_message_and_skip_bad_subjects_leaves_it_out(tmp_path, capsys):
    brats, out, tfds = _bad_brats_folder(tmp_path), tmp_path / "run", tmp_path / "tfds"
    argv = ["--data-dir", str(brats), "--image-size", "16", "--tfds-data-dir", str(tfds), "--output-dir", str(out)]
    assert exit_code(argv) == 2
    err = capsys.readouterr().err.split("\rerror: ")[-1]  # after the progress bar of the check
    assert err.startswith("1 of 5 BraTS subjects failed validation; nothing was written")
    assert "(--skip-bad-subjects)" in err and "subject 'BraTS2021_00001'" in err and "Traceback" not in err
    assert not out.exists()
    assert train_cli.build_parser().parse_args(["--skip-bad-subjects"]).skip_bad_subjects is True
    config = TrainConfig(data_dir=str(brats), image_size=16, tfds_data_dir=str(tfds), skip_bad_subjects=True)
    builder = run.prepared_builder(config)
    assert [r["subject_id"] for r in builder.info.metadata["rejected_subjects"]] == ["BraTS2021_00001"]
    with pytest.raises(ValueError, match="skip_bad_subjects must be true or false"):
        TrainConfig(skip_bad_subjects="yes")


def test_data_dir_other_than_the_prepared_source_is_a_message(tmp_path, capsys):
    import shutil

    brats, tfds = _bad_brats_folder(tmp_path), tmp_path / "tfds"
    (brats / "BraTS2021_00001").rename(tmp_path / "aside")
    run.prepared_builder(TrainConfig(data_dir=str(brats), image_size=16, tfds_data_dir=str(tfds)))
    other = tmp_path / "other"
    shutil.copytree(brats, other)
    argv = ["--data-dir", str(other), "--image-size", "16", "--tfds-data-dir", str(tfds), "--epochs", "1"]
    argv += ["--steps-per-epoch", "1", "--batch-size", "2", "--validation-steps", "1", "--base-filters", "4"]
    assert exit_code(argv + ["--res-blocks", "1", "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.split("error: ")[-1]
    assert f"was prepared from {brats}, not from {other}" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_output_dir_that_is_a_file_or_a_symlink_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("keep")
    (tmp_path / "target").mkdir()
    os.symlink(tmp_path / "target", tmp_path / "link")
    assert exit_code(["--output-dir", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert exit_code(["--output-dir", str(tmp_path / "link"), "--overwrite"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "keep" and os.listdir(tmp_path / "target") == []


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", json.dumps({"epochs": "many"})])
def test_a_config_json_that_is_not_ours_is_refused_with_a_message(text, tmp_path, capsys):
    (tmp_path / "config.json").write_text(text)
    assert exit_code(["--output-dir", str(tmp_path), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "not a magan_keras run folder" in err and err.count("\n") == 1
    assert (tmp_path / "config.json").read_text() == text


@pytest.mark.parametrize("subjects", ["1", "2"])
def test_too_few_phantom_subjects_are_refused_naming_the_minimum(subjects, tmp_path, capsys):
    assert exit_code(["--num-subjects", subjects, "--output-dir", str(tmp_path / "run")]) == 2
    assert "num_subjects must be at least 3" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    TrainConfig(num_subjects=3)  # the minimum itself is accepted


# === 5. Logs that read well outside a terminal ===


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_fit_verbosity_is_one_line_per_epoch_unless_stdout_is_a_terminal(tmp_path, monkeypatch):
    assert run.fit_verbosity(io.StringIO()) == 2
    assert run.fit_verbosity(FakeTerminal()) == "auto"
    seen = {}

    def fake_train(config, verbose="auto", extra_callbacks=()):
        seen["verbose"] = verbose
        raise run.RunFolderError("stop here")

    monkeypatch.setattr(run, "train", fake_train)
    assert train_cli.main(["--output-dir", str(tmp_path / "run")]) == 2  # pytest's stdout is not a terminal
    assert seen["verbose"] == 2
    monkeypatch.setattr("sys.stdout", FakeTerminal())
    train_cli.main(["--output-dir", str(tmp_path / "run")])
    assert seen["verbose"] == "auto"


# === 2. A finished training is recognised and only its last steps are redone ===


class CountFits:
    """A callback that counts `fit` calls (it is only passed to `fit` when fit runs)."""

    def __init__(self):
        import keras

        counter = self

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                counter.fits += 1

            def on_epoch_begin(self, epoch, logs=None):
                counter.epochs.append(epoch)

        self.fits = 0
        self.epochs = []
        self.callback = Callback()


def fail_once(monkeypatch, owner, name, when=lambda *a, **k: True):
    original = getattr(owner, name)
    state = {"failed": False}

    def flaky(*args, **kwargs):
        if not state["failed"] and when(*args, **kwargs):
            state["failed"] = True
            raise KeyboardInterrupt(f"killed in {name}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return state


def metrics_epochs(out):
    return [line.split(",")[0] for line in (out / "metrics.csv").read_text().strip().splitlines()[1:]]


@pytest.mark.slow
def test_interruption_after_fit_redoes_only_the_final_steps(tmp_path, tfds_dir, monkeypatch):
    out = tmp_path / "run"
    config = TrainConfig(**TINY, epochs=2, steps_per_epoch=2, output_dir=str(out), tfds_data_dir=tfds_dir)
    fail_once(monkeypatch, run, "evaluate_per_target")
    counter = CountFits()
    with pytest.raises(KeyboardInterrupt):
        run.train(config, verbose=0, extra_callbacks=[counter.callback])
    assert run.read_marker(str(out))["training_done"] is True and (out / "model.keras").is_file()
    assert not (out / "report.md").exists()
    result = run.train(config, verbose=0, extra_callbacks=[counter.callback])
    assert counter.fits == 1  # fit was not run again
    assert metrics_epochs(out) == ["0", "1"]
    assert os.path.isfile(result.report_path) and (out / "test_metrics.json").is_file()


@pytest.mark.slow
def test_interruption_during_the_final_model_save_does_not_train_again(tmp_path, tfds_dir, monkeypatch):
    from magan_keras import atomic

    out = tmp_path / "run"
    config = TrainConfig(**TINY, epochs=2, steps_per_epoch=2, output_dir=str(out), tfds_data_dir=tfds_dir)
    fail_once(monkeypatch, atomic, "save_model", when=lambda model, path: os.fspath(path).endswith("/model.keras"))
    counter = CountFits()
    with pytest.raises(KeyboardInterrupt):
        run.train(config, verbose=0, extra_callbacks=[counter.callback])
    assert not (out / "model.keras").exists() and not run.read_marker(str(out))["training_done"]
    run.train(config, verbose=0, extra_callbacks=[counter.callback])
    assert counter.epochs == [0, 1]  # the rerun's fit resumed after the last epoch: no epoch trained twice
    assert metrics_epochs(out) == ["0", "1"]
    assert (out / "model.keras").is_file() and (out / "report.md").is_file()


@pytest.mark.slow
def test_interruption_while_last_keras_is_written_leaves_no_stale_checkpoint(tmp_path, tfds_dir, monkeypatch):
    from magan_keras.training import callbacks

    out = tmp_path / "run"
    config = TrainConfig(**TINY, epochs=2, steps_per_epoch=2, output_dir=str(out), tfds_data_dir=tfds_dir)
    last = out / "checkpoints" / "last.keras"
    fail_once(
        monkeypatch,
        callbacks.atomic,
        "save_model",
        when=lambda model, path: os.fspath(path).endswith("last.keras") and last.exists(),
    )
    with pytest.raises(KeyboardInterrupt):
        run.train(config, verbose=0)
    stale = last.stat().st_mtime_ns
    run.train(config, verbose=0)
    assert last.stat().st_mtime_ns > stale
    assert metrics_epochs(out) == ["0", "1"]
