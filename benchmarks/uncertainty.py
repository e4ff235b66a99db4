"""`synthesize --uncertainty` against plain synthesis: the time ratio on a 240x240x155 subject, one run.

Writes the BraTS-sized subject of `benchmarks.synthesis` (four contrasts, 240 x 240 x 155), builds
an untrained `MultiBranchGenerator` per configuration (speed does not depend on the weights) and
times `synthesize_subject` with three contrasts given and FLAIR synthesised, plain and with
`uncertainty=True` at each `--strides` (the full set on every slice; the three leave-one-out
subsets on every N-th slice, each branch encoder once per slice, modal attention, fusion and
decoder once per subset), alternating them (after one untimed batch through each, which traces
the model) `--repeats` times and reporting the medians and their ratio to plain.
The goal is a ratio of at most 2 (one plain pass per subset would be about 4). Also prints the
generator's forward FLOP ratio (`benchmarks.flops`: the shared-encoder call with the four subsets
over one plain call, per slice) and the floor it sets at each stride, `1 + (ratio - 1) / N` (the
subsets' extra FLOPs on one slice in N). Asserts nothing.

Args (command line):
    --configs: `default` (`TrainConfig()`), `paper`, or SIZE:FILTERS:BLOCKS (default:
        128:16:2, the "128 px model" of FACTS.md, and default).
    --batch-size: slices per generator call (8).
    --repeats: timed runs of each (3).
    --strides: uncertainty strides to time (1 and the default 3).

Example:

```
python -m benchmarks.uncertainty --configs 128:16:2 paper --strides 1 3
```
"""

import argparse
import statistics
import tempfile
import time

from benchmarks.model_configs import parse_config_without_batch
from benchmarks.synthesis import SHAPE, write_subject


def time_runs(generator, given, batch_size, repeats, strides=(1, 3)):
    """Median seconds of plain synthesis (`plain`) and of synthesis with uncertainty at each stride (`stride N`)."""
    import numpy as np

    from magan_keras.inference import generator as inference
    from magan_keras.inference import synthesis, uncertainty

    def plain():
        synthesis.synthesize_subject(generator, given, targets=["flair"], batch_size=batch_size, input_checks=False)

    def with_uncertainty(stride):
        return lambda: synthesis.synthesize_subject(
            generator,
            given,
            targets=["flair"],
            batch_size=batch_size,
            input_checks=False,
            uncertainty=True,
            uncertainty_stride=stride,
        )

    runs = {"plain": plain} | {f"stride {n}": with_uncertainty(n) for n in strides}
    # One batch through each traced function (plain call, all subsets, the full set alone).
    size = int(generator.image_size)
    batch = np.zeros((batch_size, size, size, 4), np.float32)
    subsets = uncertainty.leave_one_out_subsets([1, 1, 1, 0])
    inference.predict_slices(generator, batch, subsets[0], "flair", batch_size=batch_size)
    uncertainty.predict_subsets(generator, batch, subsets, "flair", batch_size=batch_size)
    uncertainty.predict_subsets(generator, batch, subsets[:1], "flair", batch_size=batch_size)
    seconds = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def flop_ratio(generator):
    """Forward FLOPs of `SubsetSyntheses` (full + 3 leave-one-out subsets) over one plain call, per slice."""
    import tensorflow as tf

    from benchmarks.flops import forward_flops
    from magan_keras.inference.uncertainty import SubsetSyntheses, leave_one_out_subsets

    size = int(generator.image_size)
    specs = {
        "images": tf.TensorSpec((1, size, size, 4)),
        "available": tf.TensorSpec((1, 4)),
        "target": tf.TensorSpec((1, 4)),
    }
    shared = SubsetSyntheses(generator, leave_one_out_subsets([1, 1, 1, 0]))
    return forward_flops(lambda x: shared(x), specs) / forward_flops(lambda x: generator(x), specs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=parse_config_without_batch, nargs="+", default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args(argv)
    configs = args.configs or [parse_config_without_batch("128:16:2"), parse_config_without_batch("default")]
    import keras

    from magan_keras.models import MultiBranchGenerator
    from tfds_brats.preprocessing import Preprocessing

    print(f"subject {'x'.join(map(str, SHAPE))}, t1 t1ce t2 given, flair synthesised; batch {args.batch_size}")
    print(
        f"{'config':>10} {'px':>4} {'F':>3} {'blk':>3} {'stride':>6} {'plain s':>8} {'uncert. s':>9} "
        f"{'ratio':>6} {'FLOP floor':>10}"
    )
    with tempfile.TemporaryDirectory() as folder:
        files = write_subject(folder)
        given = {k: v for k, v in files.items() if k != "flair"}
        for name, size, filters, blocks in configs:
            keras.utils.set_random_seed(0)
            generator = MultiBranchGenerator(
                image_size=size, base_filters=filters, res_blocks=blocks, preprocessing=Preprocessing().to_config()
            )
            generator.build_on_zeros()
            medians = time_runs(generator, given, args.batch_size, args.repeats, args.strides)
            flops = flop_ratio(generator)
            for stride in args.strides:
                seconds = medians[f"stride {stride}"]
                print(
                    f"{name:>10} {size:>4} {filters:>3} {blocks:>3} {stride:>6} {medians['plain']:>8.2f} "
                    f"{seconds:>9.2f} {seconds / medians['plain']:>6.2f} {1 + (flops - 1) / stride:>10.2f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    main()
