"""The tuner takes the training command's split options, and refuses an empty validation split."""

import pytest

from magan_keras.cli.tune import build_parser, settings_from_args
from magan_keras.tuning.settings import make_settings


def test_split_options_reach_the_trials_config(tmp_path):
    args = build_parser().parse_args(["--split-fractions", "0.6,0.4,0", "--output-dir", str(tmp_path / "t")])
    assert settings_from_args(args).config.split_fractions == (0.6, 0.4, 0.0)


def test_an_empty_validation_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="ranks trials on the validation split"):
        make_settings(options={"split_fractions": (1.0, 0.0, 0.0)})
    split_file = tmp_path / "split.csv"
    split_file.write_text("phantom-0000,train\nphantom-0001,test\n")
    with pytest.raises(ValueError, match=r"split\.csv gives it no subject"):
        make_settings(options={"split_file": str(split_file)})
