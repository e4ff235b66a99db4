"""PNG figures of syntheses and evaluations (matplotlib, no pyplot state).

Axial slices are shown as radiologists' software shows canonical (RAS+) data rotated with
`numpy.rot90`: anterior at the top, the subject's right on the image's right (neurological
convention), so a figure can be compared with the input in a NIfTI viewer set to that convention.

Both figures are written with `magan_keras.atomic.save_figure`: a failed or killed write keeps the
previous PNG.

Example (`figures.synthesis_figure(synthesize_subject(...), path)` and
`figures.evaluation_figure(evaluate_model(...), path)` write the two figures):
>>> import numpy as np
>>> from magan_keras.evaluation import figures
>>> mask = np.zeros((8, 8, 10), bool)
>>> mask[2:6, 2:6, 2:8] = True
>>> figures.pick_slices(mask)
[3, 4, 6]
"""

from __future__ import annotations

import pathlib

import numpy as np

from magan_keras import atomic


def _new_figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=import-outside-toplevel
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _show(axis, image, title=None, vmin=0.0, vmax=1.0):
    axis.imshow(np.rot90(image), cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])
    if title:
        axis.set_title(title, fontsize=8)


def pick_slices(brain_mask, count=3) -> list:
    """`count` axial slice indices spread over the brain's extent (25 %, 50 %, 75 % for 3).

    Args:
        brain_mask: bool `[X, Y, Z]`.
        count: int. How many slices (fewer when the brain spans fewer).

    Example:
    >>> from magan_keras.evaluation.figures import pick_slices
    >>> import numpy as np
    >>> mask = np.zeros((4, 4, 100), bool)
    >>> mask[:, :, 20:80] = True
    >>> pick_slices(mask), pick_slices(np.zeros((4, 4, 6), bool))
    ([35, 50, 64], [3])
    """
    with_brain = np.flatnonzero(np.asarray(brain_mask, bool).any(axis=(0, 1)))
    if with_brain.size == 0:
        return [brain_mask.shape[2] // 2]
    positions = np.linspace(0, with_brain.size - 1, count + 2)[1:-1]
    return sorted({int(with_brain[round(p)]) for p in positions})


def synthesis_figure(result, path, slices=None) -> pathlib.Path:
    """A grid of axial slices: inputs, each synthesis, and its ground truth when given.

    Args:
        result: a `magan_keras.inference.synthesis.Synthesis` (or anything with its
            `subject_id`, `inputs`, `outputs`, `truths` and `brain_mask`).
        path: PNG path (written atomically).
        slices: axial indices (default: `pick_slices(result.brain_mask)`).

    Returns:
        the path written.

    Example (a stand-in for `synthesize_subject("m.keras", files)`):
    >>> from magan_keras.evaluation.figures import synthesis_figure
    >>> import types
    >>> import numpy as np
    >>> mask = np.ones((8, 8, 6), bool)
    >>> volume = np.random.default_rng(0).uniform(size=mask.shape)
    >>> result = types.SimpleNamespace(subject_id="s1", inputs={"t1": volume}, outputs={"flair": volume},
    ...                                truths={"flair": volume}, brain_mask=mask)
    >>> synthesis_figure(result, "s1_synthesis.png").name
    's1_synthesis.png'
    """
    slices = pick_slices(result.brain_mask) if slices is None else list(slices)
    columns = [(f"input {name}", volume) for name, volume in result.inputs.items()]
    for target, volume in result.outputs.items():
        columns.append((f"synthetic {target}", volume))
        if target in result.truths:
            columns.append((f"true {target}", result.truths[target]))
            columns.append((f"|error| {target}", np.abs(volume - result.truths[target])))
    figure = _new_figure(1.9 * len(columns), 2.0 * len(slices) + 0.4)
    axes = figure.subplots(len(slices), len(columns), squeeze=False)
    for row, index in enumerate(slices):
        for column, (title, volume) in enumerate(columns):
            _show(axes[row, column], volume[:, :, index], title if row == 0 else None)
        axes[row, 0].set_ylabel(f"axial {index}", fontsize=8)
    figure.suptitle(f"{result.subject_id}: unit scale (0-1), anterior up, subject's right on the right", fontsize=9)
    figure.tight_layout()
    return atomic.save_figure(figure, path)


def evaluation_figure(results, path, metrics=("brain_ssim", "slice_psnr")) -> pathlib.Path:
    """Per-target distributions over subjects of each method, the spread per protocol and region, example slices.

    Top rows: one panel per target and metric, a box plot (with the subjects as points) per
    method. Middle rows: per target, one panel per measure (PSNR, MAE, SSIM) with each
    protocol and region's mean ± standard deviation over subjects per method
    (`EvaluationResults.by_region`, the numbers of `results.md`). Bottom rows: one row per target
    of the example subject's slice: truth, then each method's synthesis (unit scale).

    Args:
        results: `magan_keras.evaluation.results.EvaluationResults`.
        path: PNG path (written atomically).
        metrics: metric names to show.

    Returns:
        the path written.

    Example (hand-made results; `evaluate_model(...)` returns real ones):
    >>> from magan_keras.evaluation.figures import evaluation_figure
    >>> import numpy as np
    >>> from magan_keras.evaluation.results import METRICS, EvaluationResults
    >>> rows = [{"subject_id": f"s{k}", "target": "flair", "method": m, "slices": 4,
    ...          **{name: 0.5 + 0.1 * k for name in METRICS}} for k in range(3) for m in ("magan", "linear")]
    >>> image = np.full((8, 8), 0.5)
    >>> examples = {"flair": {"subject_id": "s0", "slice_index": 2, "truth": image, "magan": image, "linear": image}}
    >>> results = EvaluationResults(rows, ("flair",), ("magan", "linear"), examples, [])
    >>> evaluation_figure(results, "evaluation.png").name
    'evaluation.png'
    """
    targets, methods = list(results.targets), list(results.methods)
    example_rows = [t for t in targets if t in results.examples]
    columns = max(len(targets), 1 + len(methods))
    rows = len(metrics) + len(targets) + len(example_rows)
    figure = _new_figure(2.6 * columns, 2.4 * rows + 0.4)
    grid = figure.add_gridspec(rows, columns)
    rng = np.random.default_rng(0)
    for row, metric in enumerate(metrics):
        for column, target in enumerate(targets):
            axis = figure.add_subplot(grid[row, column])
            data = [
                np.asarray(
                    [
                        r[metric]
                        for r in results.rows
                        if r["target"] == target and r["method"] == m and np.isfinite(r[metric])
                    ]
                )
                for m in methods
            ]
            positions = np.arange(1, len(methods) + 1)
            if any(d.size for d in data):
                axis.boxplot(
                    [d if d.size else [np.nan] for d in data], positions=positions, widths=0.5, showfliers=False
                )
                for position, values in zip(positions, data):
                    axis.plot(position + rng.uniform(-0.12, 0.12, values.size), values, ".", alpha=0.6, markersize=4)
            axis.set_xticks(positions)
            axis.set_xticklabels(methods, fontsize=7, rotation=20)
            axis.set_title(f"{target}: {metric}", fontsize=8)
            axis.tick_params(labelsize=7)
    _spread_panels(figure, grid, len(metrics), results)
    for offset, target in enumerate(example_rows):
        example = results.examples[target]
        panels = [("truth", example["truth"])] + [(m, example[m]) for m in methods if m in example]
        for column, (title, image) in enumerate(panels):
            axis = figure.add_subplot(grid[len(metrics) + len(targets) + offset, column])
            _show(axis, image, f"{target} {title}")
        figure.axes[-len(panels)].set_ylabel(f"{example['subject_id']}\naxial {example['slice_index']}", fontsize=7)
    figure.suptitle(
        "Distributions over subjects (top), mean ± std per protocol and region (middle), example slices "
        "(bottom, unit scale)",
        fontsize=9,
    )
    figure.tight_layout()
    return atomic.save_figure(figure, path)


def _spread_panels(figure, grid, first_row, results):
    """Per target a row of PSNR / MAE / SSIM panels: mean ± std over subjects per protocol-region and method."""
    from magan_keras.evaluation.results import MEASURES  # pylint: disable=import-outside-toplevel

    table = results.by_region()
    methods = list(results.methods)
    for row, target in enumerate(results.targets):
        cells = grid[first_row + row, :].subgridspec(1, len(MEASURES), wspace=0.3)
        for column, measure in enumerate(MEASURES):
            axis = figure.add_subplot(cells[0, column])
            entries = [e for e in table if e["target"] == target and e[f"{measure}_n"] > 0]
            labels = list(dict.fromkeys(f"{e['protocol']}\n{e['region']}" for e in entries))
            for k, method in enumerate(methods):
                chosen = [e for e in entries if e["method"] == method]
                x = [
                    labels.index(f"{e['protocol']}\n{e['region']}") + (k - (len(methods) - 1) / 2) * 0.15
                    for e in chosen
                ]
                means = [e[f"{measure}_mean"] for e in chosen]
                stds = [e[f"{measure}_std"] for e in chosen]
                axis.errorbar(x, means, yerr=stds, fmt="o", markersize=3, capsize=2, label=method)
            axis.set_xticks(range(len(labels)))
            axis.set_xticklabels(
                [t.replace(" (background included)", " + bg") for t in labels], fontsize=5, rotation=30
            )
            axis.set_title(f"{target}: {measure} (mean ± std over subjects)", fontsize=7)
            axis.tick_params(axis="y", labelsize=6)
            if row == 0 and column == 0 and labels:
                axis.legend(fontsize=5)
