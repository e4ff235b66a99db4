"""`python -m magan_keras.train`: train MA-GAN and write a run folder.

With no arguments it prepares the built-in phantom (if needed), trains the small
default configuration (a few minutes on a laptop CPU), evaluates on the test split
and prints where everything went. Every option is a `TrainConfig` field.

Example:
    python -m magan_keras.train --epochs 2 --output-dir runs/try
    python -m magan_keras.train --data-dir ~/BraTS2021 --image-size 128 --base-filters 64
    python -m magan_keras.train --config best_hyperparameters.toml
"""

import argparse
import sys

# Shared with `python -m magan_keras.tune` (studies/ablation.py imports them from here too).
from magan_keras.cli.options import add_config_options, config_from_args


def build_parser():
    """The argument parser: one option per `TrainConfig` field, plus `--config`."""
    parser = argparse.ArgumentParser(prog="python -m magan_keras.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="TOML or JSON file of options (keys with underscores)")
    return add_config_options(parser)


def main(argv=None):
    """Runs the training command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    if args.precision in (None, "auto"):  # say what "auto" chose, and why
        from magan_keras.training.precision import bfloat16_hardware

        reason = bfloat16_hardware()
        print(f"precision: {config.precision} (auto: {reason or 'no bfloat16 units found'})")
    from magan_keras.training.callbacks import TrainingDivergedError
    from magan_keras.training.run import DataError, RunFolderError, fit_verbosity, train

    try:
        # One line per epoch when stdout is a file or pipe (CI, nohup, a cluster job); the step bar in a terminal.
        result = train(config, verbose=fit_verbosity(sys.stdout))
    except (RunFolderError, DataError, TrainingDivergedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\nTest metrics per target contrast (PSNR dB / SSIM / MAE):")
    for contrast, values in result.test_metrics.items():
        print(f"  {contrast:>6}: {values['psnr']:6.2f} / {values['ssim']:.4f} / {values['mae']:.4f}")
    print(f"\nRun folder: {result.output_dir}")
    print(f"  model:        {result.model_path}")
    print(f"  report:       {result.report_path}")
    print(f"  preset:       {result.output_dir}/preset (share it: python -m magan_keras.publish --preset ... --to ...)")
    print(f"  metrics:      {result.metrics_csv}")
    print(f"  curves:       {result.curves_png}")
    if result.sample_pngs:
        print(f"  samples:      {result.sample_pngs[-1]} (one per epoch)")
    print(f"  TensorBoard:  tensorboard --logdir {result.output_dir}/logs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
