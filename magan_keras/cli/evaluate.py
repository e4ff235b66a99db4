"""`python -m magan_keras.evaluate`: score a trained MA-GAN and two baselines with both protocols.

Two sources of subjects (`magan_keras.evaluation.subjects`):
- a prepared split (`--dataset`, `--split`): each subject's stored slices at the stored size
  (the model's); the baselines are fitted on `--baseline-split` (at most `--baseline-max-slices`
  slices, `DEFAULT_MAX_EXAMPLES` as in a training run's report);
- a BraTS folder (`--data-dir`): whole volumes at their own resolution, synthesised with the
  model's saved preprocessing (`--canvas-size` overrides its canvas); the baselines are fitted on
  `--baseline-data-dir` (default: the evaluated subjects, flagged as optimistic).

Outputs in `--out-dir` (all replaced together, or none): `per_subject.csv`, `summary.csv`,
`results.md` (the table with notes), `evaluation.png` (per-target distributions and example
slices). The exit status is 0, or 2 on bad input with a message naming it.

Command line:

    python -m magan_keras.evaluate --model model.keras --dataset brats/slices_128 \\
        --split test --out-dir report/
    python -m magan_keras.evaluate --model model.keras --data-dir /data/BraTS_test \\
        --baseline-data-dir /data/BraTS_train --out-dir report/

Example:
>>> from magan_keras.cli.evaluate import build_parser, parse_targets
>>> args = build_parser().parse_args(["--model", "m.keras", "--dataset", "brats/slices_128",
...                                   "--out-dir", "report", "--target", "t1,flair"])
>>> args.split, args.baseline_max_slices, parse_targets(args.target, ("t1", "t1ce", "t2", "flair"))
('test', 2000, ('t1', 'flair'))
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from magan_keras.evaluation.baselines import DEFAULT_MAX_EXAMPLES, Baselines
from magan_keras.evaluation.evaluate import evaluate_model
from magan_keras.evaluation.results import OUTPUT_FILES, existing_outputs
from magan_keras.evaluation.subjects import load_split, subjects_from_folder
from magan_keras.modalities import parse_contrast_list as _parse_contrast_list


class InputError(ValueError):
    """Bad command-line input (the message names the option)."""


def parse_targets(values, known, option="--target") -> tuple:
    """Contrast names from repeated and / or comma-separated option values, validated.

    Args:
        values: list of str (the option's values), or None.
        known: the model's contrast names.
        option: str. Named in the error.

    Returns:
        tuple of names in the order given, without repeats; empty when none is given.

    Raises:
        InputError: an unknown name.

    Example:
    >>> from magan_keras.cli.evaluate import parse_targets
    >>> parse_targets(["t1,t2", "FLAIR", "t1"], ("t1", "t1ce", "t2", "flair"))
    ('t1', 't2', 'flair')
    >>> parse_targets(["pd"], ("t1", "t2"))
    Traceback (most recent call last):
    ...
    magan_keras.cli.evaluate.InputError: --target: unknown contrast 'pd'; choose from t1, t2
    """
    return _parse_contrast_list(values, known, option, InputError)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of `python -m magan_keras.evaluate`.

    Example:
    >>> from magan_keras.cli.evaluate import build_parser
    >>> build_parser().parse_args(["--model", "m.keras", "--data-dir", "brats", "--out-dir", "o"]).batch_size
    8
    """
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.evaluate",
        description="Score a trained MA-GAN and two baselines with the BraSyn and per-slice protocols.",
    )
    parser.add_argument("--model", required=True, help="trained model: a .keras MAGAN or generator")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", help="a BraTS folder (subjects with all four contrasts)")
    source.add_argument("--dataset", help="prepared dataset: name/config (brats/slices_128) or its folder")
    parser.add_argument("--split", default="test", help="split of --dataset to score (test)")
    parser.add_argument("--tfds-data-dir", help="TFDS data folder of --dataset (default: TFDS's)")
    parser.add_argument("--out-dir", required=True, help="folder for the CSV, markdown and PNG")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        help="target contrast(s) to score (repeat or comma-separate; default: all)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="slices per model call (8)")
    parser.add_argument(
        "--canvas-size",
        type=int,
        default=None,
        help="canvas of whole volumes of --data-dir (default: the model's saved preprocessing)",
    )
    parser.add_argument("--max-subjects", type=int, default=None, help="score at most this many subjects")
    baselines = parser.add_argument_group("baselines (fitted on training data)")
    baselines.add_argument(
        "--baseline-split", default="train", help="split of --dataset the baselines are fitted on (train)"
    )
    baselines.add_argument(
        "--baseline-data-dir",
        help="BraTS folder of training subjects for the baselines (with --data-dir; "
        "default: the evaluated subjects, flagged as optimistic)",
    )
    baselines.add_argument(
        "--baseline-max-slices",
        type=int,
        default=DEFAULT_MAX_EXAMPLES,
        help=f"slices of --baseline-split used for the fit ({DEFAULT_MAX_EXAMPLES}, as a training run's report)",
    )
    baselines.add_argument("--no-baselines", action="store_true", help="score the model only")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def fit_baselines_for(args, modalities):
    """The `Baselines` the command line asks for (None with --no-baselines).

    Args:
        args: parsed `build_parser()` arguments.
        modalities: the model's contrast names.

    Example:
    >>> from magan_keras.cli.evaluate import build_parser, fit_baselines_for
    >>> args = build_parser().parse_args(["--model", "m.keras", "--data-dir", "b", "--out-dir", "o",
    ...                                   "--no-baselines"])
    >>> fit_baselines_for(args, ("t1", "t1ce", "t2", "flair")) is None
    True
    """
    if args.no_baselines:
        return None
    if args.dataset:
        train = load_split(args.dataset, args.baseline_split, args.tfds_data_dir)
        return Baselines.fit(
            train,
            modalities,
            max_examples=args.baseline_max_slices,
            description=f"{args.dataset} split '{args.baseline_split}' (at most {args.baseline_max_slices} slices)",
        )
    folder = args.baseline_data_dir or args.data_dir
    description = (
        f"the BraTS folder {folder}"
        if args.baseline_data_dir
        else f"the evaluated subjects themselves ({folder}; optimistic: no training folder given)"
    )
    pairs = ((s.images, s.brain_mask) for s in subjects_from_folder(folder))
    return Baselines.fit(pairs, modalities, description=description)


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> from magan_keras.cli.evaluate import main
    >>> main(["--model", "missing.keras", "--data-dir", "brats", "--out-dir", "report"])
    2
    """
    args = build_parser().parse_args(argv)
    from magan_keras.inference import generator as inference  # pylint: disable=import-outside-toplevel
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    try:
        if args.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
        if args.baseline_max_slices < 1:
            raise InputError(f"--baseline-max-slices must be >= 1, got {args.baseline_max_slices}")
        out_dir = pathlib.Path(args.out_dir)
        existing = existing_outputs(out_dir, OUTPUT_FILES)
        if existing and not args.overwrite:
            raise InputError(f"{existing[0]} exists; pass --overwrite to replace it")
        generator = inference.load_generator(args.model)
        modalities = tuple(generator.modalities)
        targets = parse_targets(args.target, modalities)
        start = time.perf_counter()
        baselines = fit_baselines_for(args, modalities)
        fit_seconds = time.perf_counter() - start
        examples = load_split(args.dataset, args.split, args.tfds_data_dir) if args.dataset else args.data_dir
        source = f"{args.dataset} split '{args.split}'" if args.dataset else args.data_dir
        results = evaluate_model(
            generator,
            examples,
            targets=targets,
            baselines=baselines,
            batch_size=args.batch_size,
            canvas_size=args.canvas_size,
            max_subjects=args.max_subjects,
            progress=not args.quiet,
            notes=[f"model: {args.model}; data: {source}; baselines fitted in {fit_seconds:.1f} s"],
        )
        paths = results.write(out_dir, overwrite=args.overwrite)
    except (
        InputError,
        inference.ModelError,
        subjects.SubjectError,
        subjects.NoSubjectsError,
        FileExistsError,
        ValueError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(results.to_markdown())
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
