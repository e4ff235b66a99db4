"""MAGAN training-step throughput, achieved GFLOP/s, fraction of the conv ceiling, peak RSS.

Each configuration runs in its own process (so its peak RSS is its own), which:

1. builds `MAGAN` (four contrasts) and compiles it with the chosen options
   (`--jit-compile`, `--steps-per-execution`, `--precision`);
2. runs `fit` for `--warmup` steps (tracing, compilation), then times each of `--steps`
   steps of `fit` (a callback; with `steps_per_execution` each execution, divided) on a
   repeated in-memory batch (`tf.data.Dataset.from_tensors(...).repeat()`, so input costs
   nothing) and keeps the median, robust to bursts of other processes;
3. reads its peak resident memory (`resource.getrusage(...).ru_maxrss`);
4. counts the step's FLOPs (`benchmarks.flops.training_step_flops`: TensorFlow's graph
   profiler on each network's forward pass, 3x for each network differentiated: G, D on
   real + fake, SR under the joint schedule) and measures the machine's float32 conv and
   matmul ceilings (`benchmarks.ceiling`) in the same process, right after the timed steps,
   so the fraction compares figures taken under the same load.

Prints one row per configuration and option set: seconds per step, examples/s, achieved
GFLOP/s, the conv ceiling and the fraction of it, peak RSS; and, when several option sets
ran on a configuration, each one's speed relative to the first. Asserts nothing.

Configurations (`--configs`, `SIZE:FILTERS:BLOCKS:BATCH` or a name):
    paper: 256 px, width 64, 6 residual blocks, batch 2 (the paper's setting).
    default: the README's CPU demo, `TrainConfig()` (64 px, width 16, 2 blocks, batch 8).

Args (command line):
    --configs: names or SIZE:FILTERS:BLOCKS:BATCH (default paper default).
    --options: option sets to compare, each `KEY=VALUE[,KEY=VALUE]` with keys `jit`
        (false/true), `spe` (steps_per_execution), `precision` (float32 /
        mixed_bfloat16), `inter_op` (TensorFlow inter-op threads, 0 = TF's default),
        `kernels` (fast / reference: the plain Keras ops instead of
        `magan_keras.layers.kernels`), `replicas` (`MirroredStrategy` over that many
        logical CPU devices, the batch being the global one); `base` is the plain float32
        compile with the fast
        kernels. Default: `base`.
    --steps: timed steps (default 5).
    --warmup: untimed steps first (default 2).

Example:

```
python -m benchmarks.train_step --configs paper default
python -m benchmarks.train_step --configs default --options base jit=true spe=8 precision=mixed_bfloat16
```
"""

import argparse
import os
import time

from benchmarks import worker
from benchmarks.model_configs import model_options, parse_config

OPTION_KEYS = {
    "jit": "false",
    "spe": "1",
    "precision": "float32",
    "inter_op": "0",
    "kernels": "fast",
    "replicas": "1",
}


def parse_options(text):
    options = dict(OPTION_KEYS)
    if text == "base":
        return options
    for item in text.split(","):
        key, _, value = item.partition("=")
        if key not in OPTION_KEYS or not value:
            raise argparse.ArgumentTypeError(f"options are KEY=VALUE with keys {sorted(OPTION_KEYS)}, got {item!r}")
        options[key] = value
    if options["jit"] not in ("false", "true"):
        raise argparse.ArgumentTypeError(f"jit must be false or true, got {options['jit']!r}")
    if options["kernels"] not in ("fast", "reference"):
        raise argparse.ArgumentTypeError(f"kernels must be fast or reference, got {options['kernels']!r}")
    if options["precision"] not in ("float32", "mixed_bfloat16"):
        raise argparse.ArgumentTypeError(f"precision must be float32 or mixed_bfloat16, got {options['precision']!r}")
    for key in ("spe", "inter_op", "replicas"):
        if not options[key].isdigit():
            raise argparse.ArgumentTypeError(f"{key} must be a non-negative integer, got {options[key]!r}")
    return options


def options_label(options):
    changed = [f"{k}={v}" for k, v in options.items() if v != OPTION_KEYS[k]]
    return ",".join(changed) or "base"


def measure(name, image_size, base_filters, res_blocks, batch_size, options, steps, warmup):
    """Times `steps` training steps in this process; returns a dict (see the module docstring)."""
    import tensorflow as tf

    from magan_keras.layers import kernels

    if int(options["inter_op"]):
        tf.config.threading.set_inter_op_parallelism_threads(int(options["inter_op"]))
    replicas = int(options["replicas"])
    if replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    if options["kernels"] == "reference":
        with kernels.reference_kernels():  # the step is traced inside
            return _measure(name, image_size, base_filters, res_blocks, batch_size, options, steps, warmup)
    return _measure(name, image_size, base_filters, res_blocks, batch_size, options, steps, warmup)


def _measure(name, image_size, base_filters, res_blocks, batch_size, options, steps, warmup):
    import resource

    import keras
    import tensorflow as tf

    from benchmarks import ceiling, flops
    from benchmarks.backend_throughput import random_batch
    from magan_keras import MAGAN

    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(options["precision"])
    replicas = int(options["replicas"])
    strategy = (
        tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
        if replicas > 1
        else tf.distribute.get_strategy()
    )
    spe = int(options["spe"])
    with strategy.scope():
        model = MAGAN(**model_options(name, image_size, base_filters, res_blocks))
        model.compile(jit_compile=options["jit"] == "true", steps_per_execution=spe)
    dataset = tf.data.Dataset.from_tensors(random_batch(batch_size, image_size)).repeat()
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=max(warmup, 1) * spe, verbose=0)
    setup = time.perf_counter() - start
    timer = _ExecutionTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=steps * spe, verbose=0, callbacks=[timer])
    per_step = sorted(t / spe for t in timer.seconds)
    seconds = per_step[len(per_step) // 2]  # median: robust to another process's bursts
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    keras.mixed_precision.set_global_policy("float32")
    if os.environ.get("MAGAN_BENCH_NO_FLOPS"):  # step rate only (benchmarks.pipeline_throughput)
        return {"seconds_per_step": seconds, "examples_per_second": batch_size / seconds}
    step_flops = flops.training_step_flops(model, batch_size)
    conv = ceiling.conv_gflops(repeats=2, trials=3)
    matmul = ceiling.matmul_gflops(repeats=1, trials=3)
    return {
        "seconds_per_step": seconds,
        "fastest_step": per_step[0],
        "examples_per_second": batch_size / seconds,
        "setup_seconds": setup,
        "step_gflop": step_flops / 1e9,
        "gflops": step_flops / seconds / 1e9,
        "conv_ceiling": conv,
        "matmul_ceiling": matmul,
        "peak_rss_gib": peak_rss / 2**30,
    }


class _ExecutionTimer:
    """A Keras callback recording the seconds of each execution (`steps_per_execution` steps)."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds = []

            def on_train_batch_begin(self, batch, logs=None):
                self.start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.seconds.append(time.perf_counter() - self.start)

        return Timer()


def step_seconds(image_size, base_filters, res_blocks, batch_size, replicas=1, steps=10, warmup=2):
    """Median seconds of one training step at the configuration, in a fresh process (no FLOP count)."""
    options = {**OPTION_KEYS, "replicas": str(replicas)}
    config = ("", image_size, base_filters, res_blocks, batch_size)
    result = run_worker(config, options, steps, warmup, env={"MAGAN_BENCH_NO_FLOPS": "1"})
    if "error" in result:
        raise RuntimeError(f"training step failed: {result['error']}")
    return result["seconds_per_step"]


def run_worker(config, options, steps, warmup, env=None):
    """Runs `measure` in a fresh process; returns its dict (`{"error": ...}` when it failed)."""
    _, size, filters, blocks, batch = config
    args = ["--worker", "--configs", f"{size}:{filters}:{blocks}:{batch}"]
    args += ["--options", ",".join(f"{k}={v}" for k, v in options.items()), "--steps", str(steps)]
    return worker.run("benchmarks.train_step", args + ["--warmup", str(warmup)], env=env)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=parse_config, nargs="+", default=None)
    parser.add_argument("--options", type=parse_options, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    if args.configs is None:
        args.configs = [parse_config("paper"), parse_config("default")]
    if args.options is None:
        args.options = [parse_options("base")]
    return args


def main(argv=None):
    """Prints step time, examples/s, GFLOP/s, fraction of the conv ceiling and peak RSS."""
    args = parse_args(argv)
    if args.worker:
        worker.report(measure(*args.configs[0], args.options[0], args.steps, args.warmup))
        return
    print(
        f"{'config':>8} {'px':>4} {'F':>3} {'blk':>3} {'batch':>5} {'options':<24} {'s/step':>7} {'ex/s':>7} "
        f"{'GFLOP':>7} {'GFLOP/s':>7} {'conv ceil':>9} {'of ceil':>7} {'vs 1st':>6} {'RSS GiB':>7}"
    )
    for config in args.configs:
        first = None
        for options in args.options:
            r = run_worker(config, options, args.steps, args.warmup)
            if "error" in r:
                print(
                    f"{config[0]:>8} {config[1]:>4} {config[2]:>3} {config[3]:>3} {config[4]:>5} "
                    f"{options_label(options):<24} failed: {r['error']}",
                    flush=True,
                )
                continue
            first = first or r["examples_per_second"]
            print(
                f"{config[0]:>8} {config[1]:>4} {config[2]:>3} {config[3]:>3} {config[4]:>5} "
                f"{options_label(options):<24} {r['seconds_per_step']:>7.3f} {r['examples_per_second']:>7.2f} "
                f"{r['step_gflop']:>7.1f} {r['gflops']:>7.1f} {r['conv_ceiling']:>9.1f} "
                f"{r['gflops'] / r['conv_ceiling']:>7.1%} {r['examples_per_second'] / first:>6.2f} "
                f"{r['peak_rss_gib']:>7.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
