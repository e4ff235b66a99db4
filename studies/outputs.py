"""What the measurement commands of `studies` share: their data options and the report they print.

Every file they write goes through `magan_keras.atomic` (a failed or killed write keeps the
previous file); their baselines are fitted on `magan_keras.evaluation.baselines.DEFAULT_MAX_EXAMPLES`
slices, as the evaluation command's.

Example:
>>> import argparse
>>> from studies.outputs import add_split_options
>>> parser = argparse.ArgumentParser()
>>> add_split_options(parser, baselines="the linear baseline is")
>>> args = parser.parse_args([])
>>> args.dataset, args.split, args.baseline_split
('brats_phantom/slices_64', 'test', 'train')
"""


def add_split_options(parser, baselines="the baselines are"):
    """Adds `--dataset`, `--split`, `--baseline-split` and `--tfds-data-dir` to `parser`.

    Args:
        parser: an `argparse.ArgumentParser`.
        baselines: how the help names what `--baseline-split` fits ("the baselines are").

    Example: see the module docstring.
    """
    parser.add_argument(
        "--dataset",
        default="brats_phantom/slices_64",
        help="prepared dataset, name/config or folder (brats_phantom/slices_64)",
    )
    parser.add_argument("--split", default="test", help="split to score (test)")
    parser.add_argument("--baseline-split", default="train", help=f"split {baselines} fitted on (train)")
    parser.add_argument("--tfds-data-dir", help="TFDS data folder of --dataset (default: TFDS's)")


def markdown_text(lines) -> str:
    """The text of a markdown file made of `lines` (one final newline).

    Args:
        lines: iterable of str.

    Example:
    >>> from studies.outputs import markdown_text
    >>> markdown_text(["# title", "", "body"])
    '# title\\n\\nbody\\n'
    """
    return "\n".join(lines).rstrip("\n") + "\n"


def print_outputs(paths):
    """Prints the markdown table at `paths["md"]`, then where every output went.

    Args:
        paths: dict name -> path, with an `md` entry.

    Example:
    >>> from magan_keras import atomic
    >>> from studies.outputs import print_outputs
    >>> print_outputs({"md": atomic.write_text("table.md", "| a |\\n")})
    | a |
    <BLANKLINE>
      md: table.md
    """
    with open(paths["md"], encoding="utf-8") as f:
        print(f.read())
    for name, path in paths.items():
        print(f"  {name}: {path}")


def replace_section(text, section, start, end) -> str:
    """`text` with the part between the marker lines `start` and `end` replaced (appended when absent).

    A study rewrites its own section of a results page and leaves the rest (hand-written
    discussion included) as it is.

    Args:
        text: str. The page.
        section: str. The new section (without markers).
        start, end: str. The markers.

    Example:
    >>> from studies.outputs import replace_section
    >>> page = replace_section("# page\\n", "new", "<!-- a -->", "<!-- b -->")
    >>> page
    '# page\\n\\n<!-- a -->\\nnew\\n<!-- b -->\\n'
    >>> replace_section(page + "kept\\n", "newer", "<!-- a -->", "<!-- b -->").splitlines()[3:]
    ['newer', '<!-- b -->', 'kept']
    """
    block = f"{start}\n{section.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        return before + block + after
    return text.rstrip("\n") + "\n\n" + block + "\n"
