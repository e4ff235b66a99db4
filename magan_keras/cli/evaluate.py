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
slices); with `--segmenter COMMAND` (`magan_keras.evaluation.segmentation`) also the segmenter's
Dice / HD95 on real vs synthetic inputs in the tables and `segmentation.png`. The exit status
is 0, or 2 on bad input with a message naming it.

Command line:

    python -m magan_keras.evaluate --model model.keras --dataset brats/slices_128 \\
        --split test --out-dir report/
    python -m magan_keras.evaluate --model model.keras --data-dir /data/BraTS_test \\
        --baseline-data-dir /data/BraTS_train --out-dir report/
    python -m magan_keras.evaluate --predictions outputs/ --data-dir /data/BraTS_val \\
        --baseline-data-dir /data/BraTS_train --brasyn-dropout --out-dir report/

`--predictions DIR` scores NIfTI files any model wrote (`<subject>_<contrast>_synthetic.nii.gz`
or the challenge's `<subject>-<t1n|t1c|t2w|t2f>.nii.gz`, flat or per subject;
`magan_keras.evaluation.predictions`) against `--data-dir`, with no `--model`; a missing one
stops the run with every subject and contrast listed. `--brasyn-dropout` scores each subject on
the contrast the challenge organisers' `dropout_modality.py` drops for it
(`magan_keras.evaluation.challenge.brasyn_dropout_for_folder`).

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

from magan_keras.cli.options import positive_int
from magan_keras.evaluation import segmentation
from magan_keras.evaluation.baselines import DEFAULT_MAX_EXAMPLES, Baselines
from magan_keras.evaluation.challenge import brasyn_dropout_for_folder
from magan_keras.evaluation.evaluate import evaluate_model
from magan_keras.evaluation.predictions import PREDICTIONS_METHOD, PredictionSource
from magan_keras.evaluation.results import OUTPUT_FILES, existing_outputs
from magan_keras.evaluation.subjects import load_split, subjects_from_folder
from magan_keras.inference.planes import parse_options as parse_planes_options
from magan_keras.inference.planes import plane_models
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
    scored = parser.add_mutually_exclusive_group(required=True)
    scored.add_argument(
        "--model", help="trained model: a .keras MAGAN or generator, a preset folder or hf://owner/name"
    )
    scored.add_argument(
        "--predictions",
        metavar="DIR",
        help="score the NIfTI files any model wrote in DIR instead of a model (with --data-dir): "
        "<subject>_<contrast>_synthetic.nii.gz or <subject>-<t1n|t1c|t2w|t2f>.nii.gz, flat or per subject",
    )
    parser.add_argument(
        "--name", default=PREDICTIONS_METHOD, help=f"method name of --predictions in the tables ({PREDICTIONS_METHOD})"
    )
    parser.add_argument(
        "--brasyn-dropout",
        action="store_true",
        help="the BraSyn challenge's protocol (with --data-dir): score each subject on the contrast the "
        "organisers' dropout_modality.py drops for it (seed 123456, sorted subject folders)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", help="a BraTS folder (subjects with all four contrasts)")
    source.add_argument("--dataset", help="prepared dataset: name/config (brats/slices_128) or its folder")
    parser.add_argument(
        "--split",
        default="test",
        help="split of --dataset, or of --split-file with --data-dir, to score (test)",
    )
    parser.add_argument(
        "--split-file",
        help="with --data-dir: CSV (subject_id,split) or JSON ({subject: split}) file listing every subject of "
        "the folder; only the --split subjects are scored, and the baselines are fitted on its train subjects "
        "(unless --baseline-data-dir)",
    )
    parser.add_argument("--tfds-data-dir", help="TFDS data folder of --dataset (default: TFDS's)")
    parser.add_argument("--out-dir", required=True, help="folder for the CSV, markdown and PNG")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        help="target contrast(s) to score (repeat or comma-separate; default: all)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=8, help="slices per model call (8)")
    parser.add_argument(
        "--canvas-size",
        type=positive_int,
        default=None,
        help="canvas of whole volumes of --data-dir (default: the model's saved preprocessing)",
    )
    parser.add_argument("--max-subjects", type=positive_int, default=None, help="score at most this many subjects")
    parser.add_argument(
        "--planes",
        default=None,
        help="synthesise along these slice orientations and fuse them, comma-separated: axial (default), "
        "coronal, sagittal (with --model; as synthesize --planes)",
    )
    parser.add_argument(
        "--plane-model",
        action="append",
        default=[],
        metavar="PLANE=FILE",
        help="one model per orientation: with --planes, synthesise PLANE's slices with FILE; repeatable; "
        "the planes without one use --model (as synthesize --plane-model)",
    )
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
    add_segmenter_options(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--no-input-checks",
        action="store_true",
        help="score BraTS-folder subjects that fail the input checks (contrast identity, co-registration, skull)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def add_segmenter_options(parser):
    """The downstream-segmentation options (`magan_keras.evaluation.segmentation`).

    Example:
    >>> import argparse
    >>> from magan_keras.cli.evaluate import add_segmenter_options
    >>> parser = argparse.ArgumentParser()
    >>> add_segmenter_options(parser)
    >>> parser.parse_args(["--segmenter", "seg {dir} {out}"]).segmenter_labels
    'auto'
    """
    group = parser.add_argument_group("downstream segmentation (the BraSyn challenge's second score)")
    group.add_argument(
        "--segmenter",
        metavar="COMMAND",
        help="segmentation command run on the real contrasts and with the synthesis in place of the target; "
        "placeholders {t1} {t1ce} {t2} {flair} (or {t1n} {t1c} {t2w} {t2f}), {dir} (the four inputs as a "
        "BraTS 2023 subject folder), {subject} and {out} (the segmentation to write), e.g. "
        "'python seg.py {t1} {t1ce} {t2} {flair} {out}'",
    )
    group.add_argument(
        "--segmenter-labels",
        choices=segmentation.LABEL_CHOICES,
        default="auto",
        help="labelling of the segmenter's output: BraTS 2021 (enhancing 4), 2023 (enhancing 3) or auto (per file)",
    )
    group.add_argument("--segmenter-timeout", type=float, default=None, help="seconds one segmenter run may take")
    group.add_argument(
        "--segmenter-shell", action="store_true", help="run COMMAND through the shell (pipes, &&, variables)"
    )


def segmenter_for(args):
    """The `Segmenter` the command line asks for, or None.

    Raises:
        InputError: a bad template or option (named).

    Example:
    >>> from magan_keras.cli.evaluate import build_parser, segmenter_for
    >>> args = build_parser().parse_args(["--model", "m.keras", "--data-dir", "b", "--out-dir", "o",
    ...                                   "--segmenter", "seg {flair} {out}"])
    >>> segmenter_for(args).inputs
    ('flair',)
    """
    if args.segmenter is None:
        return None
    try:
        return segmentation.Segmenter(
            args.segmenter, labels=args.segmenter_labels, shell=args.segmenter_shell, timeout=args.segmenter_timeout
        )
    except ValueError as error:
        raise InputError(str(error)) from error


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
    train_ids = None
    if getattr(args, "split_file", None) and not args.baseline_data_dir:
        train_ids = split_file_subjects(args.split_file, args.data_dir)["train"]
        description = f"the train subjects of {args.split_file} in {folder}"
    checked = not getattr(args, "no_input_checks", False)
    pairs = (
        (s.images, s.brain_mask) for s in subjects_from_folder(folder, input_checks=checked, subject_ids=train_ids)
    )
    return Baselines.fit(pairs, modalities, description=description)


def split_file_subjects(split_file, data_dir) -> dict[str, list[str]]:
    """Split name -> the subject ids of `data_dir` a split file gives it (every subject must be listed).

    Args:
        split_file: CSV or JSON split file (`tfds_brats.splits.read_split_file`).
        data_dir: the BraTS folder.

    Raises:
        ValueError: a bad file, or subjects listed but not found / found but not listed (named).

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> _ = write_fake_subject("sf/a", "a", shape=(8, 8, 4)), write_fake_subject("sf/b", "b", shape=(8, 8, 4))
    >>> with open("sf.json", "w") as f:
    ...     _ = f.write('{"a": "train", "b": "test"}')
    >>> split_file_subjects("sf.json", "sf")["test"]
    ['b']
    """
    from tfds_brats import splits, subjects  # pylint: disable=import-outside-toplevel

    mapping, _ = splits.read_split_file(split_file)
    found = [files.subject_id for files in subjects.find_subjects(data_dir)]
    return splits.splits_from_file(found, mapping, split_file)


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
        segmenter = segmenter_for(args)
        planes = parse_planes_options(args.planes, InputError)
        if args.predictions and planes != ("axial",):
            raise InputError("--planes synthesises with --model; --predictions files are scored as written")
        if args.predictions and args.plane_model:
            raise InputError("--plane-model synthesises with models; --predictions files are scored as written")
        out_dir = pathlib.Path(args.out_dir)
        existing = existing_outputs(out_dir, OUTPUT_FILES)
        if existing and not args.overwrite:
            raise InputError(f"{existing[0]} exists; pass --overwrite to replace it")
        if (args.predictions or args.brasyn_dropout) and not args.data_dir:
            option = "--predictions" if args.predictions else "--brasyn-dropout"
            raise InputError(f"{option} scores against a BraTS folder: give --data-dir")
        if args.brasyn_dropout and args.target:
            raise InputError("--brasyn-dropout picks each subject's target; give no --target with it")
        if args.predictions:
            generator = PredictionSource(args.predictions, args.name)
            modalities = generator.modalities
        else:
            generator = inference.load_generator(plane_models(args.model, args.plane_model, planes, InputError))
            modalities = tuple(generator.modalities)
        scored_ids = None
        if args.split_file:
            if not args.data_dir:
                raise InputError("--split-file picks subjects of a BraTS folder: give --data-dir")
            if args.predictions or args.brasyn_dropout:
                raise InputError(
                    "--split-file scores a model on its subjects; give no --predictions or --brasyn-dropout"
                )
            scored_ids = split_file_subjects(args.split_file, args.data_dir).get(args.split)
            if scored_ids is None:
                raise InputError(f"--split {args.split!r}: a split file has train, validation and test")
            if not scored_ids:
                raise InputError(f"{args.split_file} gives no subject to the {args.split!r} split")
        targets = parse_targets(args.target, modalities)
        dropped = brasyn_dropout_for_folder(args.data_dir) if args.brasyn_dropout else None
        if args.predictions:  # every file there before the baselines are fitted
            generator.check(generator.expected(args.data_dir, targets, dropped, args.max_subjects))
        start = time.perf_counter()
        baselines = fit_baselines_for(args, modalities)
        fit_seconds = time.perf_counter() - start
        examples = load_split(args.dataset, args.split, args.tfds_data_dir) if args.dataset else args.data_dir
        source = f"{args.dataset} split '{args.split}'" if args.dataset else args.data_dir
        if scored_ids is not None:
            source = f"{args.data_dir}, the {args.split!r} subjects of {args.split_file} ({len(scored_ids)})"
        results = evaluate_model(
            generator,
            examples,
            targets=targets,
            baselines=baselines,
            batch_size=args.batch_size,
            canvas_size=args.canvas_size,
            max_subjects=args.max_subjects,
            progress=not args.quiet,
            notes=[
                f"{'predictions: ' + args.predictions if args.predictions else 'model: ' + args.model}; "
                f"data: {source}; baselines fitted in {fit_seconds:.1f} s"
            ],
            brasyn_dropout=args.brasyn_dropout,
            segmenter=segmenter,
            input_checks=not args.no_input_checks,
            subject_ids=scored_ids,
            planes=planes,
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
