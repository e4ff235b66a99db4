"""Prepare the BraTS (or phantom) TFDS dataset: `python -m tfds_brats.prepare`.

Builds through `builder.download_and_prepare(download_config=
tfds.download.DownloadConfig(manual_dir=...))`, which needs nothing beyond a
plain `tensorflow-datasets` install (the `tfds build` CLI also wants
apache-beam and mlcroissant). TFDS writes into a temporary folder and renames
it at the end, so a failed or interrupted run leaves nothing that loads.
Preparing again when the data is already there is a no-op.

Command line:

    python -m tfds_brats.prepare --manual-dir /data/BraTS2021 --config slices_128
    python -m tfds_brats.prepare --manual-dir /data/BraTS2021 --skip-bad-subjects
    python -m tfds_brats.prepare --phantom --image-size 32 --num-subjects 48

Example:
>>> import contextlib, io
>>> from tfds_brats.prepare import prepare, summary
>>> from tfds_brats.brats.make_dummy_data import write_dummy_data
>>> _ = write_dummy_data("brats")  # five tiny subjects; a BraTS download works the same way
>>> with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints its progress
...     builder = prepare("brats", config="slices_64", data_dir="tfds")
>>> print(summary(builder))  # doctest: +ELLIPSIS
brats/slices_64/1.0.0 in tfds/brats/slices_64/1.0.0
source: .../brats
subjects found: 5, used: 5, rejected: 0, with seg: 4
  train          3 subjects       33 slices     8 shards
  validation     1 subjects       11 slices     8 shards
  test           1 subjects       11 slices     8 shards
>>> train = builder.as_dataset(split="train")
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys

import tensorflow_datasets as tfds
from tensorflow_datasets.core import constants as tfds_constants

from tfds_brats import splits, subjects
from tfds_brats.configs import BratsConfig, changes_suffix, config_name
from tfds_brats.planes import parse_planes
from tfds_brats.subjects import NoSubjectsError
from tfds_brats.validation import BadSubjectsError

BRATS_DEFAULT_CONFIG = "slices_128"
PHANTOM_DEFAULT_CONFIG = "slices_64"
# The prefix of the folders TFDS builds in before renaming them.
INCOMPLETE_PREFIX = tfds_constants.INCOMPLETE_PREFIX


def builder_class(phantom: bool):
    """The `brats` or `brats_phantom` Builder class (importing registers it).

    Args:
        phantom: bool.

    Example:
    >>> builder_class(True).name, builder_class(False).name
    ('brats_phantom', 'brats')
    """
    # pylint: disable=import-outside-toplevel
    if phantom:
        from tfds_brats.brats_phantom import Builder
    else:
        from tfds_brats.brats import Builder
    return Builder


def resolve_config(builder_cls, config: str | BratsConfig | None = None, **overrides) -> BratsConfig:
    """The config to build: a predefined one, or one derived from it.

    Args:
        builder_cls: `brats` or `brats_phantom` Builder class.
        config: a config name of `builder_cls` (default: `slices_{image_size}`
            when that exists, else slices_128 / slices_64), or a config object
            (returned as is when there are no overrides).
        **overrides: config fields to change (None = keep), e.g.
            `image_size=96`, `num_subjects=100`, `split_seed=1`. A config with
            changes gets a name that lists them (e.g.
            `slices_64_num_subjects100`), so it is stored apart.

    Returns:
        a config instance.

    Raises:
        ValueError: unknown config name or field.

    Example:
    >>> from tfds_brats.brats_phantom import Builder
    >>> resolve_config(Builder, image_size=32, num_subjects=8).name
    'slices_32_num_subjects8'
    >>> resolve_config(Builder, "slices_64").name
    'slices_64'
    """
    overrides = {key: value for key, value in overrides.items() if value is not None}
    known = builder_cls.builder_configs
    if config is None:
        size = overrides.get("image_size")
        default = PHANTOM_DEFAULT_CONFIG if builder_cls.name == "brats_phantom" else BRATS_DEFAULT_CONFIG
        config = f"slices_{size}" if size is not None and f"slices_{size}" in known else default
    if isinstance(config, str):
        if config not in known:
            raise ValueError(f"unknown {builder_cls.name} config {config!r}; choose from {sorted(known)}")
        base = known[config]
    else:
        base = config
    if base.layout == "volumes":
        overrides.pop("image_size", None)  # volumes are stored at their own size
    fields = {field.name: getattr(base, field.name) for field in dataclasses.fields(base) if field.init}
    unknown = sorted(set(overrides) - set(fields) - {"name"})
    if unknown:
        raise ValueError(f"unknown {type(base).__name__} field(s) {unknown}; known: {sorted(fields)}")
    changes = {key: value for key, value in overrides.items() if _differs(getattr(base, key), value)}
    if not changes:
        return base
    if "image_size" in changes and "depth" in fields and "depth" not in changes:
        fields["depth"] = 0  # re-derive the phantom's depth from the new size
    fields.update(changes)
    if isinstance(config, str):
        named_changes = {k: v for k, v in changes.items() if k != "image_size"}
        fields["name"] = config_name(base.layout, fields["image_size"], base, **named_changes)
    else:
        fields["name"] = f"{base.name}_{changes_suffix(base, **changes)}"
    fields["description"] = f"{base.description or base.name} Changed: {changes}."
    return type(base)(**fields)


def prepare(
    manual_dir: str | os.PathLike | None = None,
    *,
    config: str | BratsConfig | None = None,
    data_dir: str | os.PathLike | None = None,
    skip_bad_subjects: bool = False,
    input_checks: bool = True,
    phantom: bool = False,
    num_subjects: int | None = None,
    image_size: int | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    split_file: str | os.PathLike | None = None,
    validation_data_dir: str | os.PathLike | None = None,
    test_data_dir: str | os.PathLike | None = None,
    **config_fields,
) -> tfds.core.DatasetBuilder:
    """Prepares a dataset if needed and returns its builder (a no-op when ready).

    Args:
        manual_dir: folder holding the BraTS subjects (required unless
            `phantom`).
        config: config name (brats: slices_64 / slices_128 / slices_256 /
            volumes; phantom: slices_32 / slices_64 / slices_128) or a config
            object; default slices_128 (brats) / slices_64 (phantom), or
            `slices_{image_size}` when that exists.
        data_dir: TFDS data folder (default: TFDS's, `~/tensorflow_datasets`
            or `$TFDS_DATA_DIR`).
        skip_bad_subjects: bool. leave out subjects that fail validation and
            list them in the summary, instead of failing before writing.
        input_checks: bool. check each BraTS subject's images (`tfds_brats.checks`: contrasts
            as their names say, co-registered, skull-stripped) and reject those that fail.
        phantom: bool. build `brats_phantom` instead of `brats`.
        num_subjects: int. phantom only: subjects to simulate.
        image_size: int. side of the stored slices.
        seed: int. phantom only: simulation seed.
        overwrite: bool. rebuild a dataset of this config already in `data_dir` that was
            prepared from another BraTS folder, or from files that changed since (without it,
            that is refused). The old data stays until the new is complete.
        split_file: CSV (`subject_id,split`) or JSON (`{subject: split}`) file giving every subject of
            `manual_dir` (or of the phantom) its split, "train", "validation" or "test"; a subject
            listed but not found, or found but not listed, is an error naming it. The dataset records
            the file (path and SHA-256); another split is refused like another source.
        validation_data_dir: a folder whose subjects make the validation split (BraTS only); the
            subjects of `manual_dir` share the other splits (their fractions renormalised).
        test_data_dir: the same for the test split.
        **config_fields: any other config field, e.g. `split_seed=1`,
            `min_brain_fraction=0.1`, `split_fractions=(0.7, 0.15, 0.15)`.

    Returns:
        the prepared `tfds.core.DatasetBuilder` (`builder.as_dataset(split=...)`).

    Raises:
        ValueError: bad arguments, a prepared folder made with other settings,
            (`SourceChangedError`) one prepared from another folder or other files, or
            (`validation.BadSubjectsError`) subjects failing validation.
        subjects.NoSubjectsError: `manual_dir` holds no subject.

    Example:
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints its progress
    ...     builder = prepare(phantom=True, image_size=16, num_subjects=4, data_dir="tfds")
    >>> builder.builder_config.name, builder.info.splits["train"].num_examples > 0
    ('slices_16_num_subjects4', True)
    >>> prepare(phantom=True, image_size=16, num_subjects=4, data_dir="tfds").data_dir == builder.data_dir
    True
    """
    fingerprint = None
    split_dirs = {
        name: folder for name, folder in (("validation", validation_data_dir), ("test", test_data_dir)) if folder
    }
    if split_file is not None:
        if split_dirs:
            raise ValueError("prepare: give a split file or separate validation/test folders, not both")
        splits.read_split_file(split_file)  # a bad file fails here, before anything is built
        split_file = os.path.abspath(os.path.expanduser(os.fspath(split_file)))
    if phantom:
        if manual_dir is not None:
            raise ValueError("prepare: the phantom needs no manual_dir; pass one or the other")
        if split_dirs:
            raise ValueError("prepare: the phantom takes no separate validation or test folder")
    else:
        if manual_dir is None:
            raise ValueError(
                "prepare: manual_dir is required for BraTS (the folder holding the subjects); "
                "use phantom=True for simulated data"
            )
        if num_subjects is not None or seed is not None:
            raise ValueError("prepare: num_subjects and seed apply to the phantom only")
        if not os.path.isdir(os.path.expanduser(os.fspath(manual_dir))):
            raise NoSubjectsError(f"prepare: BraTS folder {manual_dir} does not exist")
        manual_dir = os.path.abspath(os.path.expanduser(os.fspath(manual_dir)))
        # Also refuses an empty folder with our message (TFDS would assert).
        found = subjects.find_subjects(manual_dir)
        fingerprint = subjects.source_fingerprint(found, manual_dir)
        if split_file is not None:  # unknown and missing subjects named before any subject is read
            splits.splits_from_file(
                [files.subject_id for files in found], splits.read_split_file(split_file)[0], split_file
            )
        for name, folder in list(split_dirs.items()):
            if not os.path.isdir(os.path.expanduser(os.fspath(folder))):
                raise NoSubjectsError(f"prepare: {name} folder {folder} does not exist")
            split_dirs[name] = os.path.abspath(os.path.expanduser(os.fspath(folder)))
    cls = builder_class(phantom)
    if config_fields.get("planes") is not None:  # "axial,coronal" or names -> the config's tuple
        config_fields["planes"] = parse_planes(config_fields["planes"])
    overrides = dict(config_fields, image_size=image_size)
    if phantom:
        overrides.update(num_subjects=num_subjects, seed=seed)
    resolved = resolve_config(cls, config, **overrides)
    kwargs = {"config": resolved, "skip_bad_subjects": skip_bad_subjects, "split_file": split_file}
    if split_dirs:
        kwargs["split_dirs"] = split_dirs
    if not phantom:
        kwargs["input_checks"] = input_checks
    if data_dir is not None:
        kwargs["data_dir"] = os.path.expanduser(os.fspath(data_dir))
    builder = cls(**kwargs)
    replaced = None
    if builder.is_prepared():
        _check_same_settings(builder, resolved)
        same_split = _same_split(builder, _requested_split(resolved, split_file, split_dirs), overwrite)
        if same_split and (phantom or _same_source(builder, manual_dir, fingerprint, overwrite)):
            return builder
        # overwrite: the old data moves aside until the new is complete, then goes.
        replaced = _move_aside(builder.data_dir)
        builder = cls(**kwargs)
    download_config = tfds.download.DownloadConfig(manual_dir=None if phantom else manual_dir)
    try:
        builder.download_and_prepare(download_config=download_config)
    except BaseException:
        if replaced is not None and not os.path.exists(builder.data_dir):
            os.replace(replaced, builder.data_dir)
        raise
    if replaced is not None:
        shutil.rmtree(replaced)
    _remove_incomplete_folders(builder.data_dir)
    return builder


def summary(builder: tfds.core.DatasetBuilder) -> str:
    """A human summary of a prepared dataset: subjects, slices per split, rejects.

    Args:
        builder: a prepared `tfds.core.DatasetBuilder` of `brats` or `brats_phantom`.

    Example:
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints its progress
    ...     builder = prepare(phantom=True, image_size=16, num_subjects=5, data_dir="tfds")
    >>> print(summary(builder).splitlines()[1])
    subjects found: 5, used: 5, rejected: 0, with seg: 5
    """
    metadata = dict(builder.info.metadata or {})
    splits = builder.info.splits
    layout = metadata.get("config", {}).get("layout", getattr(builder.builder_config, "layout", "slices"))
    unit = "volumes" if layout == "volumes" else "slices"
    split_subjects = metadata.get("split_subjects", {})
    rejected = metadata.get("rejected_subjects", [])
    lines = [f"{builder.info.full_name} in {builder.data_dir}"]
    if "manual_dir" in metadata:
        lines.append(f"source: {metadata['manual_dir']}")
    found = metadata.get("subjects_found", "?")
    used = sum(len(ids) for ids in split_subjects.values())
    lines.append(
        f"subjects found: {found}, used: {used}, rejected: {len(rejected)}, "
        f"with seg: {metadata.get('subjects_with_seg', '?')}"
    )
    for name, info in splits.items():
        lines.append(
            f"  {name:<10} {len(split_subjects.get(name, [])):>5} subjects "
            f"{info.num_examples:>8} {unit} {info.num_shards:>5} shards"
        )
    warnings = metadata.get("input_warnings", [])
    if warnings:
        lines.append("input check warnings:")
        lines.extend(f"  - {w['subject_id']}: {w['warning']}" for w in warnings)
    if rejected:
        lines.append("rejected subjects:")
        lines.extend(f"  - {r['subject_id']}: {r['file']}: {r['reason']}" for r in rejected)
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line entry point; returns the exit status.

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> import contextlib, io
    >>> printed = io.StringIO()
    >>> with contextlib.redirect_stdout(printed):  # TFDS's progress, then the summary
    ...     code = main(["--phantom", "--image-size", "16", "--num-subjects", "3", "--data-dir", "tfds"])
    >>> code, [line for line in printed.getvalue().splitlines() if line.startswith("subjects found")]
    (0, ['subjects found: 3, used: 3, rejected: 0, with seg: 3'])
    """
    parser = argparse.ArgumentParser(
        prog="python -m tfds_brats.prepare",
        description="Prepare the brats (or brats_phantom) TFDS dataset.",
    )
    parser.add_argument("--manual-dir", help="folder holding the BraTS subjects (any depth)")
    parser.add_argument(
        "--config",
        help="config name; brats: slices_64, slices_128 (default), slices_256, volumes; "
        "phantom: slices_32, slices_64 (default), slices_128",
    )
    parser.add_argument("--data-dir", help="TFDS data folder (default: ~/tensorflow_datasets)")
    parser.add_argument(
        "--skip-bad-subjects",
        action="store_true",
        help="leave out subjects that fail validation (listed in the summary) "
        "instead of stopping before anything is written",
    )
    parser.add_argument(
        "--no-input-checks",
        action="store_true",
        help="accept subjects whose images fail the input checks (swapped contrasts, not co-registered, not "
        "skull-stripped)",
    )
    parser.add_argument("--phantom", action="store_true", help="build simulated subjects instead")
    parser.add_argument("--num-subjects", type=int, help="phantom: number of subjects (default 24)")
    parser.add_argument("--image-size", type=int, help="side of the stored slices")
    parser.add_argument("--seed", type=int, help="phantom: simulation seed (default 0)")
    parser.add_argument(
        "--context-slices",
        type=int,
        help="2.5-D: store the K axial neighbours on each side of every slice (feature 'context'; default 0, none)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="rebuild this config in --data-dir when it was prepared from another --manual-dir or "
        "from files that changed since (refused without it; the old data stays until the new is complete)",
    )
    parser.add_argument(
        "--planes",
        help="orientations the train split is cut along, comma-separated: axial (default), coronal, "
        "sagittal (validation and test stay axial)",
    )
    add_split_arguments(parser)
    args = parser.parse_args(argv)
    if args.phantom and args.manual_dir:
        parser.error("--phantom takes no --manual-dir")
    if not args.phantom and not args.manual_dir:
        parser.error("--manual-dir is required (or --phantom for simulated data)")
    if not args.phantom and (args.num_subjects is not None or args.seed is not None):
        parser.error("--num-subjects and --seed apply to --phantom only")
    try:
        builder = prepare(
            args.manual_dir,
            config=args.config,
            data_dir=args.data_dir,
            skip_bad_subjects=args.skip_bad_subjects,
            input_checks=not args.no_input_checks,
            phantom=args.phantom,
            num_subjects=args.num_subjects,
            image_size=args.image_size,
            seed=args.seed,
            overwrite=args.overwrite,
            split_file=args.split_file,
            validation_data_dir=args.validation_data_dir,
            test_data_dir=args.test_data_dir,
            split_fractions=args.split_fractions,
            context_slices=args.context_slices,
            planes=None if args.planes is None else parse_planes(args.planes),
        )
    except (BadSubjectsError, NoSubjectsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary(builder))
    return 0


def parse_fractions(text: str) -> tuple[float, float, float]:
    """`--split-fractions` text, e.g. "0.8,0.1,0.1" or "1,0,0" (`tfds_brats.splits.parse_fractions`).

    Args:
        text: three comma-separated numbers >= 0 summing to 1 (train > 0).

    Example:
    >>> parse_fractions("1,0,0")
    (1.0, 0.0, 0.0)
    >>> parse_fractions("0.5,0.6,0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: split_fractions must add up to 1, got (0.5, 0.6, 0.0) (sum 1.1)
    """
    try:
        return splits.parse_fractions(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds `--split-file`, `--split-fractions`, `--validation-data-dir` and `--test-data-dir`.

    The same options in `prepare`, `magan_keras.train` and `magan_keras.tune` (one definition).

    Args:
        parser: an `argparse.ArgumentParser`.

    Example:
    >>> parser = argparse.ArgumentParser()
    >>> add_split_arguments(parser)
    >>> parser.parse_args(["--split-fractions", "1,0,0"]).split_fractions
    (1.0, 0.0, 0.0)
    """
    parser.add_argument(
        "--split-file",
        help="CSV (subject_id,split) or JSON ({subject: split}) file giving every subject its split: train, "
        "validation or test (default: --split-fractions)",
    )
    parser.add_argument(
        "--split-fractions",
        type=parse_fractions,
        help="train,validation,test fractions of the subjects, e.g. 0.8,0.1,0.1 (the default) or 1,0,0 "
        "(an empty validation split trains without validation)",
    )
    parser.add_argument("--validation-data-dir", help="a folder whose subjects make the validation split")
    parser.add_argument("--test-data-dir", help="a folder whose subjects make the test split")


def _differs(current, requested) -> bool:
    if isinstance(current, tuple):
        return tuple(current) != tuple(requested)
    return current != requested


class SourceChangedError(ValueError):
    """A prepared dataset that was made from another BraTS folder, or from files changed since."""


def _same_source(builder, manual_dir: str, fingerprint: dict, overwrite: bool) -> bool:
    """True when the prepared data came from `manual_dir` as it is now; else refused, or False to rebuild."""
    metadata = builder.info.metadata or {}
    stored_dir = metadata.get("manual_dir")
    stored_fingerprint = metadata.get("source_fingerprint")
    if stored_dir is None:  # a dataset from before sources were recorded: nothing to compare
        return True
    if os.path.abspath(stored_dir) != manual_dir:
        why = f"was prepared from {stored_dir}, not from {manual_dir}"
    elif stored_fingerprint is not None and dict(stored_fingerprint) != fingerprint:
        why = (
            f"was prepared from {stored_dir} when it held other files ({stored_fingerprint.get('files')} "
            f"subject files then, {fingerprint['files']} now, or their sizes or times changed)"
        )
    else:
        return True
    if overwrite:
        return False
    raise SourceChangedError(
        f"{builder.data_dir} {why}; pass --overwrite (overwrite=True) to rebuild it from {manual_dir}, "
        "or use another --data-dir"
    )


class SplitChangedError(ValueError):
    """A prepared dataset whose subjects were split by another split file, other fractions or other folders."""


def _requested_split(config: BratsConfig, split_file, split_dirs: dict) -> dict:
    dirs = {
        name: {"path": folder, "fingerprint": subjects.source_fingerprint(subjects.find_subjects(folder), folder)}
        for name, folder in split_dirs.items()
    }
    return splits.split_record(config.split_fractions, config.split_seed, split_file, dirs)


def _same_split(builder, requested: dict, overwrite: bool) -> bool:
    """True when the prepared data was split as requested; else refused, or False (overwrite) to rebuild."""
    stored = (builder.info.metadata or {}).get("split_source")
    if stored is None:  # a dataset from before splits were recorded: split by its config's fractions
        stored = splits.split_record(builder.builder_config.split_fractions, builder.builder_config.split_seed)
    if _plain(stored) == _plain(requested):
        return True
    if overwrite:
        return False
    raise SplitChangedError(
        f"{builder.data_dir} was split by {splits.describe_split_record(stored)}, not by "
        f"{splits.describe_split_record(requested)}; pass --overwrite (overwrite=True) to rebuild it, "
        "or use another --data-dir"
    )


def _plain(value):
    """JSON-like values with tuples as lists and mappings as dicts (the stored metadata's form)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _move_aside(data_dir: str) -> str:
    """Renames a prepared version folder to a hidden name beside it (restored if the rebuild fails)."""
    parent, name = os.path.split(os.path.normpath(data_dir))
    aside = os.path.join(parent, f".{name}.replaced-{os.getpid()}")
    if os.path.exists(aside):
        shutil.rmtree(aside)
    os.replace(data_dir, aside)
    return aside


def _remove_incomplete_folders(data_dir: str) -> None:
    """Deletes TFDS's `incomplete.*_<version>` folders beside a just-prepared version folder.

    TFDS builds in such a folder and renames it when done; a killed preparation leaves it.
    """
    parent, name = os.path.split(os.path.normpath(data_dir))
    for entry in os.listdir(parent):
        path = os.path.join(parent, entry)
        if entry.startswith(INCOMPLETE_PREFIX) and entry.endswith(f"_{name}") and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)


def _check_same_settings(builder, config: BratsConfig) -> None:
    stored = (builder.info.metadata or {}).get("config")
    if stored is not None and stored != config.params():
        raise ValueError(
            f"{builder.data_dir} was prepared with other settings ({stored}) than requested "
            f"({config.params()}); use another config name or data_dir, or delete that folder"
        )


if __name__ == "__main__":
    raise SystemExit(main())
