"""`kernels.narrow_conv2d` against TensorFlow's own convolution, forward plus backward.

What `kernels.use_narrow_conv2d` is decided by: for each input-channel / output-channel /
kernel case, one `tf.function` computing a convolution's output, a squared-sum loss and
the kernel's gradient, once with `tf.nn.conv2d` (oneDNN) and once with `narrow_conv2d`.
Prints the tracing time and the best of `--trials` timed calls per case, and the ratio;
asserts nothing. TensorFlow only.

Args (command line):
    --batch: images per call (default 4).
    --size: image side in pixels (default 128).
    --trials: timed calls per case; the best is reported (default 20).

Example:

```
python -m benchmarks.narrow_conv --size 128
```
"""

import argparse
import time

CASES = [(64, 1, 7), (16, 1, 7), (8, 1, 7), (4, 1, 7), (8, 4, 7), (4, 4, 7), (4, 4, 3)]  # (inputs, outputs, kernel)


def time_case(batch, size, cin, cout, k, narrow, trials):
    """`(tracing s, best call ms)` of a forward plus kernel-gradient step."""
    import tensorflow as tf

    from magan_keras.layers import kernels

    x = tf.random.normal((batch, size, size, cin), seed=0)
    kernel = tf.Variable(tf.random.normal((k, k, cin, cout), seed=1))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            y = kernels.narrow_conv2d(x, kernel) if narrow else tf.nn.conv2d(x, kernel, 1, "SAME")
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, kernel)

    start = time.perf_counter()
    step()
    tracing = time.perf_counter() - start
    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        step().numpy()
        best = min(best, time.perf_counter() - start)
    return tracing, best * 1000


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.narrow_conv", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"{args.batch} x {args.size} x {args.size} images, forward + kernel gradient, best of {args.trials}")
    print("| conv | oneDNN ms | narrow_conv2d ms | narrow / oneDNN | tracing s (oneDNN, narrow) |")
    print("| --- | --- | --- | --- | --- |")
    for cin, cout, k in CASES:
        native = time_case(args.batch, args.size, cin, cout, k, False, args.trials)
        narrow = time_case(args.batch, args.size, cin, cout, k, True, args.trials)
        print(
            f"| {k}x{k}, {cin} -> {cout} | {native[1]:.1f} | {narrow[1]:.1f} | {narrow[1] / native[1]:.2f} "
            f"| {native[0]:.2f}, {narrow[0]:.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
