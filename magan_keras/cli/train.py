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

from magan_keras.modalities import SCENARIOS
from magan_keras.training.config import STRATEGIES, TrainConfig

HELP = {
    "data_dir": "BraTS folder (either release naming); prepared as TFDS on first use",
    "dataset": "prepared TFDS name, e.g. brats/slices_128 or brats_phantom/slices_64",
    "tfds_data_dir": "TFDS data folder (default ~/tensorflow_datasets)",
    "num_subjects": "phantom subjects when no data is given",
    "image_size": "slice size in pixels (multiple of 4)",
    "scenario": f"which contrasts are missing during training: {', '.join(SCENARIOS)}",
    "target": "always synthesise this contrast (t1, t1ce, t2, flair); overrides --scenario",
    "augment": "random flips and intensity scaling",
    "base_filters": "network width (64 in the paper)",
    "res_blocks": "residual blocks (6 in the authors' code)",
    "gamma": "modal attention trade-off in [0, 1]",
    "alpha": "weight of the intra-modal SR loss",
    "beta": "weight of the inter-modal SR loss",
    "lambda_l1": "weight of the L1 loss",
    "lambda_ssim": "weight of an added 1 - SSIM loss (not in the paper; 0 leaves it out)",
    "gan_loss": "vanilla or lsgan",
    "modal_attention": "use modal attention (ablation switch)",
    "intra_attention": "use intra-modal attention (ablation switch)",
    "sr_supervision": "use the self-representation network (ablation switch)",
    "generator": "multi_branch (MA-GAN) or single_input (pix2pix-style, needs --modal-attention false "
    "--decoder-skip false)",
    "decoder_skip": "full-resolution skip from the branches' first conv to the decoder (not in the paper; "
    "false gives the paper's generator)",
    "sr_schedule": "joint (SR learns alongside) or pretrain (SR first, then frozen)",
    "sr_pretrain_steps": "SR steps before training under --sr-schedule pretrain",
    "learning_rate": "Adam learning rate of G, D and SR",
    "lr_decay": "none (constant rate) or linear (pix2pix: constant for the first half of the steps, then linearly to zero)",
    "precision": "float32, or mixed_bfloat16 (bfloat16 maths, float32 weights and losses; "
    "1.7x faster on CPUs with AVX512_BF16 at the paper's size, see benchmarks/README.md)",
    "epochs": "epochs",
    "steps_per_epoch": "training steps per epoch",
    "batch_size": "global batch size (split over replicas)",
    "validation_steps": "validation batches per epoch",
    "strategy": f"tf.distribute strategy: {', '.join(STRATEGIES)}",
    "seed": "random seed",
    "output_dir": "run folder",
    "overwrite": "replace a finished run folder",
}


def _bool(text):
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_config_options(parser, fields=None, defaults=None, help_overrides=None):
    """Adds one option per `TrainConfig` field (all, or those in `fields`) to `parser`.

    Every option defaults to None ("not given"), so a caller can merge defaults,
    a config file and explicit options in that order. `defaults` (a `TrainConfig`)
    only changes the defaults shown in the help; `help_overrides` replaces help texts.
    Shared by `python -m magan_keras.train` and `python -m magan_keras.tune`.
    """
    defaults = defaults or TrainConfig()
    texts = {**HELP, **(help_overrides or {})}
    for name, kind in TrainConfig.field_types().items():
        if fields is not None and name not in fields:
            continue
        flag = "--" + name.replace("_", "-")
        described = f"{texts[name]} (default {getattr(defaults, name)})"
        if name == "overwrite":
            parser.add_argument(flag, action="store_true", default=None, help=texts[name])
        elif kind is bool:
            parser.add_argument(flag, type=_bool, default=None, metavar="{true,false}", help=described)
        else:
            parser.add_argument(flag, type=kind, default=None, help=described)
    return parser


def build_parser():
    """The argument parser: one option per `TrainConfig` field, plus `--config`."""
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="TOML or JSON file of options (keys with underscores)")
    return add_config_options(parser)


def config_from_args(args):
    """Merges defaults < `--config` file < explicit options into a validated `TrainConfig`."""
    base = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    explicit = {k: v for k, v in vars(args).items() if k != "config" and v is not None}
    return base.replace(**explicit)


def main(argv=None):
    """Runs the training command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    from magan_keras.training.callbacks import TrainingDivergedError
    from magan_keras.training.run import RunFolderError, train

    try:
        result = train(config)
    except (RunFolderError, TrainingDivergedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\nTest metrics per target contrast (PSNR dB / SSIM / MAE):")
    for contrast, values in result.test_metrics.items():
        print(f"  {contrast:>6}: {values['psnr']:6.2f} / {values['ssim']:.4f} / {values['mae']:.4f}")
    print(f"\nRun folder: {result.output_dir}")
    print(f"  model:        {result.model_path}")
    print(f"  report:       {result.report_path}")
    print(f"  metrics:      {result.metrics_csv}")
    print(f"  curves:       {result.curves_png}")
    if result.sample_pngs:
        print(f"  samples:      {result.sample_pngs[-1]} (one per epoch)")
    print(f"  TensorBoard:  tensorboard --logdir {result.output_dir}/logs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
