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

from magan_keras.evaluation.baselines import Baselines
from magan_keras.evaluation.evaluate import (
    DEFAULT_BASELINE_SLICES,
    load_split,
    subjects_from_split,
)
from studies.outputs import (
    add_split_options,
    print_outputs,
    write_csv_atomically,
    write_lines_atomically,
)
from magan_keras.modalities import BRATS_MODALITIES
from magan_keras.evaluation.protocols import slice_metrics
from magan_keras.training.plots import save_figure

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

    ```python
    blurred = blur_in_brain(truth, mask, 1.0)
    ```
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

    ```python
    rows = blur_sensitivity(subjects, Baselines.fit(train_split), sigmas=(0, 1))
    ```
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
                    metrics = slice_metrics(blur_in_brain(volume, subject.brain_mask, sigma), truth,
                                            subject.brain_mask, subject.slice_indices)
                    scores.setdefault((source, sigma), []).append(metrics)
        for (source, sigma), values in scores.items():
            rows.append({
                "target": target, "source": source, "sigma": float(sigma),
                "slice_ssim": float(np.mean([v["slice_ssim"] for v in values])),
                "slice_psnr": float(np.mean([v["slice_psnr"] for v in values])),
                "subjects": len(values),
            })
    return rows


def write_outputs(rows, output_dir, description):
    """Writes the CSV, the markdown table and the figure; returns their paths."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    os.makedirs(output_dir, exist_ok=True)
    paths = {name: os.path.join(output_dir, f"blur_sensitivity.{name}") for name in ("csv", "md", "png")}
    columns = ["target", "source", "sigma", "slice_ssim", "slice_psnr", "subjects"]
    write_csv_atomically(paths["csv"], columns, rows)

    targets = list(dict.fromkeys(r["target"] for r in rows))
    sigmas = sorted({r["sigma"] for r in rows})
    lookup = {(r["target"], r["source"], r["sigma"]): r for r in rows}
    lines = [f"Slice SSIM inside the brain after an in-plane Gaussian blur ({description}).", "",
             "| target | source | " + " | ".join(f"sigma {s:g}" for s in sigmas) + " |",
             "|---|---|" + "---|" * len(sigmas)]
    for target in targets:
        for source in SOURCES:
            cells = [f"{lookup[(target, source, s)]['slice_ssim']:.3f}" for s in sigmas]
            lines.append(f"| {target} | {source} | " + " | ".join(cells) + " |")
    write_lines_atomically(paths["md"], lines)

    figure, axes = plt.subplots(1, len(targets), figsize=(3.2 * len(targets), 3), sharey=True, squeeze=False)
    for axis, target in zip(axes[0], targets):
        for source, style in zip(SOURCES, ("-o", "--s")):
            axis.plot(sigmas, [lookup[(target, source, s)]["slice_ssim"] for s in sigmas], style, label=source)
        axis.set_title(target)
        axis.set_xlabel("blur sigma (pixels)")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("slice SSIM inside the brain")
    axes[0][0].legend()
    figure.tight_layout()
    save_figure(figure, paths["png"])
    plt.close(figure)
    return paths


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m studies.blur_sensitivity",
        description="Slice SSIM lost to smoothing alone: the truth and the linear baseline, blurred.")
    add_split_options(parser, baselines="the linear baseline is")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(DEFAULT_SIGMAS),
                        help="blur widths in pixels (0 0.5 1 1.5 2)")
    parser.add_argument("--output-dir", default="runs/blur_sensitivity", help="where the outputs go")
    return parser


def main(argv=None):
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
    baselines = Baselines.fit(train, BRATS_MODALITIES, max_examples=DEFAULT_BASELINE_SLICES)
    print(f"scoring {len(subjects)} subjects of split '{args.split}' at sigmas {args.sigmas} ...", flush=True)
    rows = blur_sensitivity(subjects, baselines, args.sigmas)
    paths = write_outputs(rows, args.output_dir, f"{args.dataset}, split '{args.split}', {len(subjects)} subjects")
    print_outputs(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
