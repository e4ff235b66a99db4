"""MAGAN's named configurations and the one validator of its options.

There is one set of defaults, `DEFAULT`: what `MAGAN()` builds with no arguments and what
`python -m magan_keras.train` trains (a CPU-sized model at 64 px). The paper's configuration
is the named preset `PAPER` (`paper()` builds it): 256 px, width 64, 6 residual blocks, the
paper's generator (no decoder skip) and the paper's loss (no SSIM term). `TrainConfig` takes
its model fields from `DEFAULT`, and `validate_options` is the only place a model option is
checked: `MAGAN`, `TrainConfig`, the tuner and the benchmarks all go through it.

Example:
>>> from magan_keras.models import presets
>>> presets.DEFAULT["image_size"], presets.PAPER["image_size"]
(64, 256)
>>> presets.validate_options({"gamma": 1.5})
Traceback (most recent call last):
...
ValueError: gamma must be a number in [0, 1], got 1.5
"""

import math
import numbers

from magan_keras.modalities import BRATS_MODALITIES, validate_modalities
from tfds_brats.constants import MAX_CONTEXT_SLICES  # shared with the builders' configs

GAN_LOSSES = ("vanilla", "lsgan")
SR_SCHEDULES = ("joint", "pretrain")
GENERATORS = ("multi_branch", "single_input")
# Sizes beyond these are typos, not models: they are refused before anything is allocated.
MAX_IMAGE_SIZE = 1024
MAX_BASE_FILTERS = 1024
MAX_RES_BLOCKS = 64

DEFAULT = {
    "modalities": BRATS_MODALITIES,
    "image_size": 64,
    "base_filters": 16,
    "res_blocks": 2,
    "discriminator_filters": None,
    "gamma": 0.5,
    "alpha": 1.0,
    "beta": 1.0,
    "lambda_l1": 100.0,
    # Not in the paper: a `1 - SSIM` term (docs/results.md measured +0.06-0.08 in-brain SSIM).
    "lambda_ssim": 50.0,
    "gan_loss": "vanilla",
    "modal_attention": True,
    "intra_attention": True,
    "sr_supervision": True,
    "sr_schedule": "joint",
    "sr_pretrain_steps": 200,
    "attention_reduction": 16,
    "pooled_attention": False,
    "generator": "multi_branch",
    # Not in the paper: a full-resolution skip to the decoder (docs/results.md: +0.02-0.05 SSIM).
    "decoder_skip": True,
    # 2.5-D context: each branch also sees K axial neighbours on each side (0: one slice, the paper's).
    "context_slices": 0,
}

PAPER = {
    **DEFAULT,
    "image_size": 256,
    "base_filters": 64,
    "res_blocks": 6,  # the authors' code; Johnson et al. use 9 at 256 px
    "lambda_ssim": 0.0,
    "sr_pretrain_steps": 500,
    "decoder_skip": False,
}

PRESETS = {"default": DEFAULT, "paper": PAPER}

# The class defaults before this record of defaults existed: they were the paper's. A `.keras`
# file stores every constructor argument its version knew, so an option missing from a stored
# config means the file predates it; `from_config` fills such gaps with these, never with
# today's defaults (which would rebuild another architecture than the file's weights).
SAVED_BEFORE_DEFAULTS = PAPER


def with_saved_defaults(config, keys=None):
    """`config` (a stored model config) with each missing option set to its pre-`DEFAULT` value.

    Args:
        config: dict from a model's `get_config`.
        keys: the options to fill (default: all of `MAGAN`'s).

    Example:
    >>> with_saved_defaults({"image_size": 64}, keys=("image_size", "decoder_skip"))
    {'image_size': 64, 'decoder_skip': False}
    """
    keys = SAVED_BEFORE_DEFAULTS if keys is None else keys
    return {**config, **{k: SAVED_BEFORE_DEFAULTS[k] for k in keys if k not in config}}


def _number(name, value, low=0.0, high=None):
    bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number {bounds}, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be a number {bounds}, got {value!r}")
    return value


def _integer(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def _flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def validate_options(options):
    """Checks MAGAN options and returns them normalised (ints as int, weights as float).

    Only the keys given are checked, so a partial dict (a search space, a config file) can be
    validated too; combinations (`generator="single_input"` with `modal_attention` or
    `decoder_skip`) are checked when both keys are present.

    Args:
        options: dict of `MAGAN` constructor arguments.

    Returns:
        a new dict with the same keys.

    Raises:
        ValueError: naming the first bad option, its value and the accepted range.

    Example:
    >>> validate_options({"res_blocks": 3, "alpha": 2})
    {'res_blocks': 3, 'alpha': 2.0}
    """
    unknown = sorted(set(options) - set(DEFAULT))
    if unknown:
        raise ValueError(f"unknown MAGAN options {unknown}; valid options are {sorted(DEFAULT)}")
    checked = {}
    for name, value in options.items():
        if name == "modalities":
            value = validate_modalities(value)
        elif name == "image_size":
            value = _integer(name, value, 16, MAX_IMAGE_SIZE)
            if value % 4:
                raise ValueError(f"image_size must be a multiple of 4 (two stride-2 stages), got {value}")
        elif name in ("base_filters", "discriminator_filters"):
            if value is not None or name == "base_filters":
                value = _integer(name, value, 1, MAX_BASE_FILTERS)
        elif name == "res_blocks":
            value = _integer(name, value, 0, MAX_RES_BLOCKS)
        elif name == "context_slices":
            value = _integer(name, value, 0, MAX_CONTEXT_SLICES)
        elif name == "sr_pretrain_steps":
            value = _integer(name, value, 0, 10**9)
        elif name == "attention_reduction":
            value = _integer(name, value, 1, 1024)
        elif name == "gamma":
            value = _number(name, value, 0.0, 1.0)
        elif name in ("alpha", "beta", "lambda_l1", "lambda_ssim"):
            value = _number(name, value)
        elif name == "gan_loss":
            value = _choice(name, value, GAN_LOSSES)
        elif name == "sr_schedule":
            value = _choice(name, value, SR_SCHEDULES)
        elif name == "generator":
            value = _choice(name, value, GENERATORS)
        else:
            value = _flag(name, value)
        checked[name] = value
    if checked.get("generator") == "single_input":
        clashes = [name for name in ("modal_attention", "decoder_skip", "context_slices") if checked.get(name)]
        if clashes:
            raise ValueError(
                "generator single_input (pix2pix-style) has no branches, so it needs "
                + " and ".join(f"{name} {'0' if name == 'context_slices' else 'false'}" for name in clashes)
            )
    return checked


def paper(**overrides):
    """The paper's MAGAN (`PAPER`), with `overrides` applied.

    Args:
        **overrides: `MAGAN` arguments that replace the preset's (e.g. `image_size=64`).

    Example:
    >>> model = paper(image_size=32, base_filters=8, res_blocks=1)
    >>> model.decoder_skip, model.lambda_ssim
    (False, 0.0)
    """
    from magan_keras.models.magan import MAGAN

    return MAGAN(**{**PAPER, **overrides})
