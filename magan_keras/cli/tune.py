"""`python -m magan_keras.tune`: search MA-GAN's gamma, alpha and beta with KerasTuner.

With no arguments it runs a small Bayesian search of the paper's space on the
built-in phantom (32 px, a narrow network, 10 short trials: a few minutes on a
laptop CPU) and writes, in `runs/tune`: a leaderboard (`leaderboard.csv`,
`leaderboard.md`), the objective against each hyperparameter
(`objective_vs_hyperparameters.png`) and the best values as a training config
(`best_config.toml`, `best_config.json`) that `python -m magan_keras.train
--config` accepts as it is. Re-running the same command continues the same
search; finished trials are kept.

Example:
    python -m magan_keras.tune
    python -m magan_keras.tune --tuner random --max-trials 20 --objective psnr
    python -m magan_keras.tune --search-space extended --data-dir ~/BraTS2021 \\
        --image-size 128 --base-filters 64 --epochs 5 --steps-per-epoch 500 --output-dir runs/tune_brats
    python -m magan_keras.train --config runs/tune/best_config.toml --epochs 50

Distributed search (KerasTuner's chief and workers): `python -m tuning.launch_distributed`.
"""

import argparse
import os
import sys

from magan_keras.cli.options import add_config_options
from magan_keras.training.config import TrainConfig
from magan_keras.tuning import search_space
from magan_keras.tuning import settings as tune_settings
from magan_keras.tuning.settings import OWN_FIELDS, TUNE_DEFAULTS, make_settings


def _positive_int(text):
    """argparse `type`: an integer >= 1.

    Args:
        text: str, the option's value.

    Example:
    >>> _positive_int("3")
    3
    """
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    """argparse `type`: an integer >= 0.

    Args:
        text: str, the option's value.

    Example:
    >>> _non_negative_int("0")
    0
    """
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser():
    """The options: the search's own, then the training command's (`--image-size`, ...).

    Example:
    >>> args = build_parser().parse_args(["--tuner", "random", "--epochs", "2"])
    >>> args.tuner, args.epochs, args.image_size
    ('random', 2, None)
    """
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.tune",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Defaults differ from the training command's for a quick CPU search: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in TUNE_DEFAULTS.items())
        + ".",
    )
    search = parser.add_argument_group("search")
    search.add_argument(
        "--search-space",
        default=search_space.DEFAULT_SPACE,
        help="built-in space name (paper, extended) or a .toml/.json file (default paper)",
    )
    search.add_argument(
        "--tuner",
        choices=tune_settings.TUNER_CHOICES,
        default="bayesian",
        help="search algorithm (default bayesian)",
    )
    search.add_argument(
        "--objective",
        choices=tune_settings.OBJECTIVE_CHOICES,
        default="ssim",
        help="validation metric: ssim (max), psnr (max) or l1 (mean absolute error, min) (default ssim)",
    )
    search.add_argument(
        "--max-trials",
        type=_positive_int,
        default=None,
        help="trials of a bayesian or random search; raise it to extend a finished search "
        f"(default {tune_settings.DEFAULT_MAX_TRIALS})",
    )
    search.add_argument(
        "--initial-points",
        type=_positive_int,
        default=None,
        help="random trials before the Bayesian model takes over (default: half the trials, at most 3 per "
        "hyperparameter); fixed when the search starts",
    )
    search.add_argument(
        "--hyperband-factor",
        type=_positive_int,
        default=3,
        help="Hyperband's reduction factor (default 3)",
    )
    search.add_argument(
        "--max-failures",
        type=_non_negative_int,
        default=3,
        help="stop after this many failed trials in a row; 0 never stops (default 3)",
    )
    search.add_argument("--output-dir", default="runs/tune", help="search folder (default runs/tune)")
    search.add_argument("--overwrite", action="store_true", help="delete the search in --output-dir and start afresh")
    search.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras fit verbosity (default 1)")
    search.add_argument(
        "--config",
        help="TOML or JSON training config as the base of every trial, or a preset folder / hf:// handle "
        "(the options its model was trained with)",
    )
    training = parser.add_argument_group(
        "training options",
        "the training command's options: fixed for every trial unless the space searches them",
    )
    defaults = TrainConfig().replace(**TUNE_DEFAULTS)
    fields = [f for f in TrainConfig.field_names() if f not in OWN_FIELDS]
    add_config_options(training, fields=fields, defaults=defaults)
    return parser


def settings_from_args(args):
    """Validated `TuneSettings` from parsed options: TrainConfig defaults < tune defaults < `--config` < options.

    Args:
        args: `build_parser()`'s parsed `argparse.Namespace`.

    Raises:
        ValueError: a bad option, space file or config file (the message says which).

    Example:
    >>> settings = settings_from_args(build_parser().parse_args(["--lambda-l1", "50"]))
    >>> settings.config.lambda_l1, settings.config.image_size
    (50.0, 32)
    """
    options = {k: v for k, v in vars(args).items() if k in TrainConfig.field_names() and k not in OWN_FIELDS}
    return make_settings(
        search_space=args.search_space,
        tuner=args.tuner,
        objective=args.objective,
        max_trials=args.max_trials,
        initial_points=args.initial_points,
        hyperband_factor=args.hyperband_factor,
        max_failures=args.max_failures,
        output_dir=args.output_dir,
        overwrite=args.overwrite,
        verbose=args.verbose,
        config_file=args.config,
        options=options,
    )


def main(argv=None):
    """Runs the search command; returns the process exit code (1 when no trial finished).

    Args:
        argv: the options (default `sys.argv[1:]`).

    Example:
    >>> main(["--objective", "fid"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    from magan_keras.tuning import reports, search

    try:
        settings = settings_from_args(args)
        role = search.distributed_role()
        search.prepare(settings, role)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    from magan_keras.tuning.oracle import OracleStateError

    try:
        result = search.run_search(settings, role)
    except OracleStateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if role == "worker":
        if result.stopped:
            print(f"error: {result.stopped}", file=sys.stderr)
            return 1
        ran = ", ".join(result.trials_run) or "none"
        print(f"Worker {os.environ['KERASTUNER_TUNER_ID']} done (ran trials: {ran}); the oracle has no more trials.")
        return 0
    reports.print_summary(result.rows, result.paths, settings, stopped=result.stopped)
    return 0 if result.finished and not result.stopped else 1


if __name__ == "__main__":
    sys.exit(main())
