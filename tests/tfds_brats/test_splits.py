"""Subject splits: deterministic, disjoint, every requested split non-empty."""

import pytest

from tfds_brats.splits import assign_splits, split_counts


@pytest.mark.parametrize(
    "n, fractions, expected",
    [
        (10, (0.8, 0.1, 0.1), [8, 1, 1]),
        (5, (0.8, 0.1, 0.1), [3, 1, 1]),
        (3, (0.8, 0.1, 0.1), [1, 1, 1]),
        (2, (0.8, 0.1, 0.1), [2, 0, 0]),
        (1, (0.8, 0.1, 0.1), [1, 0, 0]),
        (100, (0.7, 0.15, 0.15), [70, 15, 15]),
        (4, (1.0, 0.0, 0.0), [4, 0, 0]),
        (7, (0.5, 0.5, 0.0), [4, 3, 0]),
    ],
)
def test_split_counts(n, fractions, expected):
    assert split_counts(n, fractions) == expected


def test_assign_splits_is_deterministic_and_order_free():
    ids = [f"s{i:03d}" for i in range(40)]
    a = assign_splits(ids, (0.8, 0.1, 0.1), seed=0)
    b = assign_splits(list(reversed(ids)), (0.8, 0.1, 0.1), seed=0)
    assert a == b
    assert assign_splits(ids, (0.8, 0.1, 0.1), seed=1) != a


def test_assign_splits_is_disjoint_and_complete():
    ids = [f"s{i:03d}" for i in range(23)]
    splits = assign_splits(ids, (0.8, 0.1, 0.1), seed=3)
    members = [set(v) for v in splits.values()]
    assert set.union(*members) == set(ids)
    assert sum(len(m) for m in members) == len(ids)
    assert all(splits[name] for name in ("train", "validation", "test"))


@pytest.mark.parametrize(
    "fractions, message",
    [((0.8, 0.2), "needs 3"), ((0.8, 0.3, 0.1), "add up to 1"), ((0.0, 0.5, 0.5), "train"), ((1.1, -0.1, 0.0), ">= 0")],
)
def test_bad_fractions(fractions, message):
    with pytest.raises(ValueError, match=message):
        assign_splits(["a", "b", "c"], fractions, seed=0)


def test_duplicate_ids_rejected():
    with pytest.raises(ValueError, match="unique"):
        assign_splits(["a", "a", "b"], (0.8, 0.1, 0.1), seed=0)
