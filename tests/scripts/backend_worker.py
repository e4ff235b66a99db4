"""One backend's side of `tests/test_backends.py`; run once per backend, in its own process.

Usage: KERAS_BACKEND=NAME python backend_worker.py RUN_DIR [--data-parallel]

Loads `RUN_DIR/initial.keras` (written under another backend), records what G, D and
SR output on the tiny batch, trains `STEPS` steps with `fit` on a `tf.data` pipeline
(one step per epoch, so the history holds each step's losses), evaluates, and saves
`RUN_DIR/NAME/model.keras`, `outputs.npz` and `results.json`. With `--data-parallel`
(JAX, started with `XLA_FLAGS=--xla_force_host_platform_device_count=2`) it then trains
the same steps again under `keras.distribution.DataParallel` over every device.
"""

import json
import os
import sys

import keras
import numpy as np
import tensorflow as tf  # the input pipeline, whatever the backend

import magan_keras  # noqa: E402,F401  (registers MAGAN for load_model)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from conftest import make_tiny_batch  # noqa: E402

STEPS = 4


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def network_outputs(model, inputs, y):
    """G's synthesis and features, D's logits on the real target, SR's output and features."""
    generator = model.generator.call_with_features(inputs, training=False)
    reconstruction, teacher = model.self_representation.call_with_features(y, training=False)
    logits = model.discriminator(dict(inputs, candidate=y), training=False)
    outputs = {name: generator[name] for name in ("synthesis", "branch_features", "fused_features")}
    outputs.update(discriminator=logits, reconstruction=reconstruction, teacher=teacher)
    return {name: to_numpy(value) for name, value in outputs.items()}


def train(model, batch):
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    history = model.fit(dataset, epochs=STEPS, steps_per_epoch=1, verbose=0).history
    return {name: [float(v) for v in values] for name, values in history.items()}


def main(run_dir, data_parallel=False):
    backend = keras.backend.backend()
    out_dir = os.path.join(run_dir, backend)
    os.makedirs(out_dir, exist_ok=True)
    inputs, y = make_tiny_batch()
    model = keras.saving.load_model(os.path.join(run_dir, "initial.keras"))
    arrays = {f"initial_{k}": v for k, v in network_outputs(model, inputs, y).items()}
    results = {"train": train(model, (inputs, y))}
    results["evaluate"] = {k: float(v) for k, v in model.evaluate(inputs, y, verbose=0, return_dict=True).items()}
    results["iterations"] = {
        name: int(to_numpy(getattr(model, name).iterations)) for name in ("g_optimizer", "d_optimizer", "sr_optimizer")
    }
    arrays["trained_prediction"] = to_numpy(model.predict(inputs, verbose=0))
    model.save(os.path.join(out_dir, "model.keras"))
    if data_parallel:
        import jax

        distribution = keras.distribution.DataParallel(devices=jax.devices())
        keras.distribution.set_distribution(distribution)
        parallel = keras.saving.load_model(os.path.join(run_dir, "initial.keras"))
        variable = parallel.generator.trainable_variables[0].value
        results["data_parallel"] = {
            "devices": len(jax.devices()),
            "variable_devices": len(variable.sharding.device_set),
            "batch_axes": list(distribution.get_data_layout(np.shape(y)).axes),
            "train": train(parallel, (inputs, y)),
        }
    np.savez(os.path.join(out_dir, "outputs.npz"), **arrays)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], data_parallel="--data-parallel" in sys.argv[2:])
