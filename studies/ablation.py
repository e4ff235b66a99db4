"""`python -m studies.ablation`: MA-GAN against its ablations, same budget and seeds.

Trains, for every seed, the full model and each ablation through the one training path
(`magan_keras.training.run.train`, so every run folder is a normal run folder with its own
report and its shareable preset, `<variant>/seed<N>/preset/` with the variant's model card),
scores each with both evaluation protocols and the two baselines, and writes a results page
(markdown tables with mean and spread over seeds, sample grids side by side, metric
distributions). Finished runs are reused, so an interrupted study resumes.

Variants:
- `full`: MA-GAN as configured.
- `no_modal_attention`, `no_intra_attention`, `no_sr`: one part switched off.
- `all_off`: every part off, the branches fused by concatenation (CollaGAN-style).
- `pix2pix`: a single-input generator (all contrasts stacked as channels, one encoder,
  `SingleInputGenerator`), no attention, no SR: pix2pix at MA-GAN's budget. It has no
  branches, so it never has `decoder_skip` (the other variants keep the skip, the training
  default; `--decoder-skip false` runs the study on the paper's generator).

The runs are float32 unless `--precision` is given (not the training command's `auto`), so the
tables compare across machines with and without bfloat16 units; `--precision` overrides a
`--config` file's.

Every run's configuration, and every finished run folder it would reuse, is checked before
the first run trains: a study that cannot finish fails at once, not after an hour.

Example:
    python -m studies.ablation --seeds 0 1 2 --epochs 4 --steps-per-epoch 150 \
        --output-dir runs/ablation --results-page docs/results.md
"""

import argparse
import csv
import json
import os
import shutil
import sys
import time

import numpy as np

from magan_keras import atomic

VARIANTS = {
    "full": {},
    "no_modal_attention": {"modal_attention": False},
    "no_intra_attention": {"intra_attention": False},
    "no_sr": {"sr_supervision": False},
    "all_off": {"modal_attention": False, "intra_attention": False, "sr_supervision": False},
    "pix2pix": {
        "generator": "single_input",
        "modal_attention": False,
        "intra_attention": False,
        "sr_supervision": False,
        "decoder_skip": False,
    },
}
REPORTED = ("slice_ssim", "slice_psnr", "slice_mae", "brain_ssim", "brain_psnr")
TITLES = {
    "slice_ssim": "slice SSIM",
    "slice_psnr": "slice PSNR",
    "slice_mae": "slice MAE",
    "brain_ssim": "brain SSIM",
    "brain_psnr": "brain PSNR",
}


def variant_config(base, variant, seed, output_dir, options=None):
    """The `TrainConfig` of one run: the base config, the variant's switches, the seed.

    Args:
        base: `TrainConfig` every run starts from.
        variant: str. A key of `options`.
        seed: int.
        output_dir: str. The study's folder; the run goes to `output_dir/variant/seedN`.
        options: dict variant -> `TrainConfig` fields, or None for this study's `VARIANTS`.

    Example:
    >>> from magan_keras.training.config import TrainConfig
    >>> from studies.ablation import variant_config
    >>> config = variant_config(TrainConfig(image_size=32), "no_sr", 1, "runs/ablation")
    >>> config.sr_supervision, config.seed, config.output_dir
    (False, 1, 'runs/ablation/no_sr/seed1')
    """
    options = VARIANTS if options is None else options
    return base.replace(**options[variant], seed=seed, output_dir=os.path.join(output_dir, variant, f"seed{seed}"))


def run_study(base, variants, seeds, output_dir, verbose=2, options=None, timings=None):
    """Trains (or reuses) every variant x seed; returns `{(variant, seed): run folder}`.

    Args:
        base: `TrainConfig` every run starts from.
        variants: list of keys of `options`.
        seeds: list of int.
        output_dir: str. The study's folder.
        verbose: Keras `fit` verbosity of each run.
        options: dict variant -> `TrainConfig` fields, or None for this study's `VARIANTS`
            (`studies.through_plane` passes its own).
        timings: dict or None. When given, filled with `(variant, seed)` -> training seconds of
            each run trained by this call (reused runs are left out).

    Example (trains; see `python -m studies.ablation`):

        folders = run_study(TrainConfig(epochs=1), ["full", "no_sr"], [0, 1], "runs/ablation")

    Raises:
        RunFolderError: a finished run folder holds another configuration (before anything
            trains).
    """
    from magan_keras.training.run import (
        CONFIG_FILE,
        FINISHED_FILE,
        RunFolderError,
        config_differences,
        train,
    )

    plan = []  # (variant, seed, config, folder, finished), all checked before the first run trains
    for variant, seed in ((v, s) for v in variants for s in seeds):
        config = variant_config(base, variant, seed, output_dir, options)
        folder = os.path.abspath(config.output_dir)
        finished = os.path.exists(os.path.join(folder, FINISHED_FILE))
        if finished:
            with open(os.path.join(folder, CONFIG_FILE)) as f:
                differing = config_differences(json.load(f), config)
            if differing:
                raise RunFolderError(
                    f"{folder} holds a finished {variant} seed {seed} run with another configuration "
                    f"(saved vs requested: {differing}); choose another --output-dir or remove that folder"
                )
        plan.append((variant, seed, config, folder, finished))
    folders = {}
    for index, (variant, seed, config, folder, finished) in enumerate(plan):
        if finished:
            print(f"[{index + 1}/{len(plan)}] {variant} seed {seed}: finished earlier, reused", flush=True)
        else:
            print(f"[{index + 1}/{len(plan)}] {variant} seed {seed}: training", flush=True)
            start = time.perf_counter()
            train(config, verbose=verbose)
            if timings is not None:
                timings[(variant, seed)] = time.perf_counter() - start
        folders[(variant, seed)] = folder
    return folders


def read_summary(folder):
    """`{(target, method): {metric: mean over subjects}}` from a run's evaluation/summary.csv.

    Args:
        folder: str. A finished run folder.

    Example:
    >>> from magan_keras import atomic
    >>> from studies.ablation import read_summary
    >>> _ = atomic.write_csv("run/evaluation/summary.csv", ["target", "method", "slice_ssim_mean"],
    ...                      [{"target": "t1", "method": "magan", "slice_ssim_mean": 0.5}])
    >>> read_summary("run")
    {('t1', 'magan'): {'slice_ssim': 0.5}}
    """
    with open(os.path.join(folder, "evaluation", "summary.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        (r["target"], r["method"]): {m: float(r[f"{m}_mean"]) for m in REPORTED if r.get(f"{m}_mean") not in (None, "")}
        for r in rows
    }


def aggregate(folders):
    """Mean and standard deviation over seeds of each method's subject-mean metrics.

    The model's rows are named by variant; the baselines (fitted per run on its training
    split) are pooled over every run.

    Args:
        folders: `{(variant, seed): run folder}` from `run_study`.

    Example:
    >>> from magan_keras import atomic
    >>> from studies.ablation import aggregate
    >>> for seed, value in ((0, 0.5), (1, 0.7)):
    ...     _ = atomic.write_csv(f"s{seed}/evaluation/summary.csv", ["target", "method", "slice_ssim_mean"],
    ...                          [{"target": "t1", "method": "magan", "slice_ssim_mean": value}])
    >>> mean, std, n = aggregate({("full", 0): "s0", ("full", 1): "s1"})[("t1", "full")]["slice_ssim"]
    >>> round(mean, 6), round(std, 4), n
    (0.6, 0.1414, 2)

    Returns:
        `{(target, method): {metric: (mean, std, n)}}`.
    """
    values = {}
    for (variant, _seed), folder in folders.items():
        for (target, method), metrics in read_summary(folder).items():
            name = variant if method == "magan" else f"baseline: {method}"
            for metric, value in metrics.items():
                values.setdefault((target, name), {}).setdefault(metric, []).append(value)
    return {
        key: {
            m: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v)) for m, v in metrics.items()
        }
        for key, metrics in values.items()
    }


def results_table(table, targets, methods):
    """Markdown: one block per target, a row per method, mean ± std over seeds.

    Args:
        table: from `aggregate`.
        targets: list of target contrasts (one block each).
        methods: list of method names (rows; missing ones are left out).

    Example:
    >>> from studies.ablation import REPORTED, results_table
    >>> table = {("t1", "full"): {m: (0.5, 0.1, 2) for m in REPORTED}}
    >>> results_table(table, ["t1"], ["full", "no_sr"]).splitlines()[4]
    '| full | 0.5000 ± 0.1000 | 0.50 ± 0.10 | 0.5000 ± 0.1000 | 0.5000 ± 0.1000 | 0.50 ± 0.10 |'
    """
    lines = []
    for target in targets:
        lines += [
            f"### Target: {target}",
            "",
            "| method | " + " | ".join(TITLES[m] for m in REPORTED) + " |",
            "|---" * (len(REPORTED) + 1) + "|",
        ]
        for method in methods:
            entry = table.get((target, method))
            if entry is None:
                continue
            cells = []
            for metric in REPORTED:
                mean, std, _ = entry.get(metric, (float("nan"), 0.0, 0))
                digits = 2 if "psnr" in metric else 4
                cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def comparison_figures(folders, variants, seeds, base, figure_dir):
    """Sample grids side by side (seed `seeds[0]`) and per-seed metric distributions as PNGs.

    Args:
        folders: `{(variant, seed): run folder}` from `run_study`.
        variants: list of variants (columns of the grid).
        seeds: list of seeds; the grid shows `seeds[0]`'s models.
        base: the study's `TrainConfig` (its data give the test examples).
        figure_dir: str. Folder of `ablation_samples.png` and `ablation_ssim_distributions.png`.

    Returns:
        `(grid path, distributions path)`.

    Example (needs trained runs):

        comparison_figures(folders, ["full", "no_sr"], [0, 1], base, "runs/ablation/figures")
    """
    import keras
    from matplotlib.figure import Figure

    from magan_keras.training.run import load_splits, sample_batch

    splits = load_splits(base)
    inputs, y = sample_batch(splits.get("test") or splits["validation"], base, count=4)
    syntheses = {}
    for variant in variants:
        model = keras.saving.load_model(os.path.join(folders[(variant, seeds[0])], "model.keras"))
        syntheses[variant] = keras.ops.convert_to_numpy(model(inputs, training=False))
    rows, columns = len(y), 1 + len(variants)
    figure = Figure(figsize=(1.8 * columns, 1.8 * rows + 0.4))
    axes = figure.subplots(rows, columns, squeeze=False)
    for row in range(rows):
        target = base.target or ("t1", "t1ce", "t2", "flair")[int(np.argmax(inputs["target"][row]))]
        panels = [(y[row, ..., 0], f"true {target}")] + [(syntheses[v][row, ..., 0], v) for v in variants]
        for column, (image, label) in enumerate(panels):
            axes[row, column].imshow(image, cmap="gray", vmin=-1, vmax=1)
            axes[row, column].set_title(label, fontsize=7)
            axes[row, column].axis("off")
    figure.suptitle(f"test examples, seed {seeds[0]}", fontsize=9)
    grid_path = os.path.join(figure_dir, "ablation_samples.png")
    atomic.save_figure(figure, grid_path)

    per_subject = {}
    for (variant, _seed), folder in folders.items():
        with open(os.path.join(folder, "evaluation", "per_subject.csv"), newline="") as f:
            for r in csv.DictReader(f):
                name = variant if r["method"] == "magan" else f"baseline: {r['method']}"
                if r.get("slice_ssim") not in (None, ""):
                    per_subject.setdefault(r["target"], {}).setdefault(name, []).append(float(r["slice_ssim"]))
    targets = sorted(per_subject)
    figure = Figure(figsize=(4.2 * len(targets), 4.2))
    axes = figure.subplots(1, len(targets), squeeze=False)[0]
    for axis, target in zip(axes, targets):
        names = list(per_subject[target])
        axis.boxplot([per_subject[target][n] for n in names])
        axis.set_xticks(range(1, len(names) + 1), names, rotation=60, ha="right", fontsize=7)
        axis.set_title(f"slice SSIM, target {target}", fontsize=9)
    figure.tight_layout()
    box_path = os.path.join(figure_dir, "ablation_ssim_distributions.png")
    atomic.save_figure(figure, box_path)
    return grid_path, box_path


def write_results_page(path, command, base, variants, seeds, table, figures, discussion=""):
    """Writes the results page (markdown, atomically) with the command, configuration, tables and figures.

    Args:
        path: str. The page (e.g. docs/results.md).
        command: str. The command that made it, shown on the page.
        base: the study's `TrainConfig`.
        variants: list of variants.
        seeds: list of seeds.
        table: from `aggregate`.
        figures: `(grid path, distributions path)`, linked relative to the page.
        discussion: markdown appended to the page.

    Example:
    >>> from magan_keras.training.config import TrainConfig
    >>> from studies.ablation import write_results_page
    >>> write_results_page("docs/results.md", "python -m studies.ablation", TrainConfig(), ["full"], [0],
    ...                    {}, ["docs/figures/a.png", "docs/figures/b.png"])
    >>> open("docs/results.md").readline()
    '# MA-GAN ablation on the built-in phantom\\n'
    """
    targets = [base.target] if base.target else ["t1", "t1ce", "t2", "flair"]
    methods = list(variants) + sorted({m for (_, m) in table if m.startswith("baseline")})
    relative = [os.path.relpath(f, os.path.dirname(os.path.abspath(path))) for f in figures]
    lines = [
        "# MA-GAN ablation on the built-in phantom" if not (base.data_dir or base.dataset) else "# MA-GAN ablation",
        "",
        "Produced by:",
        "",
        f"```bash\n{command}\n```",
        "",
        (
            f"Configuration (every run; only the variant's switches and the seed change): "
            f"`{ {k: v for k, v in base.to_dict().items() if k not in ('output_dir', 'overwrite', 'seed')} }`."
        ),
        (
            f"Seeds: {list(seeds)}. Each cell is the mean ± standard deviation over seeds of the "
            "mean over test subjects. Slice metrics: [-1, 1] mapped to [0, 1], inside the brain; "
            "BraSyn: per volume, each volume percentile-normalised on its own."
        ),
        "",
        results_table(table, targets, methods),
        f"![sample grids]({relative[0]})",
        "",
        f"![SSIM distributions]({relative[1]})",
        "",
        discussion,
    ]
    atomic.write_text(path, "\n".join(lines).rstrip() + "\n")


def copy_file(source, destination):
    """Copies `source` to `destination` atomically; returns the destination.

    Args:
        source: str. An existing file.
        destination: str. The copy (its folder is created).

    Example:
    >>> from magan_keras import atomic
    >>> from studies.ablation import copy_file
    >>> copy_file(str(atomic.write_text("a.txt", "x")), "copies/a.txt")
    'copies/a.txt'
    """
    with atomic.replacing(destination) as temporary:
        shutil.copyfile(source, temporary)
    return destination


def main(argv=None):
    """Runs the ablation study; returns the exit code (0, or 2 when a finished run differs).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.

    Example (trains every run; see the module docstring):

        main(["--seeds", "0", "--epochs", "1", "--output-dir", "runs/try"])
    """
    from magan_keras.cli.train import add_config_options, config_from_args
    from magan_keras.training.run import RunFolderError

    parser = argparse.ArgumentParser(prog="python -m studies.ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="TOML or JSON file of training options")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--results-page", default=None, help="markdown page to write (default OUTPUT_DIR/results.md)")
    parser.add_argument("--discussion", default=None, help="markdown file appended to the page")
    add_config_options(parser, fields=[f for f in _config_fields() if f not in ("seed", "overwrite")])
    args = parser.parse_args(argv)
    if args.output_dir is None:
        args.output_dir = "runs/ablation"
    if args.precision is None:  # float32 on every machine, so the tables compare (not "auto"; see module doc)
        args.precision = "float32"
    study = {k: getattr(args, k) for k in ("variants", "seeds", "results_page", "discussion")}
    for key in study:
        delattr(args, key)
    try:
        base = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    output_dir = base.output_dir
    try:
        folders = run_study(base, study["variants"], study["seeds"], output_dir)
    except RunFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = aggregate(folders)
    figures = comparison_figures(folders, study["variants"], study["seeds"], base, os.path.join(output_dir, "figures"))
    page = study["results_page"] or os.path.join(output_dir, "results.md")
    page_figures = os.path.join(os.path.dirname(os.path.abspath(page)), "figures")
    if os.path.abspath(page_figures) != os.path.abspath(os.path.join(output_dir, "figures")):
        figures = [copy_file(f, os.path.join(page_figures, os.path.basename(f))) for f in figures]
    discussion = ""
    if study["discussion"]:
        with open(study["discussion"], encoding="utf-8") as f:
            discussion = f.read()
    command = "python -m studies.ablation " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results_page(page, command, base, study["variants"], study["seeds"], table, figures, discussion)
    print(f"results page: {page}")
    return 0


def _config_fields():
    from magan_keras.training.config import TrainConfig

    return TrainConfig.field_names()


if __name__ == "__main__":
    sys.exit(main())
