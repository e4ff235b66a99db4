"""The machine's float32 ceiling on the Keras backend: 3x3 conv2d and square matmul GFLOP/s.

The reference every other benchmark divides by (float32; a bfloat16 conv is printed
for the mixed-precision option). Two kernels, each timed after a warm-up
as a compiled function (`tf.function` on TensorFlow, `jax.jit` on JAX, plain calls on
torch) repeating the product `--repeats` times per call so dispatch costs vanish:

- conv: `[B, 128, 128, 256] * [3, 3, 256, 256]`, stride 1, "same" (2 * B * 128^2 * 9 * 256^2
  FLOPs per product; B = `--conv-batch`, default 1);
- matmul: `[N, N] @ [N, N]` with N = `--matmul-size` (default 4096; 2 * N^3 FLOPs).

Prints both figures; asserts nothing. `conv_gflops()` and `matmul_gflops()` are what
`benchmarks.train_step` calls to measure the ceiling in the same run as the step.

Args (command line):
    --conv-batch: batch of the conv (default 1).
    --matmul-size: N of the matmul (default 4096).
    --repeats: products per timed call (default 4).
    --trials: timed calls; the best is reported (default 5).

Example:

```
python -m benchmarks.ceiling
```
"""

import argparse
import time

import numpy as np


def _best_seconds(function, trials):
    """Calls `function` once to warm up, then `trials` times; returns the fastest call's seconds."""
    function()
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def _compiled_repeat(product, repeats):
    """A function running `product(a, b)` `repeats` times and waiting for the result."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=False)
        def run(a, b):
            total = 0.0
            for _ in range(repeats):
                # Feed back a scalar so no product can be skipped or merged.
                out = product(a + total * 0.0, b)
                total = total + out[(0,) * len(out.shape)]
            return total

        return lambda a, b: float(run(a, b))
    if backend == "jax":
        import jax

        @jax.jit
        def run(a, b):
            total = 0.0
            for _ in range(repeats):
                out = product(a + total * 0.0, b)
                total = total + out[(0,) * out.ndim]
            return total

        return lambda a, b: float(run(a, b))

    def run_eager(a, b):
        total = 0.0
        for _ in range(repeats):
            out = product(a, b)
            total = total + float(keras.ops.convert_to_numpy(out[(0,) * len(out.shape)]))
        return total

    return run_eager


def conv_gflops(batch=1, size=128, channels=256, repeats=4, trials=5, dtype="float32"):
    """GFLOP/s of a 3x3 'same' conv `[batch, size, size, channels] -> channels` in `dtype`."""
    import keras

    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.standard_normal((batch, size, size, channels), np.float32), dtype)
    k = keras.ops.convert_to_tensor(rng.standard_normal((3, 3, channels, channels), np.float32) * 0.05, dtype)
    run = _compiled_repeat(lambda a, b: keras.ops.conv(a, b, strides=1, padding="same"), repeats)
    seconds = _best_seconds(lambda: run(x, k), trials)
    flops = 2.0 * batch * size * size * 9 * channels * channels * repeats
    return flops / seconds / 1e9


def matmul_gflops(size=4096, repeats=4, trials=5):
    """GFLOP/s of a float32 `[size, size] @ [size, size]` product."""
    import keras

    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.standard_normal((size, size), np.float32))
    b = keras.ops.convert_to_tensor(rng.standard_normal((size, size), np.float32) / size)
    run = _compiled_repeat(keras.ops.matmul, repeats)
    seconds = _best_seconds(lambda: run(a, b), trials)
    return 2.0 * size**3 * repeats / seconds / 1e9


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conv-batch", type=int, default=1)
    parser.add_argument("--matmul-size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    for name in ("conv_batch", "matmul_size", "repeats", "trials"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv=None):
    """Prints the conv and matmul GFLOP/s of this machine on the Keras backend."""
    args = parse_args(argv)
    import keras

    conv = conv_gflops(args.conv_batch, repeats=args.repeats, trials=args.trials)
    matmul = matmul_gflops(args.matmul_size, repeats=args.repeats, trials=args.trials)
    conv_bf16 = conv_gflops(args.conv_batch, repeats=args.repeats, trials=args.trials, dtype="bfloat16")
    print(f"backend {keras.backend.backend()}")
    print(f"{'kernel':<44} {'GFLOP/s':>8}")
    print(f"{f'conv2d 3x3 {args.conv_batch}x128x128x256 -> 256, float32':<44} {conv:>8.1f}")
    n = args.matmul_size
    print(f"{f'matmul {n}x{n} @ {n}x{n}, float32':<44} {matmul:>8.1f}")
    print(f"{f'conv2d 3x3 {args.conv_batch}x128x128x256 -> 256, bfloat16':<44} {conv_bf16:>8.1f}")
    print(f"matmul / conv: {matmul / conv:.2f}; bfloat16 conv / float32 conv: {conv_bf16 / conv:.2f}")


if __name__ == "__main__":
    main()
