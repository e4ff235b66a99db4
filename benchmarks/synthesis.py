"""Whole-volume synthesis: seconds per 240x240x155 volume and the share spent outside the generator.

Writes one BraTS-sized subject (four contrasts, 240 x 240 x 155 int16 NIfTI, an ellipsoidal
"brain" of smooth random texture, zero outside, as BraTS' skull-stripped files) to a
temporary folder, builds an untrained `MultiBranchGenerator` of the given configuration
(speed does not depend on the weights), and runs what `python -m magan_keras.synthesize`
runs: `synthesize_subject` (load, canonical orientation, brain mask, normalisation, slicing
to the model's size with `tfds_brats.slicing`, generator batches, resizing back) and
`write_outputs` (NIfTI), with
three contrasts given and FLAIR synthesised. The generator's forward passes
(`predict_on_batch`) are timed on their own; the rest is "outside". A first run traces the
generator (reported apart); the timed run is the second on the same subject.

Prints, per configuration, seconds per volume, seconds in the generator (and its GFLOP/s:
forward FLOPs per slice from `benchmarks.flops` times the slices run, padding included),
the fraction outside it and the stages outside (load + normalise, slicing, un-slicing, write). Asserts
nothing.

Args (command line):
    --configs: `paper` (256 px, width 64, 6 blocks), `default` (`TrainConfig()`: 64 px,
        width 16, 2 blocks) or SIZE:FILTERS:BLOCKS (default: default paper).
    --batch-size: slices per generator call (default 8, as `synthesize`).

Example:

```
python -m benchmarks.synthesis --configs default paper
```
"""

import argparse
import contextlib
import pathlib
import tempfile
import time

import numpy as np

from benchmarks.model_configs import parse_config_without_batch

SHAPE = (240, 240, 155)
CONTRASTS = ("t1", "t1ce", "t2", "flair")


def write_subject(folder, seed=0):
    """Writes `<folder>/bench_<contrast>.nii.gz` for the four contrasts; returns `{contrast: path}`."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in SHAPE]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    radius = (x / 0.75) ** 2 + (y / 0.85) ** 2 + (z / 0.9) ** 2
    brain = radius < 1.0
    paths = {}
    for index, contrast in enumerate(CONTRASTS):
        texture = np.zeros(SHAPE, np.float32)
        for _ in range(6):
            fx, fy, fz = rng.uniform(1.0, 6.0, 3)
            phase = rng.uniform(0, 2 * np.pi)
            texture += np.sin(fx * x + fy * y + fz * z + phase).astype(np.float32)
        volume = (400 + 150 * index + 60 * texture + rng.normal(0, 10, SHAPE)) * brain
        path = pathlib.Path(folder) / f"bench_{contrast}.nii.gz"
        image = nib.Nifti1Image(np.clip(volume, 0, 32767).astype(np.int16), np.diag([1.0, 1.0, 1.0, 1.0]))
        nib.save(image, str(path))
        paths[contrast] = path
    return paths


@contextlib.contextmanager
def stage_timers(timings):
    """Times the functions `synthesize` calls, adding seconds to `timings[name]`."""
    from magan_keras.inference import generator as inference
    from magan_keras.inference import volumes
    from tfds_brats import slicing

    patched = [
        (volumes, "load_volumes", "load"),
        (volumes, "normalise_inputs", "normalise"),
        (volumes, "brain_mask_of", "normalise"),
        (slicing, "to_model_slices", "slice"),
        (slicing, "from_model_slices", "unslice"),
        (volumes, "save_like", "write"),
        (inference, "to_unit_scale", "unit scale"),
    ]
    originals = []
    for module, name, label in patched:
        original = getattr(module, name)
        originals.append((module, name, original))

        def timed(*args, _original=original, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                timings[_label] = timings.get(_label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)
    try:
        yield timings
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def time_generator(generator, timings):
    """Wraps `generator.predict_on_batch` to add its seconds to `timings['generator']`."""
    original = generator.predict_on_batch

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timings["generator"] = timings.get("generator", 0.0) + time.perf_counter() - start

    generator.predict_on_batch = timed


def run_once(generator, files, out_dir, batch_size):
    """Synthesises FLAIR from the other three and writes it; returns `(seconds, timings)`."""
    from magan_keras.inference import synthesis as synthesize

    timings = {}
    time_generator(generator, timings)
    given = {k: v for k, v in files.items() if k != "flair"}
    start = time.perf_counter()
    with stage_timers(timings):
        result = synthesize.synthesize_subject(generator, given, targets=["flair"], batch_size=batch_size)
        synthesize.write_outputs(result, out_dir, overwrite=True)
    return time.perf_counter() - start, timings


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=parse_config_without_batch, nargs="+", default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    args.configs = args.configs or [parse_config_without_batch("default"), parse_config_without_batch("paper")]
    return args


def main(argv=None):
    """Prints seconds per volume and the fraction spent outside the generator, per configuration."""
    args = parse_args(argv)
    import keras

    from magan_keras.models import MultiBranchGenerator
    from tfds_brats.preprocessing import Preprocessing

    stages = ("load", "normalise", "slice", "unslice", "unit scale", "write")
    print(f"subject {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]}, 3 contrasts given, FLAIR synthesised; batch {args.batch_size}")
    print(
        f"{'config':>8} {'px':>4} {'F':>3} {'blk':>3} {'slices':>6} {'first s':>7} {'s/volume':>8} "
        f"{'generator s':>11} {'G GFLOP/s':>9} {'outside':>7}  " + " ".join(f"{s:>10}" for s in stages)
    )
    with tempfile.TemporaryDirectory() as folder:
        files = write_subject(folder)
        for name, size, filters, blocks in args.configs:
            keras.utils.set_random_seed(0)
            # The brats builder's record (canvas 256), as a model trained on BraTS carries.
            generator = MultiBranchGenerator(
                image_size=size, base_filters=filters, res_blocks=blocks, preprocessing=Preprocessing().to_config()
            )
            generator.build_on_zeros()
            first, _ = run_once(generator, files, pathlib.Path(folder) / "out", args.batch_size)
            seconds, timings = run_once(generator, files, pathlib.Path(folder) / "out", args.batch_size)
            inside = timings.get("generator", 0.0)
            slices = int(np.count_nonzero(np.any(_brain_slices(files), axis=(0, 1))))
            padded = -(-slices // args.batch_size) * args.batch_size  # the last batch is padded
            gflops = padded * generator_flops(generator) / inside / 1e9
            print(
                f"{name:>8} {size:>4} {filters:>3} {blocks:>3} {slices:>6} {first:>7.1f} {seconds:>8.2f} "
                f"{inside:>11.2f} {gflops:>9.1f} {1 - inside / seconds:>7.1%}  "
                + " ".join(f"{timings.get(s, 0.0):>10.2f}" for s in stages),
                flush=True,
            )


def generator_flops(generator):
    """Forward FLOPs of the generator on one slice (`benchmarks.flops.forward_flops`)."""
    import tensorflow as tf

    from benchmarks.flops import forward_flops

    s, m = generator.image_size, generator.num_modalities
    return forward_flops(
        lambda x, a, t: generator({"images": x, "available": a, "target": t}),
        tf.TensorSpec((1, s, s, m), tf.float32),
        tf.TensorSpec((1, m), tf.float32),
        tf.TensorSpec((1, m), tf.float32),
    )


def _brain_slices(files):
    import nibabel as nib

    return np.asarray(nib.load(str(files["t1"])).dataobj) != 0


if __name__ == "__main__":
    main()
