"""Contrast names, missing-contrast scenarios and their validation, shared by the model, the data
and the command-line tools."""

import re

BRATS_MODALITIES = ("t1", "t1ce", "t2", "flair")
# Which contrasts a training example lacks: exactly one (the paper's) or a random non-empty subset.
SCENARIOS = ("one_missing", "random_missing")
# What a contrast name or subject id may hold, since file names are built from them: no path
# separator, no "..", no control character (an ANSI escape from a model file prints raw).
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
SAFE_NAME_RULE = "letters, digits, '.', '_', '-', '+', starting with a letter or digit, at most 128 characters"


def check_safe_name(name, what="name", error=ValueError):
    """Returns `name` when it can be part of a file name (`SAFE_NAME`), else raises `error`.

    Args:
        name: str. A contrast name or subject id.
        what: str. What it is, for the message (e.g. "--subject-id").
        error: the exception class to raise.

    Example:
    >>> check_safe_name("BraTS2021_00000")
    'BraTS2021_00000'
    >>> check_safe_name("../../x", "--subject-id")
    Traceback (most recent call last):
    ...
    ValueError: --subject-id '../../x' is not a safe name: use letters, digits, '.', '_', '-', '+', ...
    """
    if not isinstance(name, str) or SAFE_NAME.fullmatch(name) is None:
        raise error(f"{what} {ascii(name)} is not a safe name: use {SAFE_NAME_RULE}")
    return name


def validate_modalities(modalities):
    """Returns `modalities` as a tuple of distinct lower-case names, or raises.

    Args:
        modalities: sequence of str. Contrast names in channel order.

    Example:
    >>> validate_modalities(["t1", "t2"])
    ('t1', 't2')
    """
    if isinstance(modalities, str):
        raise ValueError(f"modalities must be a sequence of names, got the string {modalities!r}")
    names = tuple(check_safe_name(str(m), "contrast name").lower() for m in modalities)
    if len(names) < 2:
        raise ValueError(f"modalities needs at least two contrasts, got {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"modalities has duplicates: {names}")
    return names


def parse_contrast_list(values, known=BRATS_MODALITIES, option="--target", error=ValueError):
    """Contrast names from repeated and / or comma-separated option values, validated.

    Args:
        values: list of str (e.g. `args.target`), or None.
        known: the accepted names.
        option: str. The option's name, for messages.
        error: the exception class to raise (a command's own input error).

    Returns:
        tuple of distinct names in the order given; empty when none is given.

    Example:
    >>> parse_contrast_list(["T1, t2", "t1"])
    ('t1', 't2')
    >>> parse_contrast_list(["pd"])
    Traceback (most recent call last):
    ...
    ValueError: --target: unknown contrast 'pd'; choose from t1, t1ce, t2, flair
    """
    names = []
    for value in values or ():
        for name in str(value).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in known:
                raise error(f"{option}: unknown contrast '{name}'; choose from {', '.join(known)}")
            if name not in names:
                names.append(name)
    return tuple(names)
