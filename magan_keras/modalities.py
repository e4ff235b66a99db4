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
