"""`TrainConfig` fields as command-line options, shared by `python -m magan_keras.train` and `.tune`.

Every option is named after its field (`image_size` is `--image-size`) and defaults to None
("not given"), so a command can merge its defaults, a config file and the explicit options in
that order.

Example:
>>> import argparse
>>> parser = add_config_options(argparse.ArgumentParser(), fields=["epochs", "augment"])
>>> args = parser.parse_args(["--epochs", "2", "--augment", "yes"])
>>> args.epochs, args.augment
(2, True)
>>> config_from_args(argparse.Namespace(config=None, epochs=2, augment=None)).epochs
2
"""

import argparse

from magan_keras.modalities import SCENARIOS
from magan_keras.training.config import STRATEGIES, TrainConfig
from magan_keras.training.precision import resolve_precision

HELP = {
    "data_dir": "BraTS folder (either release naming); prepared as TFDS on first use",
    "dataset": "prepared TFDS name, e.g. brats/slices_128 or brats_phantom/slices_64",
    "tfds_data_dir": "TFDS data folder (default ~/tensorflow_datasets)",
    "skip_bad_subjects": "with --data-dir: leave out subjects that fail validation when it is prepared "
    "(listed in the dataset's summary) instead of stopping",
    "split_file": "CSV (subject_id,split) or JSON ({subject: split}) file giving every subject its split: "
    "train, validation or test",
    "split_fractions": "train,validation,test fractions of the subjects, e.g. 1,0,0 (an empty validation "
    "split trains without validation)",
    "validation_data_dir": "with --data-dir: a folder whose subjects make the validation split",
    "test_data_dir": "with --data-dir: a folder whose subjects make the test split",
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
    "context_slices": "2.5-D context: axial neighbours on each side each generator branch also sees "
    "(0, the default: one slice, the paper's model; the data are prepared with the same number)",
    "planes": "slice orientations of the training split, comma-separated: axial, coronal, sagittal "
    "(validation and test stay axial; synthesize --planes fuses the orientations)",
    "crop_size": "train on random crops of this many px from the --image-size slices (0, the default: "
    "whole slices); validation, test and synthesis stay whole. With --image-size 256 the model works at "
    "BraTS's 1 mm grid; needs --pooled-attention true",
    "pooled_attention": "size-free modal attention (the attention maps averaged over space before Eq. 1; "
    "not the paper's dense one); needed by --crop-size",
    "sr_schedule": "joint (SR learns alongside) or pretrain (SR first, then frozen)",
    "sr_pretrain_steps": "SR steps before training under --sr-schedule pretrain",
    "learning_rate": "Adam learning rate of G, D and SR",
    "lr_decay": "none (constant rate) or linear (pix2pix: constant for the first half of the steps, "
    "then linearly to zero)",
    "precision": "auto (mixed_bfloat16 on GPUs of compute capability 8.0 on and, with TensorFlow, CPUs "
    "with AVX512_BF16/AMX; float32 elsewhere), float32, or mixed_bfloat16 (bfloat16 maths, float32 weights "
    "and losses; 1.7x faster at the paper's size on such hardware, see benchmarks/README.md)",
    "epochs": "epochs",
    "steps_per_epoch": "training steps per epoch",
    "batch_size": "global batch size (split over replicas)",
    "validation_steps": "validation batches per epoch",
    "strategy": f"tf.distribute strategy: {', '.join(STRATEGIES)}",
    "seed": "random seed",
    "output_dir": "run folder",
    "overwrite": "replace a finished or different run in --output-dir (only a magan_keras run folder is ever deleted)",
}


def _bool(text):
    """An option's `true`/`false` (also 1/0, yes/no, on/off), for argparse's `type`.

    Args:
        text: str, the option's value.

    Example:
    >>> _bool("Yes"), _bool("off")
    (True, False)
    """
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _fractions(text):
    """`--split-fractions` as 3 validated fractions, for argparse's `type`.

    Args:
        text: str, e.g. "0.8,0.1,0.1".

    Example:
    >>> _fractions("1,0,0")
    (1.0, 0.0, 0.0)
    """
    from tfds_brats.splits import parse_fractions  # pylint: disable=import-outside-toplevel

    try:
        return parse_fractions(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--split-fractions {text!r}: {error}") from error


def positive_int(text):
    """A count or size option (`--batch-size`, `--canvas-size`, `--max-subjects`): an integer >= 1.

    Args:
        text: str, the option's value.

    Example:
    >>> positive_int("8")
    8
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer >= 1, got '0'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_config_options(parser, fields=None, defaults=None, help_overrides=None):
    """Adds one option per `TrainConfig` field (all, or those in `fields`) to `parser`.

    Args:
        parser: an `argparse.ArgumentParser` or argument group.
        fields: the field names to add (default all of them).
        defaults: a `TrainConfig` whose values the help shows as defaults (default `TrainConfig()`);
            every option itself defaults to None ("not given").
        help_overrides: `{field: help text}` replacing `HELP`'s.

    Returns:
        `parser`.

    Example:
    >>> import argparse
    >>> parser = add_config_options(argparse.ArgumentParser(), fields=["gamma"])
    >>> parser.parse_args([]).gamma is None, parser.parse_args(["--gamma", "0.3"]).gamma
    (True, 0.3)
    """
    defaults = defaults or TrainConfig()
    texts = {**HELP, **(help_overrides or {})}
    for name, kind in TrainConfig.field_types().items():
        if fields is not None and name not in fields:
            continue
        flag = "--" + name.replace("_", "-")
        value = getattr(defaults, name)
        if name == "precision" and value == resolve_precision("auto"):  # TrainConfig() resolved "auto"
            value = f"auto: {value} here"
        described = f"{texts[name]} (default {value})"
        if name in ("overwrite", "skip_bad_subjects"):
            parser.add_argument(flag, action="store_true", default=None, help=texts[name])
        elif name == "split_fractions":
            parser.add_argument(flag, type=_fractions, default=None, metavar="TRAIN,VAL,TEST", help=described)
        elif kind is bool:
            parser.add_argument(flag, type=_bool, default=None, metavar="{true,false}", help=described)
        else:
            parser.add_argument(flag, type=kind, default=None, help=described)
    return parser


def config_from_args(args):
    """Merges defaults < `--config` file < explicit options into a validated `TrainConfig`.

    Args:
        args: an `argparse.Namespace` with `config` (a file path or None) and `TrainConfig`
            fields (None when not given).

    Raises:
        ValueError: a bad value or config file (the message names it).

    Example:
    >>> import argparse
    >>> config_from_args(argparse.Namespace(config=None, gamma=0.25, epochs=None)).gamma
    0.25
    """
    base = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    explicit = {k: v for k, v in vars(args).items() if k != "config" and v is not None}
    return base.replace(**explicit)
