"""One set of defaults: `MAGAN()` is what the training command trains; the paper is a named preset."""

import pytest

from magan_keras import MAGAN
from magan_keras.models import presets
from magan_keras.training.config import TrainConfig


def test_magan_with_no_arguments_builds_what_the_training_command_trains():
    model_config = MAGAN().get_config()
    train_kwargs = TrainConfig().model_kwargs()
    assert train_kwargs  # the comparison below covers every model field of the config
    for key, value in train_kwargs.items():
        assert model_config[key] == value, key


def test_every_model_field_of_the_training_config_comes_from_the_default_preset():
    assert set(TrainConfig().model_kwargs()) <= set(presets.DEFAULT)
    for key, value in TrainConfig().model_kwargs().items():
        assert presets.DEFAULT[key] == value, key


def test_the_paper_preset_is_the_papers_model_and_loss():
    model = presets.paper(image_size=32, base_filters=4, res_blocks=1)
    assert (model.decoder_skip, model.lambda_ssim, model.lambda_l1) == (False, 0.0, 100.0)
    assert (presets.PAPER["image_size"], presets.PAPER["base_filters"], presets.PAPER["res_blocks"]) == (256, 64, 6)
    assert MAGAN(**{**presets.PAPER, "image_size": 32, "base_filters": 4, "res_blocks": 1}).decoder_skip is False


@pytest.mark.parametrize(
    "options, message",
    [
        ({"res_blocks": 10**8}, r"res_blocks must be an integer in \[0, 64\]"),
        ({"image_size": 30}, "multiple of 4"),
        ({"base_filters": 2.5}, "base_filters must be an integer"),
        ({"lambda_ssim": float("nan")}, "lambda_ssim must be a number >= 0"),
        ({"decoder_skip": "yes"}, "decoder_skip must be true or false"),
        ({"gan_loss": "wgan"}, "gan_loss must be one of"),
        ({"generator": "single_input", "modal_attention": True}, "needs modal_attention false"),
        ({"learning_rate": 1e-3}, "unknown MAGAN options"),
    ],
)
def test_one_validator_refuses_bad_options_for_the_model_and_the_config(options, message):
    with pytest.raises(ValueError, match=message):
        presets.validate_options(options)
    model_options = {k: v for k, v in options.items() if k in presets.DEFAULT}
    if model_options:
        with pytest.raises(ValueError, match=message):
            MAGAN(**{**model_options, **({"decoder_skip": False} if "generator" in options else {})})
        with pytest.raises(ValueError, match=message):
            TrainConfig.from_dict({**model_options, **({"decoder_skip": False} if "generator" in options else {})})


def _strip_keys(value, keys):
    if isinstance(value, dict):
        return {k: _strip_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_strip_keys(v, keys) for v in value]
    return value


def test_a_model_saved_before_the_defaults_changed_loads_as_it_was_built(tmp_path, tiny_batch):
    import json
    import zipfile

    import keras
    import numpy as np

    model = MAGAN(image_size=32, base_filters=4, res_blocks=1, decoder_skip=False, lambda_ssim=0.0)
    model.save(tmp_path / "new.keras")
    # What an earlier version wrote: no decoder_skip, lambda_ssim or preprocessing anywhere.
    with zipfile.ZipFile(tmp_path / "new.keras") as source, zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                data = json.dumps(_strip_keys(json.loads(data), {"decoder_skip", "lambda_ssim", "preprocessing"}))
            old.writestr(item, data)
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    assert (loaded.decoder_skip, loaded.lambda_ssim) == (False, 0.0)
    assert loaded.preprocessing.assumed and loaded.generator.preprocessing.canvas_size == 256
    inputs, _ = tiny_batch
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6)


def test_preprocessing_is_saved_with_the_model_and_the_generator(tmp_path):
    import keras

    record = {"canvas_size": 48, "min_brain_fraction": 0.1}
    model = MAGAN(image_size=32, base_filters=4, res_blocks=1, preprocessing=record)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for network in (loaded, loaded.generator):
        assert (network.preprocessing.canvas_size, network.preprocessing.min_brain_fraction) == (48, 0.1)
        assert not network.preprocessing.assumed
    assert MAGAN(image_size=32, base_filters=4, res_blocks=1).get_config()["preprocessing"] is None
