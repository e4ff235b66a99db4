"""`python -m magan_keras.publish`: send a preset folder to the Hugging Face Hub, Kaggle or a folder.

Argument parsing and `main` only; the work is `magan_keras.sharing.preset.publish` (the preset
is checked first: every file against its SHA-256 in `metadata.json`) and
`magan_keras.sharing.hub.upload`. The Hub token is the one `huggingface_hub` finds (`HF_TOKEN`
or `hf auth login`).

Command line:

    python -m magan_keras.publish --preset runs/magan/preset --to hf://owner/magan-brats128
    python -m magan_keras.publish --preset runs/magan/preset --to shared/magan-brats128   # a new folder

Example:
>>> from magan_keras.cli.publish import build_parser
>>> args = build_parser().parse_args(["--preset", "runs/magan/preset", "--to", "hf://me/magan"])
>>> args.to, args.private
('hf://me/magan', False)
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of `python -m magan_keras.publish`.

    Example:
    >>> build_parser().parse_args(["--preset", "p", "--to", "out", "--private"]).private
    True
    """
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.publish",
        description="Check a preset folder (written by the training command as <run>/preset/) and upload it "
        "to hf://owner/name (Hugging Face Hub), kaggle://owner/model/framework/variation, or copy it to a new "
        "local folder.",
    )
    parser.add_argument("--preset", required=True, help="the preset folder (e.g. runs/magan/preset)")
    parser.add_argument(
        "--to", required=True, help="hf://owner/name, kaggle://owner/model/framework/variation, or a new folder"
    )
    parser.add_argument("--message", help="commit message / version notes")
    parser.add_argument("--private", action="store_true", help="create the Hub repository private")
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input or a failed upload).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> main(["--preset", "no_such_preset", "--to", "copy"])
    2
    """
    args = build_parser().parse_args(argv)
    from magan_keras.sharing import preset  # pylint: disable=import-outside-toplevel

    try:
        where = preset.publish(args.preset, args.to, message=args.message, private=args.private)
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"published {args.preset} to {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
