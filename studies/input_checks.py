"""Margins of the input checks (`tfds_brats.checks`) on real subjects, the phantom and the dummy data.

For every subject: the score of each check as given (must pass), and on versions that must fail:
each checked pair of contrasts swapped, one contrast shifted by 10 voxels, and (phantom only, no
real unstripped scan being at hand) a skull and scalp drawn around the brain. The margin of a
check is how far the worst passing score and the best failing score sit from its threshold. The
table is written as markdown (`--out`) and CSV beside it.

    python -m studies.input_checks --data-dir ../shared/data --phantom-seeds 40 \\
        --out runs/input_checks/margins.md

Example:
>>> from studies.input_checks import measure_subject
>>> from tfds_brats import phantom
>>> rows = measure_subject("p0", "phantom", phantom.make_subject(0).volumes)
>>> sorted({row["variant"] for row in rows})[:3]
['as named', 'flair shifted 10', 't1<->t1ce swapped']
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
from scipy import ndimage

from magan_keras import atomic
from tfds_brats import checks, phantom, subjects
from tfds_brats.brats import make_dummy_data

SHIFT = 10


def with_skull(volumes, brain):
    """A head: the brain, a 3-voxel dark gap (skull), a 3-voxel scalp at the brain's 90th percentile.

    Args:
        volumes: dict contrast -> `[X, Y, Z]`.
        brain: bool `[X, Y, Z]`.
    """
    head = ndimage.binary_dilation(brain, iterations=6)
    skull = ndimage.binary_dilation(brain, iterations=3)
    out = {}
    for name, volume in volumes.items():
        out[name] = volume.copy()
        out[name][head & ~skull] = np.percentile(volume[brain], 90)
    return out


def scores(volumes) -> dict:
    """Every check's score for one set of volumes.

    Args:
        volumes: dict contrast -> canonical `[X, Y, Z]`.

    Returns:
        dict check name -> float: each swap pair's score, the lowest mask Dice, the enclosed gap.
    """
    report = checks.check_volumes(volumes)
    result = {f"{a}/{b}": v for (a, b), v in checks.pair_evidence(volumes).items()}
    result["dice"] = min(f.value for f in report.findings if f.check == "registration")
    result["gap"] = next(f.value for f in report.findings if f.check == "skull")
    result["errors"] = "; ".join(f.check for f in report.errors)
    return result


def measure_subject(name, source, volumes, brain=None) -> list:
    """Scores of one subject as named and in every must-fail variant.

    Args:
        name: str. Subject id.
        source: str. `real`, `phantom` or `dummy`.
        volumes: dict contrast -> canonical `[X, Y, Z]`.
        brain: bool brain mask for the skull variant (phantom), or None (no skull variant).

    Returns:
        list of dict rows.
    """
    variants = {"as named": volumes}
    for a, b in checks.SWAP_THRESHOLDS:
        variants[f"{a}<->{b} swapped"] = dict(volumes, **{a: volumes[b], b: volumes[a]})
    variants[f"flair shifted {SHIFT}"] = dict(volumes, flair=np.roll(volumes["flair"], SHIFT, axis=0))
    if brain is not None:
        variants["skull added"] = with_skull(volumes, brain)
    return [{"subject": name, "source": source, "variant": v, **scores(vols)} for v, vols in variants.items()]


def margins_table(rows) -> list:
    """Markdown lines: per check, threshold, worst passing and best failing score per source, margins.

    Args:
        rows: from `measure_subject`.
    """
    lines = [
        "| check | threshold | fails when | worst as named (real / phantom / dummy) | "
        "must-fail variant | its least-failing score (real / phantom / dummy) | caught by this check | "
        "caught by any check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    specs = [
        (f"{a}/{b}", -t, "score < threshold", f"{a}<->{b} swapped", "low")
        for (a, b), t in checks.SWAP_THRESHOLDS.items()
    ]
    specs += [
        ("dice", checks.MIN_MASK_DICE, "Dice < threshold", f"flair shifted {SHIFT}", "low"),
        ("gap", checks.MAX_ENCLOSED_GAP, "gap > threshold", "skull added", "high"),
    ]
    for key, threshold, rule, variant, fails in specs:
        worst, failing, caught, caught_any = [], [], [], []
        for source in ("real", "phantom", "dummy"):
            named = [r[key] for r in rows if r["source"] == source and r["variant"] == "as named" and key in r]
            bad = [r[key] for r in rows if r["source"] == source and r["variant"] == variant and key in r]
            pick = min if fails == "low" else max
            other = max if fails == "low" else min
            worst.append(f"{pick(named):+.3f}" if named else "-")
            failing.append(f"{other(bad):+.3f}" if bad else "-")
            if bad:
                hit = sum((b < threshold) if fails == "low" else (b > threshold) for b in bad)
                caught.append(f"{hit}/{len(bad)}")
                any_hit = [r for r in rows if r["source"] == source and r["variant"] == variant and r["errors"]]
                caught_any.append(f"{len(any_hit)}/{len(bad)}")
            else:
                caught.append("-")
                caught_any.append("-")
        lines.append(
            f"| {key} | {threshold:+.3f} | {rule} | {' / '.join(worst)} | {variant} | "
            f"{' / '.join(failing)} | {' / '.join(caught)} | {' / '.join(caught_any)} |"
        )
    named = [r for r in rows if r["variant"] == "as named"]
    alarms = [r for r in named if r["errors"]]
    lines.append("")
    lines.append(
        f"False alarms as named: {len(alarms)} of {len(named)} subjects"
        + (": " + ", ".join(f"{r['subject']} ({r['errors']})" for r in alarms) if alarms else ".")
    )
    return lines


def load_real(data_dir):
    """Yields `(subject_id, canonical volumes)` of every complete subject under `data_dir`."""
    for files in subjects.find_subjects(data_dir):
        volumes, _, _ = subjects.load_subject(files)
        yield files.subject_id, volumes


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m studies.input_checks", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder of real BraTS-named subjects (e.g. ../shared/data)")
    parser.add_argument("--phantom-seeds", type=int, default=40, help="phantom subjects (seeds 0..N-1)")
    parser.add_argument("--out", required=True, help="markdown table to write (a CSV is written beside it)")
    parser.add_argument("--from-csv", help="rebuild the table from the CSV of an earlier run instead of measuring")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.from_csv:
        import csv  # pylint: disable=import-outside-toplevel

        with open(args.from_csv, newline="") as handle:
            rows = [
                {
                    k: (v if k in ("subject", "source", "variant", "errors") else float(v))
                    for k, v in r.items()
                    if v != ""
                }
                | {"errors": r["errors"]}
                for r in csv.DictReader(handle)
            ]
        lines = margins_table(rows)
        atomic.write_text(args.out, "\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    rows = []
    if args.data_dir:
        for name, volumes in load_real(args.data_dir):
            rows += measure_subject(name, "real", volumes)
            print(f"{name}: done", file=sys.stderr)
    for seed in range(args.phantom_seeds):
        made = phantom.make_subject(seed)
        rows += measure_subject(f"phantom-{seed}", "phantom", made.volumes, made.brain_mask)
    dummy = pathlib.Path(make_dummy_data.__file__).parent / "dummy_data"
    for files in subjects.find_subjects(dummy):
        volumes, _, _ = subjects.load_subject(files)
        rows += measure_subject(files.subject_id, "dummy", volumes)
    lines = margins_table(rows)
    out = pathlib.Path(args.out)
    atomic.write_text(out, "\n".join(lines) + "\n")
    keys = ["subject", "source", "variant", "t1/t2", "t2/flair", "t1/t1ce", "dice", "gap", "errors"]
    atomic.write_csv(out.with_suffix(".csv"), keys, rows)
    print("\n".join(lines))
    print(f"wrote {out} and {out.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
