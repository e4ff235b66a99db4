"""`lr_decay="linear"`: pix2pix's hold-then-linear-decay learning rate for G, D and SR."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras.training.config import TrainConfig
from magan_keras.training.run import build_model
from magan_keras.training.schedules import HoldThenLinearDecay, learning_rate_for

pytestmark = pytest.mark.multibackend


def rate_at(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


# One to five steps on a tiny model: eager on TensorFlow, where the first traced step costs
# about 23 s here and an eager one 2.5 s (JAX compiles faster than it dispatches op by op).
EAGER = keras.backend.backend() == "tensorflow"


def test_rate_is_held_then_falls_linearly_to_zero_and_stays_there():
    schedule = HoldThenLinearDecay(1e-3, hold_steps=10, decay_steps=20)
    rates = [rate_at(schedule, step) for step in (0, 9, 10, 15, 20, 29, 30, 100)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-3, 7.5e-4, 5e-4, 5e-5, 0.0, 0.0], atol=1e-9)


def test_config_holds_for_the_first_half_of_the_run():
    config = TrainConfig(learning_rate=4e-4, lr_decay="linear", epochs=3, steps_per_epoch=10)
    schedule = learning_rate_for(config)
    assert schedule.get_config() == {"initial_learning_rate": 4e-4, "hold_steps": 15, "decay_steps": 15}
    assert learning_rate_for(config.replace(lr_decay="none")) == 4e-4


def test_decayed_model_stops_learning_at_the_end_and_saves_its_schedule(tmp_path, tiny_batch):
    config = TrainConfig(image_size=32, base_filters=4, res_blocks=1, lr_decay="linear", epochs=1, steps_per_epoch=4)
    model = build_model(config)
    model.run_eagerly = EAGER  # the schedule, not the traced step, is under test
    model.fit(tf.data.Dataset.from_tensors(tiny_batch).repeat(), epochs=1, steps_per_epoch=4, verbose=0)
    for optimizer in (model.g_optimizer, model.d_optimizer, model.sr_optimizer):
        assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 4
        assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == 0.0
    generator_before = [keras.ops.convert_to_numpy(v).copy() for v in model.generator.weights]
    model.fit(tf.data.Dataset.from_tensors(tiny_batch).repeat(), epochs=1, steps_per_epoch=1, verbose=0)
    for before, after in zip(generator_before, model.generator.weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(after))

    model.save(tmp_path / "decayed.keras")
    loaded = keras.saving.load_model(tmp_path / "decayed.keras")
    schedule = loaded.g_optimizer._learning_rate
    assert isinstance(schedule, HoldThenLinearDecay)
    assert schedule.get_config() == {"initial_learning_rate": config.learning_rate, "hold_steps": 2, "decay_steps": 2}


def test_unknown_lr_decay_is_refused():
    with pytest.raises(ValueError, match="lr_decay"):
        TrainConfig(lr_decay="cosine")


def test_a_saved_model_loads_after_a_bare_import_magan_keras(tmp_path, tiny_batch):
    # What `python -m magan_keras.synthesize` and users' scripts do with the training command's
    # model.keras: a fresh interpreter that imports only `magan_keras` (the schedule used to be
    # unregistered there, so loading failed). Loading compiles the model from its saved
    # compile config, schedule included, whether or not it has trained.
    config = TrainConfig(image_size=32, base_filters=4, res_blocks=1, epochs=1, steps_per_epoch=2, decoder_skip=True)
    model = build_model(config)
    expected = keras.ops.convert_to_numpy(model.predict(tiny_batch[0], verbose=0))
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "inputs.npy", {k: np.asarray(v) for k, v in tiny_batch[0].items()}, allow_pickle=True)
    script = (
        "import sys, numpy as np, keras, magan_keras\n"
        f"m = keras.saving.load_model({str(path)!r})\n"
        f"inputs = np.load({str(tmp_path / 'inputs.npy')!r}, allow_pickle=True).item()\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, keras.ops.convert_to_numpy(m.predict(inputs, verbose=0)))\n"
        "print(type(m.g_optimizer._learning_rate).__name__, m.decoder_skip)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend()},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["HoldThenLinearDecay", "True"]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)
