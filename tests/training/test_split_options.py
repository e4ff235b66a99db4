"""Training with user-controlled splits: an empty validation split trains without it (warned), options validated."""

import contextlib
import io
import json
import warnings

import pytest

from magan_keras.cli.options import add_config_options, config_from_args
from magan_keras.training.config import TrainConfig
from magan_keras.training.run import train

TINY = dict(image_size=16, base_filters=4, res_blocks=1, epochs=1, steps_per_epoch=1, batch_size=2, validation_steps=1)


def test_fractions_1_0_0_train_without_validation_and_warn(tmp_path):
    config = TrainConfig(
        **TINY,
        num_subjects=4,
        split_fractions=(1, 0, 0),
        output_dir=str(tmp_path / "run"),
        tfds_data_dir=str(tmp_path / "tfds"),
    )
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        result = train(config, verbose=0)
    messages = " | ".join(str(w.message) for w in caught)
    assert "the validation split is empty: training without validation" in messages
    assert "no test or validation subjects" in messages
    assert result.test_metrics == {}
    columns = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "ssim" in columns
    assert "No test or validation subjects" in (tmp_path / "run" / "report.md").read_text()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["split_fractions"] == [1.0, 0.0, 0.0]
    assert (tmp_path / "run" / "model.keras").is_file()


def test_split_options_are_validated(tmp_path):
    with pytest.raises(ValueError, match="add up to 1"):
        TrainConfig(split_fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="train fraction"):
        TrainConfig(split_fractions="0,0.5,0.5")
    with pytest.raises(ValueError, match="cannot be read"):
        TrainConfig(split_file=str(tmp_path / "nope.csv"))
    with pytest.raises(ValueError, match="validation_data_dir needs data_dir"):
        TrainConfig(validation_data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="keeps its splits"):
        TrainConfig(dataset="brats/slices_128", split_fractions=(1, 0, 0))
    assert TrainConfig(split_fractions="0.6,0.2,0.2").split_fractions == (0.6, 0.2, 0.2)


def test_split_options_on_the_train_command_line(tmp_path):
    import argparse

    parser = add_config_options(argparse.ArgumentParser())
    parser.add_argument("--config")
    split_file = tmp_path / "split.csv"
    split_file.write_text("phantom-0000,train\nphantom-0001,train\nphantom-0002,test\n")
    args = parser.parse_args(["--split-fractions", "1,0,0", "--num-subjects", "3"])
    assert config_from_args(args).split_fractions == (1.0, 0.0, 0.0)
    args = parser.parse_args(["--split-file", str(split_file), "--num-subjects", "3"])
    assert config_from_args(args).split_file == str(split_file)
    with pytest.raises(SystemExit):
        parser.parse_args(["--split-fractions", "1,1,0"])
