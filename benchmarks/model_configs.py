"""The model configurations the benchmarks take on the command line.

`paper` is the paper's preset (`magan_keras.models.presets.PAPER`: 256 px, 64 base filters,
6 residual blocks, the paper's generator and loss; batch 2), `default` is `TrainConfig()`'s
(`presets.DEFAULT`, what `MAGAN()` builds), and `SIZE:FILTERS:BLOCKS[:BATCH]` gives the numbers
directly for the default model. `model_options` turns a configuration into `MAGAN` arguments,
so every benchmark builds its model through the same presets as the training command.

Example:
    >>> parse_config("64:16:2:8")
    ('64:16:2:8', 64, 16, 2, 8)
    >>> parse_config("paper", with_batch=False)
    ('paper', 256, 64, 6)
"""

import argparse

PAPER_BATCH_SIZE = 2


def paper_config():
    """`(image_size, base_filters, res_blocks, batch_size)` of the paper's preset."""
    from magan_keras.models.presets import PAPER

    return (PAPER["image_size"], PAPER["base_filters"], PAPER["res_blocks"], PAPER_BATCH_SIZE)


def model_options(name, image_size, base_filters, res_blocks):
    """`MAGAN` keyword arguments for a parsed configuration.

    Args:
        name: the configuration's name (`paper`, `default` or the numbers as given).
        image_size, base_filters, res_blocks: int. The sizes.

    Example:
    >>> model_options("paper", 256, 64, 6)["decoder_skip"]
    False
    >>> model_options("64:16:2:8", 64, 16, 2)["decoder_skip"]
    True
    """
    from magan_keras.models.presets import DEFAULT, PAPER

    preset = PAPER if name == "paper" else DEFAULT
    return {**preset, "image_size": image_size, "base_filters": base_filters, "res_blocks": res_blocks}


def default_config():
    """`(image_size, base_filters, res_blocks, batch_size)` of `TrainConfig()`."""
    from magan_keras.training.config import TrainConfig

    config = TrainConfig()
    return (config.image_size, config.base_filters, config.res_blocks, config.batch_size)


def parse_config(text, with_batch=True):
    """`(name, image_size, base_filters, res_blocks[, batch_size])` from `paper`, `default` or numbers.

    Args:
        text: `paper`, `default`, or `SIZE:FILTERS:BLOCKS:BATCH` (`SIZE:FILTERS:BLOCKS` when
            `with_batch` is false).
        with_batch: whether the configuration includes the batch size.

    Raises:
        argparse.ArgumentTypeError: for anything else, so argparse names the argument.
    """
    fields = 4 if with_batch else 3
    if text == "paper":
        values = paper_config()
    elif text == "default":
        values = default_config()
    else:
        try:
            values = tuple(int(v) for v in text.split(":"))
        except ValueError:
            values = ()
        if len(values) != fields or min(values) < 1:
            numbers = "SIZE:FILTERS:BLOCKS:BATCH" if with_batch else "SIZE:FILTERS:BLOCKS"
            raise argparse.ArgumentTypeError(f"expected paper, default or {numbers}, got {text!r}")
    return (text,) + tuple(values[:fields])


def parse_config_without_batch(text):
    """`parse_config(text, with_batch=False)`, for argparse's `type=`."""
    return parse_config(text, with_batch=False)
