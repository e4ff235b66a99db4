"""`python -m magan_keras.export`: export a trained generator as a TF Serving SavedModel.

Argument parsing and `main` only; the work is `magan_keras.inference.export` (layout,
signature, the `assets.extra/magan_keras.json` description with the model's preprocessing).

Command line:

    python -m magan_keras.export --model runs/magan/model.keras --export-dir serving/ \\
        --name magan --version 1

Example:
>>> from magan_keras.cli.export import build_parser
>>> args = build_parser().parse_args(["--model", "m.keras", "--export-dir", "serving"])
>>> args.name, args.version
('magan', 1)
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of `python -m magan_keras.export`.

    Example:
    >>> build_parser().parse_args(["--model", "m.keras", "--export-dir", "s", "--version", "3"]).version
    3
    """
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.export",
        description="Export a trained MA-GAN generator as a TF Serving SavedModel "
        "(<export-dir>/<name>/<version>/, signature serving_default: images, "
        "available, target -> synthesis).",
    )
    parser.add_argument(
        "--model", required=True, help="trained model: a .keras MAGAN or generator, a preset folder or hf://owner/name"
    )
    parser.add_argument("--export-dir", required=True, help="TF Serving model base folder")
    parser.add_argument("--name", default="magan", help="model name (magan)")
    parser.add_argument("--version", type=int, default=1, help="version number (1); never overwritten")
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> main(["--model", "missing.keras", "--export-dir", "serving"])
    2
    """
    args = build_parser().parse_args(argv)
    from magan_keras.inference import export  # pylint: disable=import-outside-toplevel
    from magan_keras.inference import generator as inference  # pylint: disable=import-outside-toplevel

    try:
        generator = inference.load_generator(args.model)
        path = export.export_generator(generator, args.export_dir, name=args.name, version=args.version)
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    note = inference.preprocessing_note(inference.preprocessing_of(generator))
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"wrote {path} (signature '{export.SIGNATURE}': inputs {', '.join(export.describe(generator)['inputs'])}; "
        f"output {export.OUTPUT_NAME}; preprocessing in {path}/assets.extra/magan_keras.json)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
