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


def parse_fractions(text: str) -> tuple[float, float, float]:
    """Fractions written as text ("0.8,0.1,0.1", "1,0,0"), validated by `check_fractions`.

    Args:
        text: three comma-separated numbers.

    Raises:
        ValueError: not 3 numbers, negative, train 0, or not summing to 1.

    Example:
    >>> parse_fractions("1, 0, 0")
    (1.0, 0.0, 0.0)
    >>> parse_fractions("0.8,0.1,x")
    Traceback (most recent call last):
    ...
    ValueError: split_fractions wants 3 numbers like 0.8,0.1,0.1, got '0.8,0.1,x'
    """
    try:
        values = [float(part) for part in str(text).split(",")]
    except ValueError:
        raise ValueError(f"split_fractions wants 3 numbers like 0.8,0.1,0.1, got {text!r}") from None
    return check_fractions(values)


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


def read_split_file(path) -> tuple[dict[str, str], str]:
    """Reads a split file: CSV `subject_id,split` (a header row is optional) or JSON `{subject: split}`.

    Args:
        path: a `.json` file (an object) or any other file read as CSV.

    Returns:
        (dict subject id -> split name, SHA-256 hex of the file's bytes).

    Raises:
        ValueError: unreadable, malformed, a split name not in SPLIT_NAMES, or a subject listed twice;
            the message names the file.

    Example:
    >>> with open("split.csv", "w") as f:
    ...     _ = f.write("subject_id,split\\ns1,train\\ns2,test\\n")
    >>> read_split_file("split.csv")[0]
    {'s1': 'train', 's2': 'test'}
    >>> with open("bad.json", "w") as f:
    ...     _ = f.write('{"s1": "training"}')
    >>> read_split_file("bad.json")
    Traceback (most recent call last):
    ...
    ValueError: split file bad.json: subject 's1' has split 'training'; use one of ('train', 'validation', 'test')
    """
    import csv
    import hashlib
    import io
    import json
    import os

    path = os.fspath(path)
    try:
        with open(os.path.expanduser(path), "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"split file {path}: cannot be read ({error})") from error
    pairs = []
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"split file {path}: not valid JSON ({error})") from error
        if not isinstance(data, dict):
            raise ValueError(f"split file {path}: the JSON must be an object {{subject_id: split}}")
        pairs = [(str(k), v) for k, v in data.items()]
    else:
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            cells = [cell.strip() for cell in row]
            if not cells or not any(cells):
                continue
            if len(cells) != 2:
                raise ValueError(
                    f"split file {path}: line {number} has {len(cells)} columns, expected subject_id,split"
                )
            if number == 1 and cells[1].lower() == "split":
                continue  # the header
            pairs.append((cells[0], cells[1]))
    mapping = {}
    for subject, split in pairs:
        if split not in SPLIT_NAMES:
            raise ValueError(f"split file {path}: subject {subject!r} has split {split!r}; use one of {SPLIT_NAMES}")
        if subject in mapping:
            raise ValueError(f"split file {path}: subject {subject!r} is listed twice")
        mapping[subject] = split
    if not mapping:
        raise ValueError(f"split file {path}: lists no subject")
    return mapping, hashlib.sha256(raw).hexdigest()


def splits_from_file(subject_ids: Sequence[str], mapping: dict[str, str], path="split file") -> dict[str, list[str]]:
    """Maps each split name to its sorted ids as a split file says; every id must be listed, and only those.

    Args:
        subject_ids: the ids found in the data folder.
        mapping: subject id -> split name (`read_split_file`).
        path: the file, for the messages.

    Raises:
        ValueError: naming the subjects listed but not found, and those found but not listed.

    Example:
    >>> splits_from_file(["a", "b"], {"a": "train", "b": "test"})
    {'train': ['a'], 'validation': [], 'test': ['b']}
    >>> splits_from_file(["a", "c"], {"a": "train", "b": "test"}, "s.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: split file s.csv does not match the data: unknown subjects ...: ['b']; missing subjects ...: ['c']
    """
    found = set(subject_ids)
    unknown = sorted(set(mapping) - found)
    missing = sorted(found - set(mapping))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown subjects (in the file, not in the data): {unknown}")
        if missing:
            parts.append(f"missing subjects (in the data, not in the file): {missing}")
        raise ValueError(f"split file {path} does not match the data: " + "; ".join(parts))
    return {name: sorted(i for i in found if mapping[i] == name) for name in SPLIT_NAMES}


def split_record(
    fractions: Sequence[float], seed: int, split_file=None, split_dirs: dict | None = None
) -> dict[str, object]:
    """What a prepared dataset records of how its subjects were split (compared when it is reused).

    Args:
        fractions: the config's (train, validation, test) fractions.
        seed: the config's split seed.
        split_file: path of a split file, or None.
        split_dirs: split name -> `{"path": folder, "fingerprint": ...}` of the folders whose subjects make
            that split, or None.

    Returns:
        `{"file": abspath, "sha256": hex}` for a split file, else `{"fractions": [...], "seed": int}`; plus
        `"dirs"` when `split_dirs` is given.

    Example:
    >>> split_record((0.8, 0.1, 0.1), 0)
    {'fractions': [0.8, 0.1, 0.1], 'seed': 0}
    """
    import os

    if split_file is not None:
        path = os.path.abspath(os.path.expanduser(os.fspath(split_file)))
        record: dict[str, object] = {"file": path, "sha256": read_split_file(split_file)[1]}
    else:
        record = {"fractions": [float(f) for f in check_fractions(fractions)], "seed": int(seed)}
    if split_dirs:
        record["dirs"] = {name: dict(split_dirs[name]) for name in sorted(split_dirs)}
    return record


def describe_split_record(record: dict | None) -> str:
    """A short text for messages: `split file X (sha256 ...)` or `fractions 0.8/0.1/0.1, seed 0`.

    Args:
        record: from `split_record`, or None (a dataset from before splits were recorded).

    Example:
    >>> describe_split_record({"fractions": [1.0, 0.0, 0.0], "seed": 0})
    'split fractions 1.0/0.0/0.0 (seed 0)'
    """
    if not record:
        return "an unrecorded split"
    if "file" in record:
        text = f"split file {record['file']} (sha256 {str(record['sha256'])[:12]})"
    else:
        text = "split fractions " + "/".join(str(f) for f in record["fractions"]) + f" (seed {record['seed']})"
    for name, entry in dict(record.get("dirs", {})).items():
        text += f", {name} from {entry['path']}"
    return text


def fractions_without(fractions: Sequence[float], given: Sequence[str]) -> tuple[float, float, float]:
    """The fractions with the splits in `given` (made from their own folders) set to 0, renormalised.

    Args:
        fractions: (train, validation, test).
        given: split names taken from separate folders (not "train").

    Example:
    >>> [round(f, 3) for f in fractions_without((0.8, 0.1, 0.1), ["validation"])]
    [0.889, 0.0, 0.111]
    """
    values = [0.0 if name in given else f for name, f in zip(SPLIT_NAMES, check_fractions(fractions))]
    total = sum(values)
    return check_fractions([v / total for v in values])
