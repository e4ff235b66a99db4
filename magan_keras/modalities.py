"""Contrast names, missing-contrast scenarios and their validation, shared by the model, the data
and the command-line tools."""

BRATS_MODALITIES = ("t1", "t1ce", "t2", "flair")
# Which contrasts a training example lacks: exactly one (the paper's) or a random non-empty subset.
SCENARIOS = ("one_missing", "random_missing")


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
    names = tuple(str(m).lower() for m in modalities)
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
