"""Throughput of the input pipeline (`magan_keras.data.make_dataset`) in batches per second.

Measures the pipeline alone over an in-memory fake split (random slices with a brain mask),
so the figure is what the pipeline can supply. With `--configs`, it also measures, in the
same run, the training step's consumption at that configuration (batches per second of
`fit` on an in-memory batch, in a fresh process, `benchmarks.train_step.step_seconds`), for
each replica count in `--replicas` (`MirroredStrategy` over that many logical CPU devices:
the pipeline is then read through `strategy.experimental_distribute_dataset`, as `fit`
reads it, and the step is the replicated step on the same global batch), and prints the
ratio delivered / consumed. Prints one line per setting; asserts nothing.

Args (command line):
    --configs: `default` (`TrainConfig()`: 64 px, width 16, 2 blocks, batch 8), `paper`
        (256 px, width 64, 6 blocks, batch 2) or SIZE:FILTERS:BLOCKS:BATCH; each compared
        with its training step. Without it, the pipeline alone over --sizes x --batch-sizes.
    --replicas: replica counts (default 1 2).
    --sizes: image sizes in px, pipeline alone (default 64 128).
    --batch-sizes: global batch sizes, pipeline alone (default 2 8).
    --examples: examples in the fake split (default 256).
    --batches: batches timed per setting, after a warm-up (default 200).
    --scenario: the make_dataset scenario (default one_missing).
    --augment: also switch augmentation on.

Example:

```
python -m benchmarks.pipeline_throughput --configs default --replicas 1 2
python -m benchmarks.pipeline_throughput --sizes 64 --batch-sizes 8 --batches 100
```
"""

import argparse
import time

import numpy as np

from benchmarks.model_configs import parse_config


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


def batches_per_second(dataset, num_batches, warmup=10, strategy=None):
    """Iterates `warmup` batches, then times `num_batches` more; returns batches per second.

    With `strategy`, reads `strategy.experimental_distribute_dataset(dataset)` (per-replica
    pieces of each global batch), as `fit` does.
    """
    if strategy is not None:
        dataset = strategy.experimental_distribute_dataset(dataset)
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(num_batches):
        next(iterator)
    return num_batches / (time.perf_counter() - start)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=parse_config, nargs="+", default=None)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
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
    if min(args.replicas) < 1:
        parser.error("--replicas must be >= 1")
    return args


def compare_with_steps(args):
    """Pipeline batches/s vs the training step's, per configuration and replica count."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    most = max(args.replicas)
    if most > 1:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * most)
    from benchmarks import train_step
    from magan_keras.data import make_dataset

    print(
        f"{'config':>8} {'size':>5} {'batch':>5} {'replicas':>8} {'pipeline b/s':>12} {'step b/s':>9} "
        f"{'pipeline/step':>13}"
    )
    for name, size, filters, blocks, batch_size in args.configs:
        split = fake_split(args.examples, size)
        dataset = make_dataset(split, batch_size=batch_size, scenario=args.scenario, seed=0, augment=args.augment)
        for replicas in args.replicas:
            strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)]) if replicas > 1 else None
            rate = batches_per_second(dataset, args.batches, strategy=strategy)
            step = 1.0 / train_step.step_seconds(size, filters, blocks, batch_size, replicas=replicas)
            print(
                f"{name:>8} {size:>5} {batch_size:>5} {replicas:>8} {rate:>12.1f} {step:>9.2f} {rate / step:>13.0f}",
                flush=True,
            )


def main(argv=None):
    """Prints batches/s and examples/s of make_dataset for each size and batch size."""
    args = parse_args(argv)
    if args.configs:
        compare_with_steps(args)
        return
    from magan_keras.data import make_dataset

    print(f"{'size':>5} {'batch':>5} {'augment':>7} {'batches/s':>10} {'examples/s':>11}")
    for size in args.sizes:
        split = fake_split(args.examples, size)
        for batch_size in args.batch_sizes:
            for augment in sorted({False, args.augment}):
                dataset = make_dataset(
                    split, batch_size=batch_size, scenario=args.scenario, seed=0, augment=augment, include_mask=True
                )
                rate = batches_per_second(dataset, args.batches)
                print(f"{size:>5} {batch_size:>5} {str(augment):>7} {rate:>10.1f} {rate * batch_size:>11.1f}")


if __name__ == "__main__":
    main()
