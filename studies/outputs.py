"""What the measurement commands of `studies` share: their data options,
atomic writes of their tables, and the report they print.

Example:
    parser = argparse.ArgumentParser()
    add_split_options(parser, baselines="the linear baseline is")
    write_csv_atomically("runs/x/table.csv", ["target", "ssim"], [{"target": "t1", "ssim": 0.8}])
"""

import csv
import os


def add_split_options(parser, baselines="the baselines are"):
    """Adds `--dataset`, `--split`, `--baseline-split` and `--tfds-data-dir` to `parser`.

    Args:
        parser: an `argparse.ArgumentParser`.
        baselines: how the help names what `--baseline-split` fits ("the baselines are").
    """
    parser.add_argument("--dataset", default="brats_phantom/slices_64",
                        help="prepared dataset, name/config or folder (brats_phantom/slices_64)")
    parser.add_argument("--split", default="test", help="split to score (test)")
    parser.add_argument("--baseline-split", default="train", help=f"split {baselines} fitted on (train)")
    parser.add_argument("--tfds-data-dir", help="TFDS data folder of --dataset (default: TFDS's)")


def write_csv_atomically(path, columns, rows):
    """Writes `rows` (dicts) under the header `columns`; an existing file is replaced whole or kept."""
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(path + ".tmp", path)


def write_lines_atomically(path, lines):
    """Writes text lines; an existing file is replaced whole or kept."""
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def print_outputs(paths):
    """Prints the markdown table at `paths["md"]`, then where every output went."""
    with open(paths["md"]) as f:
        print(f.read())
    for name, path in paths.items():
        print(f"  {name}: {path}")
