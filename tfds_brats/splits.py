"""Deterministic split of subjects into train / validation / test.

Splits are by subject, never by slice. The subject ids are sorted, permuted
with `numpy.random.default_rng(seed)`, and cut into consecutive runs whose
sizes follow the fractions (largest-remainder rounding). With at least as many
subjects as non-zero fractions, every split with a non-zero fraction gets at
least one subject (taken from the largest split); a split with fraction 0 is
empty and not written.

Example:
>>> from tfds_brats.splits import assign_splits
>>> splits = assign_splits(["a", "b", "c", "d", "e"], (0.8, 0.1, 0.1), seed=0)
>>> {name: len(ids) for name, ids in splits.items()}
{'train': 3, 'validation': 1, 'test': 1}
>>> sorted(sum(splits.values(), []))
['a', 'b', 'c', 'd', 'e']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tfds_brats.constants import SPLIT_NAMES


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validates `(train, validation, test)` fractions: 3 values >= 0, sum 1.

    Args:
        fractions: three numbers (train > 0).

    Returns:
        tuple of 3 floats.

    Raises:
        ValueError: not 3 values, negative or non-finite, train 0, or not summing to 1.

    Example:
    >>> check_fractions([0.8, 0.1, 0.1])
    (0.8, 0.1, 0.1)
    >>> check_fractions((0.5, 0.5))
    Traceback (most recent call last):
    ...
    ValueError: split_fractions needs 3 values ('train', 'validation', 'test'), got (0.5, 0.5)
    """
    values = tuple(float(f) for f in fractions)
    if len(values) != len(SPLIT_NAMES):
        raise ValueError(f"split_fractions needs {len(SPLIT_NAMES)} values {SPLIT_NAMES}, got {values}")
    if any(not math.isfinite(f) or f < 0 for f in values):
        raise ValueError(f"split_fractions must be finite and >= 0, got {values}")
    if values[0] <= 0:
        raise ValueError(f"the train fraction must be > 0, got {values}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"split_fractions must add up to 1, got {values} (sum {sum(values)})")
    return values


def split_counts(num_subjects: int, fractions: Sequence[float]) -> list[int]:
    """Number of subjects per split (largest remainder; each non-zero fraction gets one when possible).

    Args:
        num_subjects: int >= 0.
        fractions: (train, validation, test), see `check_fractions`.

    Returns:
        list of 3 ints summing to `num_subjects`.

    Example:
    >>> split_counts(5, (0.8, 0.1, 0.1)), split_counts(10, (0.7, 0.3, 0.0))
    ([3, 1, 1], [7, 3, 0])
    """
    fractions = check_fractions(fractions)
    raw = [num_subjects * f for f in fractions]
    counts = [math.floor(r) for r in raw]
    leftover = num_subjects - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[:leftover]:
        counts[i] += 1
    wanted = [i for i, f in enumerate(fractions) if f > 0]
    if num_subjects >= len(wanted):
        for i in wanted:
            if counts[i] == 0:
                donor = max(range(len(counts)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] += 1
    return counts


def assign_splits(subject_ids: Sequence[str], fractions: Sequence[float], seed: int) -> dict[str, list[str]]:
    """Maps each split name to its (sorted) subject ids.

    Args:
        subject_ids: unique ids (order does not matter).
        fractions: (train, validation, test), summing to 1.
        seed: int. permutation seed.

    Returns:
        dict split name -> sorted ids; every name of SPLIT_NAMES is present
        (possibly with an empty list).

    Example:
    >>> ids = [f"s{i}" for i in range(10)]
    >>> assign_splits(ids, (0.8, 0.1, 0.1), seed=0) == assign_splits(ids[::-1], (0.8, 0.1, 0.1), seed=0)
    True
    """
    ids = sorted(subject_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("assign_splits: subject ids must be unique")
    counts = split_counts(len(ids), fractions)
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    result, start = {}, 0
    for name, count in zip(SPLIT_NAMES, counts):
        result[name] = sorted(shuffled[start : start + count])
        start += count
    return result
