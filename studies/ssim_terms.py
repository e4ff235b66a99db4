"""Which of SSIM's three factors a synthesis loses, in the healthy brain and in the tumour.

Slice SSIM is the product of a luminance, a contrast and a structure term (Wang et al. 2004).
A synthesis can lose SSIM by the wrong local level (luminance), by being smoother or noisier
than the truth (contrast), or by a local pattern that does not follow the truth's (structure).
This experiment splits the evaluation command's per-slice SSIM of trained models and of both
baselines into the three terms, averaged over the healthy brain (seg 0) and over the tumour
(seg > 0) of a prepared split's subjects; each target is synthesised from all the other
contrasts, as in the ablation study. Several `--model` files (e.g. one per seed) give the
model's row as the mean and spread over them.

    python -m studies.ssim_terms --dataset brats_phantom/slices_64 \\
        --model runs/ablation/full/seed0/model.keras runs/ablation/full/seed1/model.keras \\
        --output-dir runs/ssim_terms

writes `ssim_terms.csv` (one row per target, method and region), `ssim_terms.md` (a table) and
`ssim_terms.png` (the three terms per method in the healthy brain, one panel per target).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from magan_keras import atomic
from magan_keras.evaluation.baselines import DEFAULT_MAX_EXAMPLES, Baselines
from magan_keras.evaluation.baselines import METHODS as BASELINE_METHODS
from magan_keras.evaluation.evaluate import model_prediction
from magan_keras.evaluation.protocols import ssim_terms
from magan_keras.evaluation.subjects import load_split, subjects_from_split
from magan_keras.inference.generator import ModelError, load_generator
from studies.outputs import add_split_options, markdown_text, print_outputs

TERMS = ("luminance", "contrast", "structure", "ssim")
REGIONS = ("healthy", "tumour")


def region_terms(prediction, truth, brain_mask, seg, indices):
    """Mean SSIM terms of one subject's slices over its healthy brain and its tumour.

    Images are scored as the per-slice protocol scores them (`protocols.slice_metrics`): [-1, 1]
    mapped to [0, 1], zero outside the brain, 2-D windows in each axial slice.

    Args:
        prediction, truth: `[X, Y, Z]` on the model scale.
        brain_mask: bool `[X, Y, Z]`.
        seg: `[X, Y, Z]` labels or None (then the whole brain counts as healthy).
        indices: axial slices to score.

    Returns:
        dict region -> dict term -> float (NaN for a region without voxels).

    Example:
    >>> import numpy as np
    >>> from studies.ssim_terms import region_terms
    >>> mask = np.zeros((16, 16, 2), bool)
    >>> mask[3:13, 3:13] = True
    >>> truth = np.where(mask, np.random.default_rng(0).uniform(-0.5, 0.5, mask.shape), -1.0)
    >>> terms = region_terms(truth, truth, mask, None, [0, 1])
    >>> round(terms["healthy"]["structure"], 6), terms["tumour"]["structure"]
    (1.0, nan)
    """
    indices = np.asarray(indices, int)
    brain = np.asarray(brain_mask, bool)[:, :, indices]
    to_unit = lambda v: np.where(brain, np.clip((np.asarray(v, np.float64)[:, :, indices] + 1) / 2, 0, 1), 0.0)
    terms = ssim_terms(to_unit(prediction), to_unit(truth), axes=(0, 1))
    terms["ssim"] = terms["luminance"] * terms["contrast"] * terms["structure"]
    tumour = np.zeros_like(brain) if seg is None else (np.asarray(seg)[:, :, indices] > 0) & brain
    regions = {"healthy": brain & ~tumour, "tumour": tumour}
    return {
        region: {term: float(values[mask].mean()) if mask.any() else float("nan") for term, values in terms.items()}
        for region, mask in regions.items()
    }


def score_terms(subjects, generators, baselines, modalities):
    """SSIM terms per target, method and region.

    Args:
        subjects: `SubjectData` list of a prepared split (`subjects_from_split`).
        generators: list of generators (`inference.load_generator`), averaged as `magan`.
        baselines: fitted `Baselines`.
        modalities: contrast names in channel order.

    Returns:
        list of dicts with `target`, `method`, `region`, each term's `mean` and `std` (over
        the models for `magan`, 0 for the baselines), `models` and `subjects`.

    Example (`[load_generator("model.keras")]` for a trained model):
    >>> import numpy as np
    >>> from magan_keras.evaluation.baselines import Baselines
    >>> from magan_keras.evaluation.subjects import SubjectData
    >>> from magan_keras.models import MultiBranchGenerator
    >>> from studies.ssim_terms import score_terms
    >>> mask = np.zeros((16, 16, 2), bool)
    >>> mask[3:13, 3:13] = True
    >>> images = np.where(mask[..., None], np.random.default_rng(0).uniform(-0.5, 0.5, (16, 16, 2, 4)), -1.0)
    >>> subject = SubjectData("s1", images.astype(np.float32), mask, None, None, np.arange(2), True)
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1)
    >>> rows = score_terms([subject], [generator], Baselines.fit([(images, mask)]), generator.modalities)
    >>> len(rows), sorted({r["method"] for r in rows})
    (24, ['best_single', 'linear', 'magan'])
    """
    rows = []
    for t, target in enumerate(modalities):
        available = np.ones(len(modalities), np.float32)
        available[t] = 0
        per_method = {}  # method -> [per model: [per subject: region terms]]
        for subject in subjects:
            truth = subject.images[..., t]
            predictions = {
                method: [baselines.predict(method, subject.images, available, target, subject.brain_mask)]
                for method in BASELINE_METHODS
            }
            predictions["magan"] = [model_prediction(g, subject, available, t, batch_size=8) for g in generators]
            for method, volumes in predictions.items():
                scores = per_method.setdefault(method, [[] for _ in volumes])
                for k, volume in enumerate(volumes):
                    scores[k].append(
                        region_terms(volume, truth, subject.brain_mask, subject.seg, subject.slice_indices)
                    )
        for method in ("magan", *BASELINE_METHODS):
            for region in REGIONS:
                row = {
                    "target": target,
                    "method": method,
                    "region": region,
                    "models": len(per_method[method]),
                    "subjects": len(subjects),
                }
                for term in TERMS:
                    # mean over subjects (ignoring subjects without the region), then over models
                    values = [
                        np.nanmean([s[region][term] for s in model])
                        if any(not np.isnan(s[region][term]) for s in model)
                        else np.nan
                        for model in per_method[method]
                    ]
                    row[f"{term}_mean"] = float(np.mean(values))
                    row[f"{term}_std"] = float(np.std(values))
                rows.append(row)
    return rows


def write_outputs(rows, output_dir, description):
    """Writes the CSV, the markdown table and the figure (each atomically); returns their paths.

    Args:
        rows: from `score_terms`.
        output_dir: str. Folder of `ssim_terms.csv`, `.md` and `.png` (created).
        description: str. The data and models, for the table's caption.

    Example:
    >>> from studies.ssim_terms import TERMS, write_outputs
    >>> rows = [{"target": "t1", "method": m, "region": r, "models": 1, "subjects": 1,
    ...          **{f"{t}_{s}": (0.9 if s == "mean" else 0.0) for t in TERMS for s in ("mean", "std")}}
    ...         for m in ("magan", "linear") for r in ("healthy", "tumour")]
    >>> paths = write_outputs(rows, "terms", "a toy")
    >>> open(paths["md"]).read().splitlines()[-1]
    '| t1 | tumour | linear | 0.900 | 0.900 | 0.900 | 0.900 |'
    """
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    paths = {name: os.path.join(output_dir, f"ssim_terms.{name}") for name in ("csv", "md", "png")}
    columns = (
        ["target", "method", "region"] + [f"{t}_{s}" for t in TERMS for s in ("mean", "std")] + ["models", "subjects"]
    )
    atomic.write_csv(paths["csv"], columns, rows)

    lines = [
        f"Slice SSIM's terms, mean over the region's pixels, then over subjects ({description}).",
        "",
        "| target | region | method | luminance | contrast | structure | SSIM |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{row[f'{t}_mean']:.3f}" + (f" ± {row[f'{t}_std']:.3f}" if row["models"] > 1 else "") for t in TERMS]
        lines.append(f"| {row['target']} | {row['region']} | {row['method']} | " + " | ".join(cells) + " |")
    atomic.write_text(paths["md"], markdown_text(lines))

    targets = list(dict.fromkeys(r["target"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lookup = {(r["target"], r["method"]): r for r in rows if r["region"] == "healthy"}
    figure = Figure(figsize=(3.4 * len(targets), 3.2))
    axes = figure.subplots(1, len(targets), sharey=True, squeeze=False)
    width = 0.8 / len(methods)
    for axis, target in zip(axes[0], targets):
        for k, method in enumerate(methods):
            row = lookup[(target, method)]
            positions = np.arange(len(TERMS)) + (k - (len(methods) - 1) / 2) * width
            axis.bar(
                positions, [row[f"{t}_mean"] for t in TERMS], width, yerr=[row[f"{t}_std"] for t in TERMS], label=method
            )
        axis.set_xticks(np.arange(len(TERMS)), ["lum.", "contr.", "struct.", "SSIM"])
        axis.set_title(f"{target}, healthy brain")
        axis.set_ylim(0.5, 1.0)
        axis.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("mean over the healthy brain")
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    atomic.save_figure(figure, paths["png"])
    return paths


def build_parser():
    """The command-line parser of `python -m studies.ssim_terms`.

    Example:
    >>> from studies.ssim_terms import build_parser
    >>> build_parser().parse_args(["--model", "a.keras", "b.keras"]).model
    ['a.keras', 'b.keras']
    """
    parser = argparse.ArgumentParser(
        prog="python -m studies.ssim_terms",
        description="Split slice SSIM into luminance, contrast and structure, in the healthy brain and the tumour.",
    )
    parser.add_argument(
        "--model",
        nargs="+",
        required=True,
        help="trained .keras files (e.g. one per seed), averaged as the 'magan' row",
    )
    add_split_options(parser, baselines="the baselines are")
    parser.add_argument("--output-dir", default="runs/ssim_terms", help="where the outputs go")
    return parser


def main(argv=None):
    """Runs the experiment; returns the exit status (0, or 2 on bad input).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> from studies.ssim_terms import main
    >>> main(["--model", "missing.keras"])
    2
    """
    args = build_parser().parse_args(argv)
    try:
        generators = [load_generator(path) for path in args.model]
        subjects = subjects_from_split(load_split(args.dataset, args.split, args.tfds_data_dir))
        train = load_split(args.dataset, args.baseline_split, args.tfds_data_dir)
    except (ModelError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    modalities = tuple(generators[0].modalities)
    for path, generator in zip(args.model, generators):
        if tuple(generator.modalities) != modalities:
            print(
                f"error: --model {path} has contrasts {generator.modalities}, the first has {modalities}",
                file=sys.stderr,
            )
            return 2
    print(f"fitting the baselines on {args.dataset} split '{args.baseline_split}' ...", flush=True)
    baselines = Baselines.fit(train, modalities, max_examples=DEFAULT_MAX_EXAMPLES)
    print(f"scoring {len(args.model)} model(s) on {len(subjects)} subjects of split '{args.split}' ...", flush=True)
    try:
        rows = score_terms(subjects, generators, baselines, modalities)
    except ValueError as error:  # e.g. a model trained at another image size
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = write_outputs(
        rows,
        args.output_dir,
        f"{args.dataset}, split '{args.split}', {len(subjects)} subjects, {len(args.model)} model(s)",
    )
    print_outputs(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
