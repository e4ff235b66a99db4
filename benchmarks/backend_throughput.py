"""MAGAN training-step throughput per Keras backend (TensorFlow, JAX, PyTorch), in examples/s.

Each backend runs in its own process (Keras fixes the backend at import), one after the
other so they never share the CPU, on the same configuration and the same random
batch, fed by `fit` from a repeated `tf.data` batch. Each process builds the model, runs
`--warmup` steps (tracing and compilation), then times `--steps` steps of `fit`.
Backends use Keras' default compilation (`jit_compile="auto"`): XLA for JAX, a
`tf.function` without XLA for TensorFlow on CPU, eager for torch. Prints a table with
each backend's ratio to TensorFlow in the same run; asserts nothing.

Args (command line):
    --backends: which backends (default tensorflow jax torch).
    --configs: SIZE:FILTERS:BLOCKS:BATCH settings (default 64:16:2:4).
    --steps: timed steps (default 20).
    --warmup: untimed steps first (default 3).

Example:

```
python -m benchmarks.backend_throughput --configs 64:16:2:4 128:32:2:4 --steps 10
```
"""

import argparse
import time

import numpy as np

from benchmarks import worker
from benchmarks.model_configs import model_options, parse_config

BACKENDS = ("tensorflow", "jax", "torch")


def random_batch(batch_size, image_size, num_modalities=4, seed=0, context_slices=0):
    """A batch `(inputs, y)` of random images, one target per example, the rest available.

    With `context_slices` K > 0 the inputs also hold random K-neighbour `context`
    (`[B, H, W, M, 2K]`, the target's channels zero), as a 2.5-D model takes.
    """
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1.0, 1.0, (batch_size, image_size, image_size, num_modalities)).astype("float32")
    target = np.eye(num_modalities, dtype="float32")[np.arange(batch_size) % num_modalities]
    y = np.sum(images * target[:, None, None, :], axis=-1, keepdims=True)
    inputs = {"images": images * (1.0 - target)[:, None, None, :], "available": 1.0 - target, "target": target}
    if context_slices:
        shape = (batch_size, image_size, image_size, num_modalities, 2 * context_slices)
        context = rng.uniform(-1.0, 1.0, shape).astype("float32")
        inputs["context"] = context * (1.0 - target)[:, None, None, :, None]
    return inputs, y


def measure(name, image_size, base_filters, res_blocks, batch_size, steps, warmup):
    """Times `steps` training steps of `fit` in this process's backend; returns a dict."""
    import keras
    import tensorflow as tf

    from magan_keras import MAGAN

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    model = MAGAN(**model_options(name, image_size, base_filters, res_blocks))
    model.compile()
    dataset = tf.data.Dataset.from_tensors(random_batch(batch_size, image_size)).repeat()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup, verbose=0)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = (time.perf_counter() - start) / steps
    return {
        "backend": keras.backend.backend(),
        "jit_compile": bool(model.jit_compile),
        "seconds_per_step": seconds,
        "examples_per_second": batch_size / seconds,
        "setup_seconds": setup,
    }


def run_backend(backend, config, steps, warmup):
    """Runs `measure` under `backend` in a fresh process; returns its dict."""
    _, size, filters, blocks, batch = config
    args = ["--worker", "--configs", f"{size}:{filters}:{blocks}:{batch}"]
    args += ["--steps", str(steps), "--warmup", str(warmup)]
    result = worker.run("benchmarks.backend_throughput", args, env={"KERAS_BACKEND": backend})
    if "error" in result:
        raise RuntimeError(f"{backend} run failed:\n{result['stderr']}")
    return result


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--configs", type=parse_config, nargs="+", default=[parse_config("64:16:2:4")])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    """Prints examples/s per backend and configuration, and the ratio to TensorFlow."""
    args = parse_args(argv)
    if args.worker:
        worker.report(measure(*args.configs[0], args.steps, args.warmup))
        return
    print(
        f"{'size':>4} {'F':>3} {'blocks':>6} {'batch':>5} {'backend':>10} {'jit':>5} {'s/step':>7} "
        f"{'examples/s':>10} {'vs TF':>6} {'setup s':>7}"
    )
    for config in args.configs:
        rows = [run_backend(backend, config, args.steps, args.warmup) for backend in args.backends]
        reference = next((r["examples_per_second"] for r in rows if r["backend"] == "tensorflow"), None)
        for r in rows:
            ratio = f"{r['examples_per_second'] / reference:6.2f}" if reference else f"{'-':>6}"
            print(
                f"{config[1]:>4} {config[2]:>3} {config[3]:>6} {config[4]:>5} {r['backend']:>10} "
                f"{str(r['jit_compile']):>5} {r['seconds_per_step']:>7.3f} {r['examples_per_second']:>10.2f} "
                f"{ratio} {r['setup_seconds']:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
