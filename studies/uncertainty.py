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

`--strides 1 3` scores the map made with each stride (`magan_keras.inference.uncertainty.slice_spread`:
the leave-one-out subsets on every N-th slice, interpolated between) and writes `agreement.csv`:
per case, how close each later stride's map is to the first stride's (Pearson r and mean absolute
difference over the brain voxels; give 1 first for the exact map).

    python -m studies.uncertainty --model runs/magan/model.keras --dataset brats_phantom/slices_64 \\
        --data-dir ../shared/data --out-dir runs/uncertainty --strides 1 3

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
from magan_keras.inference.uncertainty import DEFAULT_STRIDE
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


def split_cases(
    model, dataset, split, tfds_data_dir=None, max_subjects=None, batch_size=16, centre=False, stride=DEFAULT_STRIDE
):
    """Yields `(subject_id, target, synthesis, truth, spread, brain, tumour)` for a prepared split.

    `centre=True` gives `centred_spread` instead of the plain spread (every slice, no stride);
    otherwise the spread is `uncertainty.slice_spread`'s with `stride`.
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
            truth = np.where(brain, (subject.images[..., k] + 1.0) / 2.0, 0.0)
            if centre:
                predictions = uncertainty.predict_subsets(model, slices, subsets, target, batch_size=batch_size)
                units = np.clip((np.moveaxis(predictions, 1, 3) + 1.0) / 2.0, 0.0, 1.0)  # [N, X, Y, Z]
                units[:, ~brain] = 0.0
                yield subject.subject_id, target, units[0], truth, centred_spread(units, brain), brain, tumour
                continue
            full, spread = uncertainty.slice_spread(
                model, slices, subsets, target, stride=stride, batch_size=batch_size
            )
            synthesis = np.where(brain, np.clip((np.moveaxis(full, 0, 2) + 1.0) / 2.0, 0.0, 1.0), 0.0)
            spread = np.where(brain, np.moveaxis(spread, 0, 2), 0.0)
            yield subject.subject_id, target, synthesis, truth, spread, brain, tumour


def folder_cases(model, data_dir, canvas_size=None, batch_size=16, input_checks=True, stride=DEFAULT_STRIDE):
    """Yields the same tuples for each real subject of a BraTS folder, via `synthesize_subject`.

    `input_checks=False` skips `synthesize_subject`'s input checks (for folders already checked);
    `stride` is its `uncertainty_stride`.
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
                uncertainty_stride=stride,
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


def brain_values(spread, brain) -> np.ndarray:
    """The map's brain voxels, subsampled to about `MAX_VOXELS` (the same voxels for the same mask)."""
    values = np.asarray(spread, np.float32)[np.asarray(brain, bool)]
    return values[:: max(1, int(np.ceil(values.size / MAX_VOXELS)))]


def agreement(exact, approximate) -> dict:
    """How close one uncertainty map is to another over the same voxels (`brain_values` of each).

    Returns:
        dict: `pearson_r`, `mean_abs_difference`, and `relative_difference` (that over the
        exact map's mean).

    Example:
    >>> import numpy as np
    >>> from studies.uncertainty import agreement
    >>> agreement(np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.2, 0.4]))["mean_abs_difference"]
    0.0333
    """
    exact, approximate = np.asarray(exact, np.float64), np.asarray(approximate, np.float64)
    difference = float(np.abs(exact - approximate).mean())
    constant = np.ptp(exact) == 0 or np.ptp(approximate) == 0
    return {
        "pearson_r": float("nan") if constant else round(float(np.corrcoef(exact, approximate)[0, 1]), 4),
        "mean_abs_difference": round(difference, 4),
        "relative_difference": round(difference / max(float(exact.mean()), 1e-12), 4),
    }


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


def stride_figure(maps, path, title):
    """Coronal and sagittal cuts of one case's uncertainty at each stride and their difference to the first; PNG.

    Args:
        maps: dict stride -> `(spread, brain)` of one case, `[X, Y, Z]` each, the reference stride first.
        path: PNG path (written through `atomic`).
        title: str.
    """
    from matplotlib.figure import Figure

    strides = list(maps)
    reference, brain = maps[strides[0]]
    x, y = (int(np.argmax(brain.sum(axis=axes))) for axes in ((1, 2), (0, 2)))
    cuts = {"coronal": lambda v: v[:, y, :], "sagittal": lambda v: v[x, :, :]}
    columns = [(f"stride {n}", maps[n][0], "magma", 0.15) for n in strides]
    columns += [
        (f"|stride {n} - stride {strides[0]}|", np.abs(maps[n][0] - reference), "magma", 0.05) for n in strides[1:]
    ]
    fig = Figure(figsize=(2.6 * len(columns), 5.0))
    axes = fig.subplots(2, len(columns), squeeze=False)
    for row, (plane, cut) in enumerate(cuts.items()):
        for col, (name, volume, cmap, vmax) in enumerate(columns):
            shown = axes[row, col].imshow(np.rot90(cut(volume)), cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto")
            axes[row, col].set_title(f"{plane}: {name}", fontsize=7)
            axes[row, col].axis("off")
            fig.colorbar(shown, ax=axes[row, col], fraction=0.046)
    fig.suptitle(f"uncertainty of {title} (slice axis vertical)", fontsize=8)
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
        "--strides",
        type=int,
        nargs="+",
        default=[DEFAULT_STRIDE],
        help=f"uncertainty strides to score ({DEFAULT_STRIDE}); with several, each later one is compared "
        "with the first",
    )
    parser.add_argument(
        "--centre", action="store_true", help="phantom split only: score `centred_spread` instead of the plain spread"
    )
    args = parser.parse_args(argv)
    if args.centre and len(args.strides) > 1:
        parser.error("--centre scores the exact spread on every slice; give it without --strides")
    from magan_keras.inference.generator import load_generator

    model = load_generator(args.model)
    out_dir = pathlib.Path(args.out_dir)
    rows, written, agreements, reference, first = [], [], [], {}, {}

    def phantom(stride):
        return split_cases(
            model, args.dataset, args.split, args.tfds_data_dir, args.max_subjects, centre=args.centre, stride=stride
        )

    sources = [("phantom", phantom)]
    if args.data_dir:
        sources.append(("real", lambda stride: folder_cases(model, args.data_dir, args.canvas_size, stride=stride)))
    for source, make_cases in sources:
        for stride in args.strides:
            label = source if len(args.strides) == 1 else f"{source}, stride {stride}"
            shown = []
            for case in make_cases(stride):
                rows.append({**score_case(label, *case), "stride": stride})
                key, values = (source, case[0], case[1]), brain_values(case[4], case[5])
                if source not in first or first[source][0] == key:
                    first.setdefault(source, [key, {}])[1][stride] = (case[4], case[5])
                if stride == args.strides[0]:
                    reference[key] = values
                else:
                    agreements.append(
                        {"source": source, "subject": case[0], "target": case[1], "stride": stride}
                        | agreement(reference[key], values)
                    )
                if len(shown) < len(BRATS_MODALITIES) and (not shown or shown[0][0] == case[0]):
                    shown.append(case)
                print(f"{label} {case[0]} {case[1]}: rho brain {rows[-1]['rho_brain']:+.2f}", file=sys.stderr)
            name = source if len(args.strides) == 1 else f"{source}_stride{stride}"
            written.append(figure(shown, out_dir / f"figure_{name}.png", f"{label}: synthesis | |error| | uncertainty"))
    if len(args.strides) > 1:
        for source, (key, maps) in first.items():
            written.append(stride_figure(maps, out_dir / f"figure_strides_{source}.png", f"{key[1]} / {key[2]}"))
    summary = summarise(rows)
    columns = ["source", "stride", "subject", "target", "mae_brain", "uncertainty_brain", "rho_brain"]
    columns += ["mae_tumour", "uncertainty_tumour", "rho_tumour"]
    written.append(atomic.write_csv(out_dir / "cases.csv", columns, rows))
    lines = markdown(summary, f"model {args.model}")
    if agreements:
        summary["agreement"] = summarise_agreement(agreements, args.strides[0])
        columns = ["source", "subject", "target", "stride", "pearson_r", "mean_abs_difference", "relative_difference"]
        written.append(atomic.write_csv(out_dir / "agreement.csv", columns, agreements))
        lines += agreement_markdown(summary["agreement"])
    written.append(atomic.write_json(out_dir / "summary.json", summary))
    written.append(atomic.write_text(out_dir / "results.md", "\n".join(lines) + "\n"))
    print("\n".join(lines))
    for path in written:
        print(f"wrote {path}")
    return 0


def summarise_agreement(agreements, reference_stride) -> dict:
    """Per source and stride: the median Pearson r and mean relative difference to the reference stride's map."""
    summary = {}
    for source, stride in sorted({(a["source"], a["stride"]) for a in agreements}):
        mine = [a for a in agreements if a["source"] == source and a["stride"] == stride]
        summary[f"{source}, stride {stride} vs {reference_stride}"] = {
            "cases": len(mine),
            "pearson_r_median": float(np.nanmedian([a["pearson_r"] for a in mine])),
            "pearson_r_min": float(np.nanmin([a["pearson_r"] for a in mine])),
            "relative_difference_mean": float(np.mean([a["relative_difference"] for a in mine])),
        }
    return summary


def agreement_markdown(summary) -> list:
    lines = [
        "| maps compared | cases | Pearson r, median | r, lowest | mean abs. difference / mean map |",
        "|---|---|---|---|---|",
    ]
    for name, a in summary.items():
        lines.append(
            f"| {name} | {a['cases']} | {a['pearson_r_median']:.3f} | {a['pearson_r_min']:.3f} | "
            f"{a['relative_difference_mean']:.3f} |"
        )
    return lines + [""]


if __name__ == "__main__":
    sys.exit(main())
