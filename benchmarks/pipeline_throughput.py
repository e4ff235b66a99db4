"""Throughput of the input pipeline (`magan_keras.data.make_dataset`) in batches per second.

Measures the pipeline alone over an in-memory fake split (random slices with a brain mask),
so the figure is what the pipeline can supply; compare it with the training step's rate
(steps per second) to see whether input ever limits training. Prints one line per setting;
asserts nothing.

Args (command line):
    --sizes: image sizes in px (default 64 128).
    --batch-sizes: global batch sizes (default 2 8).
    --examples: examples in the fake split (default 256).
    --batches: batches timed per setting, after a warm-up (default 200).
    --scenario: the make_dataset scenario (default one_missing).
    --augment: also switch augmentation on.

Example:

```
python -m benchmarks.pipeline_throughput --sizes 64 --batch-sizes 8 --batches 100
```
"""

import argparse
import time

import numpy as np


def fake_split(num_examples, size, seed=0):
    """A tf.data split of `num_examples` random slices [size, size, 4] with a disc-shaped brain."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    grid = np.linspace(-1.0, 1.0, size)
    mask = (grid[:, None] ** 2 + grid[None, :] ** 2) < 0.7
    images = rng.uniform(-1.0, 1.0, [num_examples, size, size, 4]).astype(np.float32)
    images[:, ~mask] = -1.0
    masks = np.broadcast_to(mask, [num_examples, size, size])
    return tf.data.Dataset.from_tensor_slices({"images": images, "brain_mask": masks}).cache()


def batches_per_second(dataset, num_batches, warmup=10):
    """Iterates `warmup` batches, then times `num_batches` more; returns batches per second."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(num_batches):
        next(iterator)
    return num_batches / (time.perf_counter() - start)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--scenario", default="one_missing")
    parser.add_argument("--augment", action="store_true")
    args = parser.parse_args(argv)
    for name in ("examples", "batches"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    return args


def main(argv=None):
    """Prints batches/s and examples/s of make_dataset for each size and batch size."""
    args = parse_args(argv)
    from magan_keras.data import make_dataset

    print(f"{'size':>5} {'batch':>5} {'augment':>7} {'batches/s':>10} {'examples/s':>11}")
    for size in args.sizes:
        split = fake_split(args.examples, size)
        for batch_size in args.batch_sizes:
            for augment in sorted({False, args.augment}):
                dataset = make_dataset(split, batch_size=batch_size, scenario=args.scenario, seed=0,
                                       augment=augment, include_mask=True)
                rate = batches_per_second(dataset, args.batches)
                print(f"{size:>5} {batch_size:>5} {str(augment):>7} {rate:>10.1f} {rate * batch_size:>11.1f}")


if __name__ == "__main__":
    main()
