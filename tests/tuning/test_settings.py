"""`magan_keras.tuning.settings`: the merge order of a search's options and their validation."""

import json

import pytest

from magan_keras.tuning import settings as tune_settings
from magan_keras.tuning.settings import TUNE_DEFAULTS, TuneSettings, make_settings


def test_defaults_are_the_quick_cpu_search(tmp_path):
    settings = make_settings(output_dir=str(tmp_path / "tune"))
    assert {k: getattr(settings.config, k) for k in TUNE_DEFAULTS} == TUNE_DEFAULTS
    assert (settings.tuner, settings.objective, settings.max_trials) == ("bayesian", "ssim", 10)
    assert settings.project_dir == str(tmp_path / "tune" / "search")


def test_config_file_overrides_only_the_keys_it_names_and_options_win(tmp_path):
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"base_filters": 12, "lambda_l1": 40.0}))
    settings = make_settings(config_file=str(path), options={"lambda_l1": 60.0, "epochs": None})
    assert settings.config.base_filters == 12  # from the file
    assert settings.config.lambda_l1 == 60.0  # the option wins
    assert settings.config.image_size == TUNE_DEFAULTS["image_size"]  # not in the file: the tune default
    assert settings.config.epochs == TUNE_DEFAULTS["epochs"]  # None means "not given"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(options={"gamma": 0.3}), "--gamma is searched"),
        (dict(search_space="extended", options={"lambda_l1": 50.0}), "--lambda-l1 is searched"),
        (dict(tuner="hyperband", max_trials=3), "hyperband"),
        (dict(tuner="hyperband", hyperband_factor=1), "at least 2"),
        (dict(tuner="grid"), "tuner must be one of"),
        (dict(objective="fid"), "objective must be one of"),
        (dict(max_trials=0), "max_trials"),
        (dict(max_failures=-1), "max_failures"),
        (dict(options={"strategy": "multi_worker"}), "multi_worker"),
        (dict(options={"image_size": 30}), "image_size"),
        (dict(search_space="nope"), "nope"),
        (dict(config_file="missing.toml"), "missing.toml"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_settings(**kwargs)


def test_identity_ignores_what_may_differ_between_processes(tmp_path):
    a = make_settings(output_dir=str(tmp_path / "a"), options={"tfds_data_dir": "/data/one"})
    b = make_settings(output_dir=str(tmp_path / "b"), options={"tfds_data_dir": "/data/two"})
    assert a.identity() == b.identity()
    assert make_settings(objective="psnr").identity() != a.identity()
    assert "hyperband_factor" in make_settings(tuner="hyperband").identity()


def test_settings_validate_when_made_directly():
    base = make_settings()
    with pytest.raises(ValueError, match="verbose"):
        TuneSettings(base.config, base.space, verbose=3)
    assert tune_settings.DEFAULT_MAX_TRIALS == TuneSettings(base.config, base.space).max_trials
