"""How good is `synthesize --uncertainty`? Rank correlation with the error, and a threshold for failed cases.

For every subject of a prepared split (and, with `--data-dir`, every real subject of a BraTS
folder) and every target contrast, synthesised from the other three: the synthesis from all
three, the uncertainty (spread of the full and leave-one-out syntheses,
`magan_keras.inference.uncertainty`) and the absolute error against the truth, all on the unit
scale. Reports, per target, the Spearman rank correlation between uncertainty and absolute error
over the voxels inside the brain and inside the tumour (median over subjects), the rank
correlation across cases between the mean uncertainty and the mean error in the brain, and the
threshold on a case's mean brain uncertainty that would have flagged the worst cases (the
`--worst` fraction by brain error): the lowest mean uncertainty among them, and how many other
cases it flags as well. Writes `summary.json`, `cases.csv`, `results.md` and one figure per
source (`figure_<source>.png`: synthesis | error | uncertainty for each target, middle slice).

    python -m studies.uncertainty --model runs/magan/model.keras --dataset brats_phantom/slices_64 \\
        --data-dir ../shared/data --out-dir runs/uncertainty

Example:
>>> import numpy as np
>>> from studies.uncertainty import rank_correlation
>>> round(rank_correlation(np.arange(10.0), np.arange(10.0) ** 2), 3)
1.0
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
from scipy import stats

from magan_keras import atomic
from magan_keras.modalities import BRATS_MODALITIES

MAX_VOXELS = 200_000


def rank_correlation(a, b) -> float:
    """Spearman's rho of two equally long arrays (subsampled to `MAX_VOXELS`); NaN if constant.

    Args:
        a, b: 1-D arrays.
    """
    a, b = np.ravel(a), np.ravel(b)
    if a.size > MAX_VOXELS:
        step = int(np.ceil(a.size / MAX_VOXELS))
        a, b = a[::step], b[::step]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def score_case(source, subject_id, target, synthesis, truth, spread, brain, tumour):
    """One case's row: rank correlations and means in the brain and tumour.

    Args:
        source: str. `phantom` or `real`.
        subject_id: str.
        target: str.
        synthesis, truth, spread: float `[X, Y, Z]` on the unit scale.
        brain: bool `[X, Y, Z]`.
        tumour: bool `[X, Y, Z]` or None.
    """
    error = np.abs(synthesis - truth)
    row = {
        "source": source,
        "subject": subject_id,
        "target": target,
        "mae_brain": float(error[brain].mean()),
        "uncertainty_brain": float(spread[brain].mean()),
        "rho_brain": rank_correlation(spread[brain], error[brain]),
    }
    if tumour is not None and tumour.any():
        row.update(
            mae_tumour=float(error[tumour].mean()),
            uncertainty_tumour=float(spread[tumour].mean()),
            rho_tumour=rank_correlation(spread[tumour], error[tumour]),
        )
    return row


def centred_spread(units, brain):
    """The spread after shifting each subset's synthesis to the full synthesis's brain median.

    A variant estimator: leaving out an input often moves the whole volume's intensity level,
    which the plain spread counts everywhere; this keeps only the local disagreement.

    Args:
        units: `[N, X, Y, Z]` syntheses, the first from every input.
        brain: bool `[X, Y, Z]`.
    """
    medians = np.array([np.median(u[brain]) for u in units])
    shifted = units - (medians - medians[0])[:, None, None, None]
    spread = shifted.std(axis=0)
    spread[~brain] = 0.0
    return spread


def split_cases(model, dataset, split, tfds_data_dir=None, max_subjects=None, batch_size=16, centre=False):
    """Yields `(subject_id, target, synthesis, truth, spread, brain, tumour)` for a prepared split.

    `centre=True` gives `centred_spread` instead of the plain spread.
    """
    from magan_keras.evaluation.subjects import load_split, subjects_from_split
    from magan_keras.inference import uncertainty

    for subject in subjects_from_split(load_split(dataset, split, tfds_data_dir), max_subjects=max_subjects):
        slices = np.moveaxis(subject.images, 2, 0)  # [Z, S, S, M]
        brain = subject.brain_mask
        tumour = subject.seg > 0 if subject.seg is not None else None
        for k, target in enumerate(BRATS_MODALITIES):
            available = np.ones(len(BRATS_MODALITIES), np.float32)
            available[k] = 0.0
            subsets = uncertainty.leave_one_out_subsets(available)
            predictions = uncertainty.predict_subsets(model, slices, subsets, target, batch_size=batch_size)
            units = np.clip((np.moveaxis(predictions, 1, 3) + 1.0) / 2.0, 0.0, 1.0)  # [N, X, Y, Z]
            units[:, ~brain] = 0.0
            truth = np.where(brain, (subject.images[..., k] + 1.0) / 2.0, 0.0)
            spread = centred_spread(units, brain) if centre else units.std(axis=0)
            yield subject.subject_id, target, units[0], truth, spread, brain, tumour


def folder_cases(model, data_dir, canvas_size=None, batch_size=16, input_checks=True):
    """Yields the same tuples for each real subject of a BraTS folder, via `synthesize_subject`.

    `input_checks=False` skips `synthesize_subject`'s input checks (for folders already checked).
    """
    from magan_keras.inference import synthesis
    from tfds_brats import subjects

    for files in subjects.find_subjects(data_dir):
        paths = files.paths(required=())
        seg = paths.pop("seg", None)
        for target in BRATS_MODALITIES:
            result = synthesis.synthesize_subject(
                model,
                paths,
                targets=[target],
                subject_id=files.subject_id,
                canvas_size=canvas_size,
                batch_size=batch_size,
                uncertainty=True,
                seg=seg,
                input_checks=input_checks,
            )
            tumour = None
            if seg is not None:
                tumour = subjects.load_subject({"ref": paths[target], "seg": seg}, files.subject_id, required=())[1] > 0
            yield (
                files.subject_id,
                target,
                result.outputs[target],
                result.truths[target],
                result.uncertainty[target],
                result.brain_mask,
                tumour,
            )


def flag_threshold(rows, worst=0.1) -> dict:
    """The mean-brain-uncertainty threshold that flags the worst `worst` fraction of cases by brain MAE.

    Args:
        rows: from `score_case`.
        worst: float in (0, 1).

    Returns:
        dict with `threshold`, `worst_cases`, `flagged_others` (cases above it not among the worst)
        and `cases`.
    """
    errors = np.array([r["mae_brain"] for r in rows])
    spreads = np.array([r["uncertainty_brain"] for r in rows])
    count = max(1, int(round(worst * len(rows))))
    worst_index = np.argsort(errors)[::-1][:count]
    threshold = float(spreads[worst_index].min())
    flagged = np.flatnonzero(spreads >= threshold)
    return {
        "threshold": threshold,
        "worst_cases": [f"{rows[i]['subject']}/{rows[i]['target']}" for i in worst_index],
        "flagged_others": int(len(set(flagged) - set(worst_index))),
        "cases": len(rows),
    }


def summarise(rows) -> dict:
    """Per source and target: medians of the voxel rank correlations, the case-level correlation."""
    summary = {}
    for source in sorted({r["source"] for r in rows}):
        mine = [r for r in rows if r["source"] == source]
        per_target = {}
        for target in BRATS_MODALITIES:
            cases = [r for r in mine if r["target"] == target]
            if not cases:
                continue
            tumour = [r["rho_tumour"] for r in cases if "rho_tumour" in r and np.isfinite(r["rho_tumour"])]
            per_target[target] = {
                "cases": len(cases),
                "rho_brain_median": float(np.nanmedian([r["rho_brain"] for r in cases])),
                "rho_tumour_median": float(np.median(tumour)) if tumour else None,
                "mae_brain_mean": float(np.mean([r["mae_brain"] for r in cases])),
                "uncertainty_brain_mean": float(np.mean([r["uncertainty_brain"] for r in cases])),
            }
        case_rho = rank_correlation([r["uncertainty_brain"] for r in mine], [r["mae_brain"] for r in mine])
        summary[source] = {"targets": per_target, "case_rho_brain": case_rho, "flag": flag_threshold(mine)}
    return summary


def figure(cases, path, title):
    """Synthesis | error | uncertainty, one row per target, middle brain slice; PNG via `atomic`."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 2.4 * len(cases)))
    axes = fig.subplots(len(cases), 3, squeeze=False)
    for row, (subject_id, target, synthesis, truth, spread, brain, _) in enumerate(cases):
        k = int(np.argmax(brain.sum(axis=(0, 1))))
        error = np.abs(synthesis - truth)
        panels = (
            (synthesis, "gray", 1.0, "synthesis"),
            (error, "magma", 0.3, "|error|"),
            (spread, "magma", 0.15, "uncertainty"),
        )
        for col, (image, cmap, vmax, name) in enumerate(panels):
            ax = axes[row, col]
            shown = ax.imshow(np.rot90(image[:, :, k]), cmap=cmap, vmin=0.0, vmax=vmax)
            ax.set_title(f"{subject_id} {target}: {name}", fontsize=7)
            ax.axis("off")
            fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return atomic.save_figure(fig, path)


def markdown(summary, title) -> list:
    lines = [f"### {title}", ""]
    for source, block in summary.items():
        lines += [
            f"{source}: rank correlation across cases (mean uncertainty vs brain MAE) "
            f"{block['case_rho_brain']:+.2f}; threshold flagging the worst {len(block['flag']['worst_cases'])} of "
            f"{block['flag']['cases']} cases: mean brain uncertainty >= {block['flag']['threshold']:.4f} "
            f"(flags {block['flag']['flagged_others']} other cases too)",
            "",
            "| target | cases | Spearman rho, brain (median) | rho, tumour (median) | brain MAE | mean uncertainty |",
            "|---|---|---|---|---|---|",
        ]
        for target, t in block["targets"].items():
            tumour = "-" if t["rho_tumour_median"] is None else f"{t['rho_tumour_median']:+.2f}"
            lines.append(
                f"| {target} | {t['cases']} | {t['rho_brain_median']:+.2f} | {tumour} | "
                f"{t['mae_brain_mean']:.4f} | {t['uncertainty_brain_mean']:.4f} |"
            )
        lines.append("")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m studies.uncertainty", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a .keras MAGAN or generator")
    parser.add_argument("--dataset", default="brats_phantom/slices_64", help="prepared dataset name/config or folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--tfds-data-dir", help="TFDS data folder (default: TFDS's)")
    parser.add_argument("--max-subjects", type=int, default=None)
    parser.add_argument("--data-dir", help="also a folder of real BraTS-named subjects")
    parser.add_argument("--canvas-size", type=int, default=None, help="canvas for --data-dir (default: the model's)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument(
        "--centre", action="store_true", help="phantom split only: score `centred_spread` instead of the plain spread"
    )
    args = parser.parse_args(argv)
    from magan_keras.inference.generator import load_generator

    model = load_generator(args.model)
    out_dir = pathlib.Path(args.out_dir)
    rows, written = [], []
    sources = [
        (
            "phantom",
            split_cases(model, args.dataset, args.split, args.tfds_data_dir, args.max_subjects, centre=args.centre),
        )
    ]
    if args.data_dir:
        sources.append(("real", folder_cases(model, args.data_dir, args.canvas_size)))
    for source, cases in sources:
        shown = []
        for case in cases:
            rows.append(score_case(source, *case))
            if len(shown) < len(BRATS_MODALITIES) and (not shown or shown[0][0] == case[0]):
                shown.append(case)
            print(f"{source} {case[0]} {case[1]}: rho brain {rows[-1]['rho_brain']:+.2f}", file=sys.stderr)
        written.append(figure(shown, out_dir / f"figure_{source}.png", f"{source}: synthesis | |error| | uncertainty"))
    summary = summarise(rows)
    columns = ["source", "subject", "target", "mae_brain", "uncertainty_brain", "rho_brain"]
    columns += ["mae_tumour", "uncertainty_tumour", "rho_tumour"]
    written.append(atomic.write_csv(out_dir / "cases.csv", columns, rows))
    written.append(atomic.write_json(out_dir / "summary.json", summary))
    lines = markdown(summary, f"model {args.model}")
    written.append(atomic.write_text(out_dir / "results.md", "\n".join(lines) + "\n"))
    print("\n".join(lines))
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
