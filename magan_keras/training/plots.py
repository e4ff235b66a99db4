"""PNG figures of a training run: sample grids and loss / metric curves (matplotlib, Agg)."""

import csv

import numpy as np
from matplotlib.figure import Figure

from magan_keras import atomic


def sample_grid(inputs, y, synthesis, modalities, path, title=""):
    """One row per example: the contrasts given, the ground truth, the synthesis, |error|.

    Args:
        inputs: dict of numpy arrays `images` `[B, H, W, M]`, `available`, `target`.
        y: `[B, H, W, 1]` ground truth in [-1, 1].
        synthesis: `[B, H, W, 1]` model output in [-1, 1].
        modalities: sequence of contrast names.
        path: PNG file to write.
        title: figure title.

    Example:
    >>> import numpy as np
    >>> inputs = {"images": np.zeros((2, 16, 16, 4)), "available": np.array([[1, 1, 1, 0]] * 2),
    ...           "target": np.array([[0, 0, 0, 1]] * 2)}
    >>> y = synthesis = np.zeros((2, 16, 16, 1))
    >>> sample_grid(inputs, y, synthesis, ("t1", "t1ce", "t2", "flair"), "grid.png")
    >>> import os; os.path.getsize("grid.png") > 0
    True
    """
    images, available, target = (np.asarray(inputs[k]) for k in ("images", "available", "target"))
    y, synthesis = np.asarray(y), np.asarray(synthesis)
    rows, columns = images.shape[0], len(modalities) + 3
    figure = Figure(figsize=(1.6 * columns, 1.6 * rows + 0.4))
    axes = figure.subplots(rows, columns, squeeze=False)
    for row in range(rows):
        name = modalities[int(np.argmax(target[row]))]
        panels = [
            (images[row, ..., k], f"{m}" if available[row, k] else f"{m} (missing)") for k, m in enumerate(modalities)
        ]
        panels += [
            (y[row, ..., 0], f"true {name}"),
            (synthesis[row, ..., 0], f"synthetic {name}"),
            (np.abs(synthesis[row, ..., 0] - y[row, ..., 0]), "|error|"),
        ]
        for column, (image, label) in enumerate(panels):
            axis = axes[row, column]
            is_error = column == columns - 1
            is_missing = column < len(modalities) and not available[row, column]
            if is_missing:
                image = np.full_like(image, -1.0)
            axis.imshow(
                image,
                cmap="magma" if is_error else "gray",
                vmin=0.0 if is_error else -1.0,
                vmax=1.0,
            )
            axis.set_title(label, fontsize=7)
            axis.axis("off")
    if title:
        figure.suptitle(title, fontsize=9)
    atomic.save_figure(figure, path)


def read_metrics_csv(path):
    """Reads a Keras `CSVLogger` file into `{column: [floats]}`."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = rows[0].keys() if rows else []
    # CSVLogger writes NA for a metric an epoch lacks (the val_ columns of a run without validation).
    values = {c: [float(r[c]) for r in rows if r.get(c) not in (None, "", "NA")] for c in columns}
    return {c: v for c, v in values.items() if v}


def training_curves(history, path, title=""):
    """Loss terms and image metrics per epoch (training and validation) in one PNG.

    Args:
        history: `{name: [values per epoch]}` (e.g. `read_metrics_csv`), `epoch` optional.
        path: PNG file to write.
        title: figure title.
    """
    groups = [
        ("generator losses", ["g_loss"]),
        ("loss terms", ["g_l1", "g_gan", "g_ssim", "g_intra", "g_inter"]),
        ("D and SR", ["d_loss", "sr_loss"]),
        ("PSNR (dB)", ["psnr"]),
        ("SSIM", ["ssim"]),
        ("MAE", ["mae"]),
    ]
    figure = Figure(figsize=(13, 6.5))
    axes = figure.subplots(2, 3).ravel()
    for axis, (label, names) in zip(axes, groups):
        for name in names:
            for prefix, style in (("", "-"), ("val_", "--")):
                values = history.get(prefix + name)
                if values:
                    epochs = np.arange(1, len(values) + 1)
                    axis.plot(epochs, values, style, marker="o", markersize=3, label=prefix + name)
        axis.set_title(label, fontsize=9)
        axis.set_xlabel("epoch", fontsize=8)
        if axis.has_data():
            axis.legend(fontsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    atomic.save_figure(figure, path)
