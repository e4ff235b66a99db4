"""2.5-D context in the models: branches of 2K+1 slices, D and SR on the centre slice, `.keras` round trips."""

import json
import zipfile

import keras
import numpy as np
import pytest

from magan_keras import MAGAN, MultiBranchGenerator
from magan_keras.models.presets import validate_options
from magan_keras.training.config import TrainConfig

SIZE = 16
TINY = {"image_size": SIZE, "base_filters": 4, "res_blocks": 1}


def batch(k, seed=0, count=2):
    rng = np.random.default_rng(seed)
    available = np.array([[1, 1, 1, 0], [0, 1, 1, 1]], np.float32)[:count]
    inputs = {
        "images": rng.uniform(-1, 1, (count, SIZE, SIZE, 4)).astype(np.float32) * available[:, None, None, :],
        "available": available,
        "target": np.array([[0, 0, 0, 1], [1, 0, 0, 0]], np.float32)[:count],
    }
    if k:
        inputs["context"] = rng.uniform(-1, 1, (count, SIZE, SIZE, 4, 2 * k)).astype(np.float32)
    return inputs, rng.uniform(-1, 1, (count, SIZE, SIZE, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2.5-D MAGAN (K = 1), saved and reloaded (training it is `test_a_context_model_trains_a_step`)."""
    keras.utils.set_random_seed(0)
    model = MAGAN(**TINY, context_slices=1)
    path = tmp_path_factory.mktemp("context") / "k1.keras"
    model.save(path)
    return model, keras.saving.load_model(path)


def test_a_context_model_round_trips_through_keras_files(trained):
    model, loaded = trained
    assert loaded.context_slices == 1 and loaded.generator.context_slices == 1
    inputs, _ = batch(1, seed=5)
    np.testing.assert_allclose(loaded(inputs).numpy(), model(inputs).numpy(), atol=1e-6)
    # Only the branches' first convolution takes 2K + 1 slices (plus the M target planes).
    kernels = [w.shape for w in loaded.generator.weights if "encoder_t1/" in w.path and w.shape[:2] == (7, 7)]
    assert kernels[0][2] == 3 + 4
    # D and SR stay on the centre slice: the same shapes as a 2-D model's.
    plain = MAGAN(**TINY)
    assert [w.shape for w in loaded.discriminator.weights] == [w.shape for w in plain.discriminator.weights]
    assert [w.shape for w in loaded.self_representation.weights] == [w.shape for w in plain.self_representation.weights]


def test_the_context_is_used_and_a_missing_contrasts_context_is_not(trained):
    _, model = trained
    inputs, _ = batch(1, seed=2, count=1)  # flair missing
    base = model.generator(inputs).numpy()
    changed = dict(inputs, context=inputs["context"].copy())
    changed["context"][..., 0, :] += 0.5  # t1's neighbours (given)
    assert np.abs(model.generator(changed).numpy() - base).max() > 1e-4
    hidden = dict(inputs, context=inputs["context"].copy())
    hidden["context"][..., 3, :] = 7.0  # flair's neighbours (missing): masked inside the model
    np.testing.assert_array_equal(model.generator(hidden).numpy(), base)


def test_a_context_model_trains_a_step(trained):
    _, model = trained  # the reloaded copy (the other one stays as saved)
    model.compile(run_eagerly=True)  # one step: tracing would cost more than it
    inputs, y = batch(1)
    logs = model.train_on_batch(inputs, y, return_dict=True)
    assert np.isfinite(logs["g_loss"]) and np.isfinite(logs["d_loss"])


def test_a_context_model_without_context_or_with_other_depth_is_refused(trained):
    _, model = trained
    inputs, _ = batch(0)
    with pytest.raises(ValueError, match=r"context_slices=1\) needs inputs\['context'\]"):
        model.generator(inputs)
    with pytest.raises(ValueError, match="holds 4 neighbours per contrast; a model with context_slices=1 takes 2"):
        model.generator(batch(2)[0])


def test_k0_models_saved_before_the_option_load_with_identical_outputs(tmp_path):
    keras.utils.set_random_seed(1)
    model = MultiBranchGenerator(**TINY, decoder_skip=True)
    model.build_on_zeros()
    assert model.context_slices == 0 and "context_slices" in model.get_config()
    model.save(tmp_path / "new.keras")
    # What an earlier version wrote: no context_slices anywhere in the config.
    with zipfile.ZipFile(tmp_path / "new.keras") as source, zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                data = data.decode().replace('"context_slices": 0, ', "").replace(', "context_slices": 0', "")
                assert "context_slices" not in data
                json.loads(data)
            old.writestr(item, data)
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    assert loaded.context_slices == 0
    inputs, _ = batch(0, seed=3)
    np.testing.assert_array_equal(loaded(inputs).numpy(), model(inputs).numpy())
    # A stray context does not reach a 2-D model.
    stray = dict(inputs, context=np.ones((2, SIZE, SIZE, 4, 2), np.float32))
    np.testing.assert_array_equal(loaded(stray).numpy(), loaded(inputs).numpy())


@pytest.mark.parametrize("value", [-1, 9, 1.5, True, "1"])
def test_a_bad_k_is_refused_with_one_line(value):
    with pytest.raises(ValueError, match=r"^context_slices must be an integer in \[0, 8\], got "):
        validate_options({"context_slices": value})
    with pytest.raises(ValueError, match=r"^context_slices must be an integer in \[0, 8\]"):
        TrainConfig(context_slices=value)
    with pytest.raises(ValueError, match="context_slices must be an integer"):
        MultiBranchGenerator(**TINY, context_slices=value)


def test_the_single_input_generator_takes_no_context():
    with pytest.raises(ValueError, match="needs modal_attention false and decoder_skip false and context_slices 0"):
        validate_options({"generator": "single_input", "modal_attention": True, "decoder_skip": True,
                          "context_slices": 1})  # fmt: skip
    assert TrainConfig(context_slices=2).model_kwargs()["context_slices"] == 2
