"""What the 2.5-D, multi-planar and full-resolution variants cost: seconds and peak memory.

Each row runs in its own process, so its peak resident memory (`ru_maxrss`) is its own; the
table gives it and what it adds over the process after TensorFlow and Keras were imported (the
baseline, read from `/proc/self/status` just before the model is built). Times are medians of
one run on this machine and are read as ratios between rows of the same run.

Training rows (`MAGAN` at the training defaults, width 16, 2 blocks, batch 8, random data, the
median of `--steps` steps after 2 warm-up steps): the 2-D model at 64 px and 2.5-D at K = 1, 2
(`--context-slices`); 128 px with the paper's dense modal attention and with the pooled one;
the 256 px model (the BraTS canvas at 1 mm) on whole slices and on the 128 px crops of
`--crop-size 128`. A multi-planar training run (`--planes axial,coronal,sagittal`) has the 2-D
step; it differs in its prepared data and in how many steps an epoch needs.

Synthesis rows (`magan_keras.inference.synthesis.synthesize_subject` on one 240 x 240 x 155
subject of `benchmarks.synthesis`, FLAIR from the other three, an untrained generator; the
second of two runs is timed): the 2-D, K = 1 and K = 2 models at 64 px axially, the 2-D model
fused over three planes (`--planes`), and the 128 px (dense) and 256 px (pooled) models.

Prints one table per kind; asserts nothing.

Example:

```
python -m benchmarks.variant_costs                 # every row
python -m benchmarks.variant_costs --rows k1_64 2d_64_planes --steps 3
```
"""

import argparse
import sys
import tempfile
import time

from benchmarks import worker

BATCH_SIZE = 8

TRAIN_ROWS = {
    "2d_64": {"image_size": 64},
    "k1_64": {"image_size": 64, "context_slices": 1},
    "k2_64": {"image_size": 64, "context_slices": 2},
    "dense_128": {"image_size": 128},
    "pooled_128": {"image_size": 128, "pooled_attention": True},
    "pooled_256_whole": {"image_size": 256, "pooled_attention": True},
    "pooled_256_crop128": {"image_size": 256, "pooled_attention": True, "crop_size": 128},
}
SYNTHESIS_ROWS = {
    "2d_64_axial": ({"image_size": 64}, "axial"),
    "k1_64_axial": ({"image_size": 64, "context_slices": 1}, "axial"),
    "k2_64_axial": ({"image_size": 64, "context_slices": 2}, "axial"),
    "2d_64_planes": ({"image_size": 64}, "axial,coronal,sagittal"),
    "dense_128_axial": ({"image_size": 128}, "axial"),
    "pooled_256_axial": ({"image_size": 256, "pooled_attention": True}, "axial"),
}


def _rss_gib(field="VmRSS"):
    """This process's current (`VmRSS`) or peak (`VmHWM`) resident memory in GiB, from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def measure_training(row, steps):
    """Median seconds per training step and memory of one `TRAIN_ROWS` row, in this process."""
    import keras
    import tensorflow as tf

    from benchmarks.backend_throughput import random_batch
    from benchmarks.train_step import _ExecutionTimer
    from magan_keras import MAGAN
    from magan_keras.models.presets import DEFAULT

    options = dict(TRAIN_ROWS[row])
    crop = options.pop("crop_size", None)
    keras.utils.set_random_seed(0)
    baseline = _rss_gib()
    model = MAGAN(**{**DEFAULT, **options})
    model.compile()
    size = crop or options["image_size"]
    batch = random_batch(BATCH_SIZE, size, context_slices=options.get("context_slices", 0))
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
    timer = _ExecutionTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    seconds = sorted(timer.seconds)[len(timer.seconds) // 2]
    return {"seconds": seconds, "baseline_gib": baseline, "peak_gib": _rss_gib("VmHWM")}


def measure_synthesis(row):
    """Seconds per volume and memory of one `SYNTHESIS_ROWS` row, in this process."""
    import keras

    from benchmarks.synthesis import write_subject
    from magan_keras.inference import synthesis
    from magan_keras.models import MultiBranchGenerator
    from tfds_brats.preprocessing import Preprocessing

    options, planes = SYNTHESIS_ROWS[row]
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        files = write_subject(folder)
        given = {k: v for k, v in files.items() if k != "flair"}
        baseline = _rss_gib()
        generator = MultiBranchGenerator(
            base_filters=16, res_blocks=2, decoder_skip=True, preprocessing=Preprocessing().to_config(), **options
        )
        generator.build_on_zeros()
        seconds = []
        for _ in range(2):  # the first traces the generator
            start = time.perf_counter()
            synthesis.synthesize_subject(generator, given, targets=["flair"], planes=planes, progress=False)
            seconds.append(time.perf_counter() - start)
    return {
        "seconds": seconds[-1],
        "first_seconds": seconds[0],
        "baseline_gib": baseline,
        "peak_gib": _rss_gib("VmHWM"),
    }


def run_worker(kind, row, steps):
    """Runs one row in a fresh process; returns its dict (or `{"error": ...}`)."""
    return worker.run("benchmarks.variant_costs", ["--worker", kind, "--rows", row, "--steps", str(steps)])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", nargs="+", default=None, choices=[*TRAIN_ROWS, *SYNTHESIS_ROWS], help="default: every row"
    )
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per row")
    parser.add_argument("--worker", choices=("train", "synthesis"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    args.rows = args.rows or [*TRAIN_ROWS, *SYNTHESIS_ROWS]
    return args


def main(argv=None):
    """Prints the training and the synthesis table (one process per row)."""
    args = parse_args(argv)
    if args.worker:
        row = args.rows[0]
        result = measure_training(row, args.steps) if args.worker == "train" else measure_synthesis(row)
        worker.report(result)
        return 0
    for kind, rows, unit in (("train", TRAIN_ROWS, "s/step"), ("synthesis", SYNTHESIS_ROWS, "s/volume")):
        chosen = [row for row in args.rows if row in rows]
        if not chosen:
            continue
        print(f"\n{kind}: {unit}, peak RSS and what the row adds over the imported libraries (GiB)")
        print(f"{'row':>20} {unit:>9} {'peak':>6} {'added':>6}")
        for row in chosen:
            result = run_worker(kind, row, args.steps)
            if "error" in result:
                print(f"{row:>20} failed: {result['error']}", flush=True)
                continue
            added = result["peak_gib"] - result["baseline_gib"]
            print(f"{row:>20} {result['seconds']:>9.2f} {result['peak_gib']:>6.2f} {added:>6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
