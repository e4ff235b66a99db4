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
import sys

import tensorflow_datasets as tfds

from tfds_brats.configs import BratsConfig, changes_suffix, config_name
from tfds_brats.subjects import NoSubjectsError
from tfds_brats.validation import BadSubjectsError

BRATS_DEFAULT_CONFIG = "slices_128"
PHANTOM_DEFAULT_CONFIG = "slices_64"


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
    phantom: bool = False,
    num_subjects: int | None = None,
    image_size: int | None = None,
    seed: int | None = None,
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
        phantom: bool. build `brats_phantom` instead of `brats`.
        num_subjects: int. phantom only: subjects to simulate.
        image_size: int. side of the stored slices.
        seed: int. phantom only: simulation seed.
        **config_fields: any other config field, e.g. `split_seed=1`,
            `min_brain_fraction=0.1`, `split_fractions=(0.7, 0.15, 0.15)`.

    Returns:
        the prepared `tfds.core.DatasetBuilder` (`builder.as_dataset(split=...)`).

    Raises:
        ValueError: bad arguments, a prepared folder made with other settings,
            or (`validation.BadSubjectsError`) subjects failing validation.
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
    if phantom:
        if manual_dir is not None:
            raise ValueError("prepare: the phantom needs no manual_dir; pass one or the other")
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
    cls = builder_class(phantom)
    overrides = dict(config_fields, image_size=image_size)
    if phantom:
        overrides.update(num_subjects=num_subjects, seed=seed)
    resolved = resolve_config(cls, config, **overrides)
    kwargs = {"config": resolved, "skip_bad_subjects": skip_bad_subjects}
    if data_dir is not None:
        kwargs["data_dir"] = os.path.expanduser(os.fspath(data_dir))
    builder = cls(**kwargs)
    if builder.is_prepared():
        _check_same_settings(builder, resolved)
        return builder
    download_config = tfds.download.DownloadConfig(
        manual_dir=None if phantom else os.path.expanduser(os.fspath(manual_dir))
    )
    builder.download_and_prepare(download_config=download_config)
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
    parser.add_argument("--phantom", action="store_true", help="build simulated subjects instead")
    parser.add_argument("--num-subjects", type=int, help="phantom: number of subjects (default 24)")
    parser.add_argument("--image-size", type=int, help="side of the stored slices")
    parser.add_argument("--seed", type=int, help="phantom: simulation seed (default 0)")
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
            phantom=args.phantom,
            num_subjects=args.num_subjects,
            image_size=args.image_size,
            seed=args.seed,
        )
    except (BadSubjectsError, NoSubjectsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary(builder))
    return 0


def _differs(current, requested) -> bool:
    if isinstance(current, tuple):
        return tuple(current) != tuple(requested)
    return current != requested


def _check_same_settings(builder, config: BratsConfig) -> None:
    stored = (builder.info.metadata or {}).get("config")
    if stored is not None and stored != config.params():
        raise ValueError(
            f"{builder.data_dir} was prepared with other settings ({stored}) than requested "
            f"({config.params()}); use another config name or data_dir, or delete that folder"
        )


if __name__ == "__main__":
    raise SystemExit(main())
