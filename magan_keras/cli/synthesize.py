"""`python -m magan_keras.synthesize`: synthesise the missing contrasts of one subject's NIfTI volumes.

Argument parsing and `main` only; the work is `magan_keras.inference.synthesis`. Every contrast
absent from the inputs is synthesised from those present, or only the ones named with
`--target`; a `--target` whose file is given is hidden from the model and shown as the truth by
`--figure`. The canvas, percentiles, orientation and contrasts come from the model's saved
preprocessing (`--canvas-size` overrides the canvas); a model saved without one gets the old
defaults, with a note on stderr.

Command line:

    python -m magan_keras.synthesize --model model.keras \\
        --subject-dir /data/BraTS2021/BraTS2021_00000 --out-dir out/ --figure
    python -m magan_keras.synthesize --model model.keras --t1 s_t1.nii.gz --t1ce s_t1ce.nii.gz \\
        --t2 s_t2.nii.gz --out-dir out/                     # writes s_flair_synthetic.nii.gz
    python -m magan_keras.synthesize --model model.keras --subject-dir S --target flair \\
        --out-dir out/ --figure                              # hides S's flair, shows it as truth
    python -m magan_keras.synthesize --model model.keras --data-dir /data/BraTS_val \\
        --brasyn-dropout --out-dir out/          # the challenge's dropped contrast of every subject

`--data-dir` runs over a folder of subjects (`magan_keras.inference.folder`): each subject's
missing contrasts, or `--target`, or with `--brasyn-dropout` the contrast the challenge
organisers' `dropout_modality.py` drops for that subject folder (its file hidden when present).

Example:
>>> from magan_keras.cli.synthesize import build_parser, parse_contrast_list
>>> args = build_parser().parse_args(["--model", "m.keras", "--t1", "a.nii.gz", "--out-dir", "o"])
>>> args.t1, args.canvas_size, args.batch_size
('a.nii.gz', None, 8)
>>> parse_contrast_list(["t1,t2", "flair"])
('t1', 't2', 'flair')
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from magan_keras.cli.options import positive_int
from magan_keras.inference.planes import parse_options as parse_planes_options
from magan_keras.inference.planes import plane_models
from magan_keras.inference.synthesis import INTENSITY_SCALE, OUTPUT_SUFFIX, InputError
from magan_keras.inference.uncertainty import DEFAULT_STRIDE
from magan_keras.modalities import BRATS_MODALITIES, check_safe_name
from magan_keras.modalities import parse_contrast_list as _parse_contrast_list
from tfds_brats.constants import BRATS_CANVAS_SIZE


def parse_contrast_list(values, known=BRATS_MODALITIES, option="--target"):
    """Contrast names from repeated and / or comma-separated option values, validated.

    Args:
        values: list of str (e.g. `args.target`), or None.
        known: the accepted names.
        option: the option's name for messages.

    Returns:
        tuple of distinct names in the order given.

    Raises:
        InputError: an unknown name.

    Example:
    >>> parse_contrast_list(["T1, t2", "t1"])
    ('t1', 't2')
    >>> parse_contrast_list(["pd"])
    Traceback (most recent call last):
    ...
    magan_keras.inference.synthesis.InputError: --target: unknown contrast 'pd'; choose from t1, t1ce, t2, flair
    """
    return _parse_contrast_list(values, known, option, InputError)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of `python -m magan_keras.synthesize`.

    Example:
    >>> build_parser().parse_args(["--model", "m.keras", "--out-dir", "o", "--figure"]).figure
    ''
    """
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.synthesize",
        description="Synthesise missing MRI contrasts of one subject with a trained MA-GAN.",
        epilog=f"Outputs: <out-dir>/<subject>_<contrast>{OUTPUT_SUFFIX}, float32, {INTENSITY_SCALE}.",
    )
    parser.add_argument(
        "--model", required=True, help="trained model: a .keras MAGAN or generator, a preset folder or hf://owner/name"
    )
    parser.add_argument("--subject-dir", help="folder of one BraTS subject (2018-2021 or 2023+ names)")
    parser.add_argument(
        "--data-dir",
        help="folder of BraTS subjects: synthesise each one's missing contrasts (or --target), "
        "written flat in --out-dir",
    )
    parser.add_argument(
        "--brasyn-dropout",
        action="store_true",
        help="with --data-dir: synthesise, for each subject folder, the contrast the BraSyn organisers' "
        "dropout_modality.py drops (seed 123456, sorted folders), its file hidden when present",
    )
    parser.add_argument(
        "--max-subjects", type=positive_int, default=None, help="with --data-dir: the first subjects only"
    )
    for name in BRATS_MODALITIES:
        parser.add_argument(f"--{name}", metavar="FILE", help=f"NIfTI file of the {name} contrast")
    parser.add_argument("--subject-id", help="name of the outputs (default: from the file names)")
    parser.add_argument("--out-dir", required=True, help="folder for the synthesised volumes")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        help="contrast to synthesise (repeat or comma-separate; default: every "
        "missing one). A target whose file is given is hidden and used as truth",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--figure",
        nargs="?",
        const="",
        default=None,
        metavar="PNG",
        help="also write a PNG of a few slices (default name: <out-dir>/<subject>_synthesis.png)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=8, help="slices per model call (8)")
    parser.add_argument(
        "--canvas-size",
        type=positive_int,
        default=None,
        help="override the square canvas slices are padded to before resizing "
        "(default: the one saved with the model; for a model saved without "
        "one, the model size when the volume already has it, else "
        f"{BRATS_CANVAS_SIZE})",
    )
    parser.add_argument(
        "--no-input-checks",
        action="store_true",
        help="go on when a file fails the input checks (contrast identity, co-registration, skull stripping)",
    )
    parser.add_argument(
        "--uncertainty",
        action="store_true",
        help="also write <subject>_<contrast>_uncertainty.nii.gz (spread of the syntheses from all inputs and "
        "each leave-one-input-out subset) and <subject>_uncertainty.json (its mean in the brain and tumour)",
    )
    parser.add_argument(
        "--uncertainty-stride",
        type=positive_int,
        default=DEFAULT_STRIDE,
        metavar="N",
        help=f"with --uncertainty: run the leave-one-out subsets on every N-th brain slice and interpolate "
        f"the map between ({DEFAULT_STRIDE}, at most 2x a plain synthesis at the paper's size; 1: every slice, "
        "the exact map)",
    )
    parser.add_argument(
        "--seg",
        metavar="FILE",
        help="tumour segmentation for the uncertainty summary (default: the subject folder's seg file, if any)",
    )
    parser.add_argument(
        "--planes",
        default=None,
        help="slice orientations to synthesise along and fuse, comma-separated: axial (default, as the "
        "model is trained), coronal, sagittal; e.g. axial,coronal,sagittal (one synthesis per plane)",
    )
    parser.add_argument(
        "--plane-model",
        action="append",
        default=[],
        metavar="PLANE=FILE",
        help="one model per orientation: synthesise PLANE's slices with FILE (e.g. a model trained with "
        "train --planes coronal); repeatable; the planes without one use --model",
    )
    parser.add_argument(
        "--context-slices",
        type=int,
        default=None,
        metavar="K",
        help="2.5-D: the neighbours on each side the model was trained with; read from the model (the default), "
        "a different K is refused",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> main(["--model", "missing.keras", "--t1", "a.nii.gz", "--out-dir", "o"])
    2
    """
    args = build_parser().parse_args(argv)
    from magan_keras.inference import generator as inference  # pylint: disable=import-outside-toplevel
    from magan_keras.inference import synthesis  # pylint: disable=import-outside-toplevel
    from tfds_brats import checks, subjects  # pylint: disable=import-outside-toplevel

    try:
        if args.batch_size < 1:
            raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
        if args.canvas_size is not None and args.canvas_size < 1:
            raise InputError(f"--canvas-size must be >= 1, got {args.canvas_size}")
        targets = parse_contrast_list(args.target)
        planes = parse_planes_options(args.planes, InputError)
        model = plane_models(args.model, args.plane_model, planes, InputError)
        explicit = {name: getattr(args, name) for name in BRATS_MODALITIES if getattr(args, name)}
        if args.brasyn_dropout and not args.data_dir:
            raise InputError("--brasyn-dropout works over a folder of subjects: give --data-dir")
        if args.data_dir:
            if args.subject_dir or explicit or args.subject_id or args.figure is not None:
                raise InputError("--data-dir takes no --subject-dir, contrast files, --subject-id or --figure")
            if args.uncertainty or args.seg:
                raise InputError("--uncertainty and --seg are for one subject (--subject-dir), not --data-dir")
            from magan_keras.inference import folder  # pylint: disable=import-outside-toplevel

            if args.context_slices is not None:
                inference.check_context_slices(inference.load_generator(model), args.context_slices, args.model)

            folder.synthesize_folder(
                model,
                args.data_dir,
                args.out_dir,
                targets=targets,
                brasyn_dropout=args.brasyn_dropout,
                max_subjects=args.max_subjects,
                overwrite=args.overwrite,
                report=_print_done,
                canvas_size=args.canvas_size,
                batch_size=args.batch_size,
                progress=not args.quiet,
                input_checks=not args.no_input_checks,
                planes=planes,
            )
            return 0
        if args.subject_dir and explicit:
            raise InputError("give either --subject-dir or contrast files (--t1 ...), not both")
        if args.subject_dir:
            subject_id, files = synthesis.find_subject_files(args.subject_dir)
        else:
            subject_id, files = None, explicit
        if args.subject_id is not None:  # output file names are built from it
            check_safe_name(args.subject_id, "--subject-id", InputError)
        subject_id = args.subject_id or subject_id
        generator = inference.load_generator(model)
        inference.check_context_slices(generator, args.context_slices, args.model)
        _, _, targets = synthesis.plan(files, tuple(generator.modalities), targets, args.model)
        subject_id = subject_id or synthesis.subject_id_from_files(files)
        existing = synthesis.existing_outputs(args.out_dir, subject_id, targets, args.uncertainty)
        if existing and not args.overwrite:
            raise InputError(f"{existing[0]} exists; pass --overwrite to replace it")
        figure = None
        if args.figure is not None:
            figure = pathlib.Path(args.figure or pathlib.Path(args.out_dir) / f"{subject_id}_synthesis.png")
            if figure.exists() and not args.overwrite:
                raise InputError(f"{figure} exists; pass --overwrite to replace it")
        result = synthesis.synthesize_subject(
            generator,
            files,
            targets=targets,
            subject_id=subject_id,
            canvas_size=args.canvas_size,
            batch_size=args.batch_size,
            progress=not args.quiet,
            input_checks=not args.no_input_checks,
            uncertainty=args.uncertainty,
            uncertainty_stride=args.uncertainty_stride,
            planes=planes,
            seg=args.seg or (synthesis.find_seg_file(args.subject_dir) if args.subject_dir else None),
        )
        for finding in result.checks.warnings if result.checks is not None else ():
            print(f"warning: input check: {finding.message}", file=sys.stderr)
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        written = synthesis.write_outputs(result, args.out_dir, overwrite=args.overwrite)
        if figure is not None:
            from magan_keras.evaluation import figures  # pylint: disable=import-outside-toplevel

            written.append(figures.synthesis_figure(result, figure))
    except (InputError, inference.ModelError, subjects.SubjectError, checks.InputCheckError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"{result.subject_id}: inputs {', '.join(result.inputs)}; synthesised "
        f"{', '.join(result.outputs)} in {result.seconds:.1f} s "
        f"({result.seconds / max(len(result.outputs), 1):.1f} s per volume; canvas {result.canvas_size} px)"
    )
    for target, summary in result.uncertainty_summary.items():
        tumour = "n/a (no seg)" if summary["tumour_mean"] is None else f"{summary['tumour_mean']:.4f}"
        print(f"{target} uncertainty: brain mean {summary['brain_mean']:.4f}, tumour mean {tumour}")
    for path in written:
        print(f"wrote {path}")
    return 0


def _print_done(result, written):
    print(
        f"{result.subject_id}: inputs {', '.join(result.inputs)}; synthesised {', '.join(result.outputs)} "
        f"in {result.seconds:.1f} s; wrote {', '.join(str(p) for p in written)}"
    )
    for note in result.notes:
        print(f"note: {result.subject_id}: {note}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
