"""How much in-brain slice SSIM a synthesis loses to smoothing alone.

The ablation study's model beats the baselines on PSNR and MAE but not always on SSIM, and
its samples look smoothed. This experiment measures what smoothing by itself costs: it blurs
the ground truth, and the voxel-wise linear baseline, in plane with Gaussians of growing
width (inside the brain only, so the background does not bleed in) and scores each with the
evaluation command's per-slice protocol (`magan_keras.evaluation.protocols.slice_metrics`). No model is
trained. If a one-pixel blur of the *true* image already scores below the baselines, an SSIM
gap of a smooth generator is texture, not anatomy.

    python -m studies.blur_sensitivity --dataset brats_phantom/slices_64 \\
        --output-dir runs/blur_sensitivity

writes `blur_sensitivity.csv` (one row per target, source and sigma), `blur_sensitivity.md`
(a table) and `blur_sensitivity.png` (SSIM against sigma per target).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from magan_keras import atomic
from magan_keras.evaluation.baselines import DEFAULT_MAX_EXAMPLES, Baselines
from magan_keras.evaluation.protocols import slice_metrics
from magan_keras.evaluation.subjects import load_split, subjects_from_split
from magan_keras.modalities import BRATS_MODALITIES
from studies.outputs import add_split_options, markdown_text, print_outputs

DEFAULT_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)
SOURCES = ("truth", "linear")


def blur_in_brain(volume, brain_mask, sigma):
    """Gaussian blur of each axial slice, inside the brain only (normalised convolution).

    Args:
        volume: `[X, Y, Z]` on the model scale [-1, 1].
        brain_mask: bool `[X, Y, Z]`.
        sigma: float >= 0, in pixels; 0 returns `volume` unchanged.

    Returns:
        float64 `[X, Y, Z]`: inside the brain the mask-weighted local mean, outside -1.

    Example:
    >>> import numpy as np
    >>> from studies.blur_sensitivity import blur_in_brain
    >>> mask = np.zeros((8, 8, 1), bool)
    >>> mask[2:6, 2:6] = True
    >>> truth = np.where(mask, np.indices(mask.shape)[0] / 8.0, -1.0)
    >>> blurred = blur_in_brain(truth, mask, 1.0)
    >>> bool(np.all(blurred[~mask] == -1)), bool(np.ptp(blurred[mask]) < np.ptp(truth[mask]))
    (True, True)
    """
    if not sigma >= 0:
        raise ValueError(f"blur_in_brain: sigma must be >= 0, got {sigma}")
    volume = np.asarray(volume, np.float64)
    if sigma == 0:
        return volume
    from scipy import ndimage  # pylint: disable=import-outside-toplevel

    mask = np.asarray(brain_mask, np.float64)
    width = (sigma, sigma, 0)[: volume.ndim]  # in plane only: each axial slice on its own
    weight = ndimage.gaussian_filter(mask, width, mode="mirror", truncate=3.0)
    mean = ndimage.gaussian_filter(volume * mask, width, mode="mirror", truncate=3.0) / np.maximum(weight, 1e-12)
    return np.where(mask > 0, mean, -1.0)


def blur_sensitivity(subjects, baselines, sigmas=DEFAULT_SIGMAS, modalities=BRATS_MODALITIES):
    """Slice SSIM and PSNR of the blurred truth and blurred linear baseline, per target.

    Each target is synthesised from all the other contrasts, as in the ablation study.

    Args:
        subjects: `SubjectData` list (e.g. `subjects_from_split`).
        baselines: fitted `Baselines` (for the linear source).
        sigmas: blur widths in pixels.
        modalities: contrast names in channel order.

    Returns:
        list of dicts with `target`, `source`, `sigma`, `slice_ssim`, `slice_psnr` (means over
        subjects) and `subjects`.

    Example:
    >>> import numpy as np
    >>> from magan_keras.evaluation.baselines import Baselines
    >>> from magan_keras.evaluation.subjects import SubjectData
    >>> from studies.blur_sensitivity import blur_sensitivity
    >>> mask = np.zeros((16, 16, 2), bool)
    >>> mask[3:13, 3:13] = True
    >>> images = np.where(mask[..., None], np.random.default_rng(0).uniform(-0.5, 0.5, (16, 16, 2, 4)), -1.0)
    >>> subject = SubjectData("s1", images, mask, None, None, np.arange(2), True)
    >>> rows = blur_sensitivity([subject], Baselines.fit([(images, mask)]), sigmas=(0, 1))
    >>> len(rows), rows[0]["source"], rows[0]["sigma"], rows[0]["slice_ssim"]
    (16, 'truth', 0.0, 1.0)
    """
    rows = []
    for t, target in enumerate(modalities):
        available = np.ones(len(modalities), np.float32)
        available[t] = 0
        scores = {}
        for subject in subjects:
            truth = subject.images[..., t]
            sources = {
                "truth": truth,
                "linear": baselines.predict("linear", subject.images, available, target, subject.brain_mask),
            }
            for source, volume in sources.items():
                for sigma in sigmas:
                    metrics = slice_metrics(
                        blur_in_brain(volume, subject.brain_mask, sigma),
                        truth,
                        subject.brain_mask,
                        subject.slice_indices,
                    )
                    scores.setdefault((source, sigma), []).append(metrics)
        for (source, sigma), values in scores.items():
            rows.append(
                {
                    "target": target,
                    "source": source,
                    "sigma": float(sigma),
                    "slice_ssim": float(np.mean([v["slice_ssim"] for v in values])),
                    "slice_psnr": float(np.mean([v["slice_psnr"] for v in values])),
                    "subjects": len(values),
                }
            )
    return rows


def write_outputs(rows, output_dir, description):
    """Writes the CSV, the markdown table and the figure (each atomically); returns their paths.

    Args:
        rows: from `blur_sensitivity`.
        output_dir: str. Folder of `blur_sensitivity.csv`, `.md` and `.png` (created).
        description: str. The data, for the table's caption.

    Example:
    >>> from studies.blur_sensitivity import write_outputs
    >>> rows = [{"target": "t1", "source": s, "sigma": g, "slice_ssim": 1.0 - g / 4, "slice_psnr": 30.0,
    ...          "subjects": 1} for s in ("truth", "linear") for g in (0.0, 1.0)]
    >>> paths = write_outputs(rows, "blur", "a toy")
    >>> open(paths["md"]).read().splitlines()[-1]
    '| t1 | linear | 1.000 | 0.750 |'
    """
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    paths = {name: os.path.join(output_dir, f"blur_sensitivity.{name}") for name in ("csv", "md", "png")}
    columns = ["target", "source", "sigma", "slice_ssim", "slice_psnr", "subjects"]
    atomic.write_csv(paths["csv"], columns, rows)

    targets = list(dict.fromkeys(r["target"] for r in rows))
    sigmas = sorted({r["sigma"] for r in rows})
    lookup = {(r["target"], r["source"], r["sigma"]): r for r in rows}
    lines = [
        f"Slice SSIM inside the brain after an in-plane Gaussian blur ({description}).",
        "",
        "| target | source | " + " | ".join(f"sigma {s:g}" for s in sigmas) + " |",
        "|---|---|" + "---|" * len(sigmas),
    ]
    for target in targets:
        for source in SOURCES:
            cells = [f"{lookup[(target, source, s)]['slice_ssim']:.3f}" for s in sigmas]
            lines.append(f"| {target} | {source} | " + " | ".join(cells) + " |")
    atomic.write_text(paths["md"], markdown_text(lines))

    figure = Figure(figsize=(3.2 * len(targets), 3))
    axes = figure.subplots(1, len(targets), sharey=True, squeeze=False)
    for axis, target in zip(axes[0], targets):
        for source, style in zip(SOURCES, ("-o", "--s")):
            axis.plot(sigmas, [lookup[(target, source, s)]["slice_ssim"] for s in sigmas], style, label=source)
        axis.set_title(target)
        axis.set_xlabel("blur sigma (pixels)")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("slice SSIM inside the brain")
    axes[0][0].legend()
    figure.tight_layout()
    atomic.save_figure(figure, paths["png"])
    return paths


def build_parser():
    """The command-line parser of `python -m studies.blur_sensitivity`.

    Example:
    >>> from studies.blur_sensitivity import build_parser
    >>> build_parser().parse_args([]).sigmas
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    parser = argparse.ArgumentParser(
        prog="python -m studies.blur_sensitivity",
        description="Slice SSIM lost to smoothing alone: the truth and the linear baseline, blurred.",
    )
    add_split_options(parser, baselines="the linear baseline is")
    parser.add_argument(
        "--sigmas", type=float, nargs="+", default=list(DEFAULT_SIGMAS), help="blur widths in pixels (0 0.5 1 1.5 2)"
    )
    parser.add_argument("--output-dir", default="runs/blur_sensitivity", help="where the outputs go")
    return parser


def main(argv=None):
    """Runs the experiment; returns the exit status (0, or 2 on bad input).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example:
    >>> from studies.blur_sensitivity import main
    >>> main(["--sigmas", "-1"])
    2
    """
    args = build_parser().parse_args(argv)
    bad = [s for s in args.sigmas if not s >= 0]
    if bad:
        print(f"error: --sigmas must be >= 0, got {bad}", file=sys.stderr)
        return 2
    try:
        subjects = subjects_from_split(load_split(args.dataset, args.split, args.tfds_data_dir))
        train = load_split(args.dataset, args.baseline_split, args.tfds_data_dir)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"fitting the linear baseline on {args.dataset} split '{args.baseline_split}' ...", flush=True)
    baselines = Baselines.fit(train, BRATS_MODALITIES, max_examples=DEFAULT_MAX_EXAMPLES)
    print(f"scoring {len(subjects)} subjects of split '{args.split}' at sigmas {args.sigmas} ...", flush=True)
    rows = blur_sensitivity(subjects, baselines, args.sigmas)
    paths = write_outputs(rows, args.output_dir, f"{args.dataset}, split '{args.split}', {len(subjects)} subjects")
    print_outputs(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
