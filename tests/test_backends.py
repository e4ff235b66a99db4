"""TensorFlow, JAX and PyTorch give the same model: outputs, training, files, data parallelism.

The backend is fixed per process when Keras is imported, so each backend runs
`scripts/backend_worker.py` in its own process (the three at once). This process
writes the initial model (`initial.keras`, under its own backend, TensorFlow by
default); every worker loads it, so all three start from the same weights, and this
process then loads each worker's trained `.keras` file: with TensorFlow here, files
go TensorFlow -> JAX, TensorFlow -> torch, JAX -> TensorFlow and torch -> TensorFlow.
Needs the `backends` extra (jax, torch): marked `backends`, which the default run
deselects; run with `pytest -m backends tests/test_backends.py`.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from magan_keras import MAGAN

pytestmark = pytest.mark.backends

BACKENDS = ("tensorflow", "jax", "torch")
WORKER = os.path.join(os.path.dirname(__file__), "scripts", "backend_worker.py")
# G, D and SR get different learning rates (JAX's OptimizerGroup must keep them
# apart) and SGD with momentum (optimiser state that JAX must thread through its step).
# Why not Adam here: in its first steps Adam moves every weight by about +-lr whatever
# the gradient's size, so weights whose gradient is zero up to rounding take full
# steps of random sign; after 4 steps the losses then differed by up to 3e-3
# (relative) between backends although the first update agreed to 1e-7. SGD keeps
# each update proportional to its gradient, so rounding stays rounding: measured
# differences below 1e-5 relative over these 4 steps. LOSS_RTOL = 1e-4 leaves room for
# other CPUs and library versions, while a real fault moves some loss by far more
# from the second step on (tried: g_loss's gradient leaking into D's update on torch
# moved g_gan by 1e-1 and d_loss by 9e-3 at step 2).
LEARNING_RATES = {"g_optimizer": 1e-3, "d_optimizer": 1e-2, "sr_optimizer": 5e-3}
LOSS_RTOL = 1e-4
# `evaluate` scores the weights after the 4th update, one update past the last training
# loss, and its SSIM divides by local variances of a barely trained synthesis, which
# amplifies rounding: measured 1.02e-4 relative (3.5e-5 absolute SSIM) between JAX and
# TensorFlow on a CI machine, against below 1e-5 here. 3e-4 still sits far below what a
# real fault moves (1e-1 on g_gan, 9e-3 on d_loss, above).
EVALUATE_RTOL = 3 * LOSS_RTOL
# Same weights, same inputs: the 1e-5 in float32, as absolute error plus the
# same relative error (branch features reach 7, where 1e-5 is 10 float32 ulps).
OUTPUT_TOL = 1e-5


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs the three workers (JAX also under DataParallel); returns their results."""
    run_dir = tmp_path_factory.mktemp("backends")
    keras.utils.set_random_seed(7)
    model = MAGAN(image_size=32, base_filters=4, res_blocks=1)
    model.compile(
        **{
            name: keras.optimizers.SGD(rate, momentum=0.5, name=name.replace("optimizer", "sgd"))
            for name, rate in LEARNING_RATES.items()
        }
    )
    model.save(run_dir / "initial.keras")
    processes = {}
    for backend in BACKENDS:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        args = [sys.executable, WORKER, str(run_dir)]
        if backend == "jax":
            env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
            args.append("--data-parallel")
        processes[backend] = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    results = {}
    try:
        for backend, process in processes.items():
            log = process.communicate(timeout=420)[0]
            assert process.returncode == 0, f"{backend} worker failed:\n{log[-4000:]}"
            with open(run_dir / backend / "results.json") as f:
                results[backend] = json.load(f)
            with np.load(run_dir / backend / "outputs.npz") as arrays:
                results[backend].update(dict(arrays))
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return run_dir, results


def test_same_weights_give_the_same_outputs_on_every_backend(runs):
    _, results = runs
    names = [k for k in results["tensorflow"] if k.startswith("initial_")]
    assert len(names) == 6
    for backend in ("jax", "torch"):
        for name in names:
            np.testing.assert_allclose(
                results[backend][name],
                results["tensorflow"][name],
                atol=OUTPUT_TOL,
                rtol=OUTPUT_TOL,
                err_msg=f"{backend} {name}",
            )


def test_a_short_training_run_gives_the_same_losses_on_every_backend(runs):
    _, results = runs
    reference = results["tensorflow"]["train"]
    assert set(reference) >= {"g_loss", "d_loss", "sr_loss", "g_l1", "g_intra", "g_inter", "ssim"}
    assert abs(reference["g_loss"][-1] - reference["g_loss"][0]) > 100 * LOSS_RTOL * reference["g_loss"][0]
    for backend in ("jax", "torch"):
        for name, values in reference.items():
            np.testing.assert_allclose(
                results[backend]["train"][name], values, rtol=LOSS_RTOL, err_msg=f"{backend} {name}"
            )
        for name, value in results["tensorflow"]["evaluate"].items():
            assert results[backend]["evaluate"][name] == pytest.approx(value, rel=EVALUATE_RTOL), (backend, name)
        assert set(results[backend]["iterations"].values()) == {4}


def test_keras_files_load_and_predict_under_another_backend(runs, tiny_batch):
    run_dir, results = runs
    inputs, _ = tiny_batch
    for backend in BACKENDS:  # this process's backend loads every worker's file
        loaded = keras.saving.load_model(run_dir / backend / "model.keras")
        np.testing.assert_allclose(
            loaded.predict(inputs, verbose=0),
            results[backend]["trained_prediction"],
            atol=OUTPUT_TOL,
            err_msg=backend,
        )
        for name, rate in LEARNING_RATES.items():
            optimizer = getattr(loaded, name)
            assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(rate)
            assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 4


def test_jax_data_parallel_on_two_devices_equals_one_device(runs):
    _, results = runs
    parallel = results["jax"]["data_parallel"]
    assert parallel["devices"] == 2 and parallel["variable_devices"] == 2  # weights replicated
    assert parallel["batch_axes"][0] == "batch"  # the batch is split over the devices
    for name, values in results["jax"]["train"].items():
        # Only the order of the cross-device sums differs from the one-device step: float32
        # rounding, about 1e-7 absolute (an SSIM of 0.011 moved by 1.8e-7 on an AMD EPYC host).
        # A wrong reduction (a doubled or halved gradient) moves these by orders of magnitude more.
        np.testing.assert_allclose(parallel["train"][name], values, rtol=1e-5, atol=1e-6, err_msg=name)
