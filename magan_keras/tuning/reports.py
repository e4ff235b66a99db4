"""What a search leaves in its folder: the leaderboard, the objective plot and the best config.

`write_reports` writes, from the oracle's trials: `leaderboard.csv` and `leaderboard.md`
(best first), `objective_vs_hyperparameters.png` and the best values as a training config
(`best_config.toml`, `best_config.json`) that `python -m magan_keras.train --config` takes as
it is. Every file goes through `magan_keras.atomic`. `print_summary` prints the same on the console.

Example:
>>> import os, tempfile
>>> from magan_keras.tuning.settings import make_settings
>>> settings = make_settings(output_dir=tempfile.mkdtemp())
>>> rows = [example_row("0", 0.61, gamma=0.2, alpha=1.0, beta=3.0)]
>>> paths = write_files(rows, settings)
>>> sorted(os.path.basename(p) for p in paths.values())  # doctest: +NORMALIZE_WHITESPACE
['best_config.json', 'best_config.toml', 'leaderboard.csv', 'leaderboard.md',
 'objective_vs_hyperparameters.png']
"""

import json
import math
import numbers
import os
import sys

from magan_keras import atomic
from magan_keras.tuning.hypermodel import OBJECTIVES, last_error_line
from magan_keras.tuning.settings import NOT_IN_BEST_CONFIG

METRICS = ("val_ssim", "val_psnr", "val_mae")
FILES = {
    "leaderboard_csv": "leaderboard.csv",
    "leaderboard_md": "leaderboard.md",
    "figure": "objective_vs_hyperparameters.png",
    "best_toml": "best_config.toml",
    "best_json": "best_config.json",
}


def example_row(trial, score, status="COMPLETED", **values):
    """A leaderboard row by hand (the form `trial_rows` returns), for examples and tests.

    Args:
        trial: str, the trial id.
        score: float or None, the objective (None: the trial did not finish).
        status: str, KerasTuner's status of the trial.
        **values: the searched hyperparameters' values.

    Example:
    >>> example_row("3", 0.5, gamma=0.1)["values"]
    {'gamma': 0.1}
    """
    return {
        "trial": trial,
        "status": status,
        "score": score,
        "values": values,
        "epochs": None,
        "metrics": {} if score is None else {"val_ssim": score},
        "error": "",
        "message": "",
        "rank": 1 if score is not None else "",
    }


def trial_rows(oracle, space, objective):
    """One dict per trial, best first (finished ones, then unfinished and failed).

    Args:
        oracle: a KerasTuner oracle (`tuner.oracle`), whose `trials` are read.
        space: `search_space.SearchSpace`, the searched names.
        objective: `ssim`, `psnr` or `l1` (sets the sort direction).

    Returns:
        a list of dicts with `rank`, `trial`, `status`, `score`, `values`, `epochs`, `metrics`,
        `error` and `message`.

    Example:
    >>> import keras_tuner
    >>> from magan_keras.tuning.search_space import load_space
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.values.update(gamma=0.3, alpha=1.0, beta=2.0)
    >>> trial = keras_tuner.engine.trial.Trial(hp, trial_id="0", status="COMPLETED")
    >>> trial.score = 0.7
    >>> oracle = keras_tuner.oracles.RandomSearchOracle()
    >>> oracle.trials = {"0": trial}
    >>> [(row["rank"], row["values"]["gamma"]) for row in trial_rows(oracle, load_space("paper"), "ssim")]
    [(1, 0.3)]
    """
    _, direction = OBJECTIVES[objective]
    rows = []
    for trial in oracle.trials.values():
        values = trial.hyperparameters.values
        metrics = {}
        for name in METRICS:
            if trial.metrics.exists(name):
                metrics[name] = float(trial.metrics.get_last_value(name))
        score = trial.score if trial.status == "COMPLETED" else None
        rows.append(
            {
                "trial": trial.trial_id,
                "status": trial.status,
                "score": None if score is None else float(score),
                "values": {name: values.get(name) for name in space.names},
                "epochs": values.get("tuner/epochs"),  # Hyperband's budget of the trial
                "metrics": metrics,
                "error": "" if trial.status == "COMPLETED" else _failure_text(trial),
                "message": trial.message or "",
            }
        )
    sign = -1 if direction == "max" else 1
    rows.sort(key=lambda r: (r["score"] is None, sign * r["score"] if r["score"] is not None else 0, r["trial"]))
    rank = 0
    for row in rows:
        if row["score"] is not None:
            rank += 1
        row["rank"] = rank if row["score"] is not None else ""
    return rows


def _failure_text(trial):
    if trial.status == "FAILED":
        return last_error_line(trial.message) or "the objective was not a finite number"
    return "unfinished (its process stopped; it runs again when the search is resumed)"


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _data_text(config):
    return config.dataset or config.data_dir or f"phantom ({config.num_subjects} subjects)"


def write_leaderboard(rows, settings, csv_path, md_path):
    """Writes the trials as a CSV table and a Markdown page, best first.

    Args:
        rows: `trial_rows`'s list.
        settings: `TuneSettings`.
        csv_path: the CSV file to write.
        md_path: the Markdown file to write.

    Example:
    >>> import os, tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> folder = tempfile.mkdtemp()
    >>> settings = make_settings(output_dir=folder)
    >>> rows = [example_row("0", 0.6, gamma=0.5, alpha=1.0, beta=1.0)]
    >>> write_leaderboard(rows, settings, os.path.join(folder, "l.csv"), os.path.join(folder, "l.md"))
    >>> open(os.path.join(folder, "l.csv")).readline().strip()
    'rank,trial,status,val_ssim,gamma,alpha,beta,val_psnr,val_mae,error'
    """
    metric, direction = OBJECTIVES[settings.objective]
    names = settings.space.names
    extra = [m for m in METRICS if m != metric]
    budget = ["epochs"] if settings.tuner == "hyperband" else []
    header = ["rank", "trial", "status", metric, *names, *budget, *extra, "error"]
    table = [
        dict(
            zip(
                header,
                [
                    row["rank"],
                    row["trial"],
                    row["status"],
                    "" if row["score"] is None else row["score"],
                    *[row["values"][n] for n in names],
                    *[row[b] for b in budget],
                    *[row["metrics"].get(m, "") for m in extra],
                    row["error"],
                ],
            )
        )
        for row in rows
    ]
    atomic.write_csv(csv_path, header, table)
    finished = [r for r in rows if r["score"] is not None]
    failed = [r for r in rows if r["status"] == "FAILED"]
    config = settings.config
    lines = [
        "# MA-GAN hyperparameter search",
        "",
        f"{settings.tuner} search of the `{settings.space.name}` space ({settings.space.source}); objective "
        f"`{metric}` ({direction}imise) on the validation batches; {len(finished)} of {len(rows)} trials "
        f"finished, {len(failed)} failed.",
        "",
        f"Each trial: {_data_text(config)}, {config.image_size} px, network width "
        f"{config.base_filters}, residual blocks {config.res_blocks}; epochs "
        f"{config.epochs} x {config.steps_per_epoch} steps of batch {config.batch_size}.",
        "",
        "Searched: " + "; ".join(f"`{n}` {settings.space.hyperparameters[n].describe()}" for n in names) + ".",
        "",
        "| " + " | ".join(header[:-1]) + " |",
        "|" + "---|" * (len(header) - 1),
    ]
    for row in rows:
        cells = [
            row["rank"],
            row["trial"],
            row["status"],
            row["score"],
            *[row["values"][n] for n in names],
            *[row[b] for b in budget],
            *[row["metrics"].get(m) for m in extra],
        ]
        lines.append("| " + " | ".join(_format(c) for c in cells) + " |")
    if failed:
        lines += ["", "## Failed trials", ""]
        lines += [f"- trial {r['trial']}: `{r['error']}`" for r in failed]
    atomic.write_text(md_path, "\n".join(lines) + "\n")


def plot_objective(rows, settings, path):
    """One panel per hyperparameter: the objective of each finished trial against its value (a PNG).

    Args:
        rows: `trial_rows`'s list.
        settings: `TuneSettings`.
        path: the `.png` file to write.

    Example:
    >>> import os, tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> folder = tempfile.mkdtemp()
    >>> rows = [example_row("0", 0.6, gamma=0.5, alpha=1.0, beta=1.0),
    ...         example_row("1", None, status="FAILED", gamma=0.1, alpha=2.0, beta=0.5)]
    >>> plot_objective(rows, make_settings(output_dir=folder), os.path.join(folder, "o.png"))
    >>> open(os.path.join(folder, "o.png"), "rb").read(4)
    b'\\x89PNG'
    """
    from matplotlib.figure import Figure

    metric, direction = OBJECTIVES[settings.objective]
    names = settings.space.names
    figure = Figure(figsize=(3.4 * len(names), 3.3), layout="constrained")
    axes = figure.subplots(1, len(names), squeeze=False, sharey=True)[0]
    finished = [r for r in rows if r["score"] is not None]
    failed = [r for r in rows if r["status"] == "FAILED"]
    best = finished[0] if finished else None
    for axis, name in zip(axes, names):
        spec = settings.space.hyperparameters[name]
        categorical = spec.type in ("choice", "boolean")
        categories = list(spec.values) if spec.type == "choice" else [False, True]

        def position(value, categorical=categorical, categories=categories):
            return categories.index(value) if categorical else value

        xs = [position(r["values"][name]) for r in finished]
        ys = [r["score"] for r in finished]
        axis.scatter(xs, ys, color="tab:blue", label="trial")
        if best is not None:
            axis.scatter(
                [position(best["values"][name])],
                [best["score"]],
                s=140,
                facecolors="none",
                edgecolors="tab:red",
                linewidths=2,
                label="best",
            )
        placed = [r for r in failed if r["values"][name] is not None]
        if placed:
            low = min(ys) if ys else 0.0
            axis.scatter(
                [position(r["values"][name]) for r in placed],
                [low] * len(placed),
                marker="x",
                color="black",
                label="failed",
            )
        if categorical:
            axis.set_xticks(range(len(categories)), [str(c) for c in categories])
        elif spec.is_log:
            axis.set_xlim(spec.min / 1.5, spec.max * 1.5)
            axis.set_xscale("log")
        else:
            margin = 0.05 * (spec.max - spec.min)
            axis.set_xlim(spec.min - margin, spec.max + margin)
        axis.set_xlabel(name)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(metric)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{metric} ({direction}) against each hyperparameter, {len(finished)} trials")
    atomic.save_figure(figure, path)


def best_config_values(settings, best_values):
    """The best trial's values merged into the search's config, as training config keys.

    The search's own budget and folder (`NOT_IN_BEST_CONFIG`) and unset keys are left out.

    Args:
        settings: `TuneSettings`.
        best_values: `{name: value}` of the best trial's searched hyperparameters.

    Example:
    >>> from magan_keras.tuning.settings import make_settings
    >>> values = best_config_values(make_settings(), {"gamma": 0.25})
    >>> values["gamma"], values["image_size"], "epochs" in values
    (0.25, 32, False)
    """
    config = settings.config.replace(**best_values)
    return {k: v for k, v in config.to_dict().items() if k not in NOT_IN_BEST_CONFIG and v is not None}


def toml_value(value):
    """`value` as a TOML literal (NumPy scalars, which KerasTuner hands back, included).

    Args:
        value: a bool, number or string.

    Example:
    >>> import numpy as np
    >>> toml_value(np.float64(0.25)), toml_value(np.int64(3)), toml_value(True), toml_value("t2")
    ('0.25', '3', 'true', '"t2"')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):  # NumPy integers too
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)  # a NumPy float's repr is "np.float64(...)", not TOML
        if math.isfinite(value):
            return repr(value)
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return json.dumps(str(value))


def write_best_config(settings, best_row, toml_path, json_path):
    """Writes the best values as a TOML and a JSON training config.

    Args:
        settings: `TuneSettings`.
        best_row: the best row of `trial_rows` (a finished trial).
        toml_path: the `.toml` file to write (commented, searched keys first).
        json_path: the `.json` file to write.

    Example:
    >>> import os, tempfile
    >>> from magan_keras.training.config import TrainConfig
    >>> from magan_keras.tuning.settings import make_settings
    >>> folder = tempfile.mkdtemp()
    >>> row = example_row("2", 0.6, gamma=0.75, alpha=1.0, beta=1.0)
    >>> write_best_config(make_settings(), row, os.path.join(folder, "b.toml"), os.path.join(folder, "b.json"))
    >>> TrainConfig.from_file(os.path.join(folder, "b.toml")).gamma
    0.75
    """
    values = best_config_values(settings, best_row["values"])
    metric, _ = OBJECTIVES[settings.objective]
    header = [
        "# Best hyperparameters of the MA-GAN search in this folder (python -m magan_keras.tune).",
        f"# Trial {best_row['trial']}: {metric} = {best_row['score']:.6g} after "
        f"epochs {settings.config.epochs} x {settings.config.steps_per_epoch} steps.",
        "# Train with them:  python -m magan_keras.train --config THIS_FILE --epochs E --output-dir runs/best",
        f"# Searched: {', '.join(settings.space.names)}; the other keys are the options the search used.",
        "",
    ]
    searched = [k for k in values if k in settings.space.names]
    others = [k for k in values if k not in settings.space.names]
    lines = (
        header
        + [f"{k} = {toml_value(values[k])}" for k in searched]
        + [""]
        + [f"{k} = {toml_value(values[k])}" for k in others]
    )
    atomic.write_text(toml_path, "\n".join(lines) + "\n")
    atomic.write_json(json_path, values)


def write_files(rows, settings):
    """Writes the leaderboard, and with a finished trial the figure and best config; returns their paths.

    Without a finished trial, a figure and best config left by an earlier run are removed.

    Args:
        rows: `trial_rows`'s list.
        settings: `TuneSettings` (the files go in `settings.output_dir`).

    Returns:
        `{key: path}` with keys of `FILES` (only those written).

    Example:
    >>> import tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> sorted(write_files([], make_settings(output_dir=tempfile.mkdtemp())))
    ['leaderboard_csv', 'leaderboard_md']
    """
    paths = {key: os.path.join(settings.output_dir, name) for key, name in FILES.items()}
    write_leaderboard(rows, settings, paths["leaderboard_csv"], paths["leaderboard_md"])
    finished = [r for r in rows if r["score"] is not None]
    if finished:
        plot_objective(rows, settings, paths["figure"])
        write_best_config(settings, finished[0], paths["best_toml"], paths["best_json"])
    else:
        for key in ("figure", "best_toml", "best_json"):
            if os.path.exists(paths[key]):
                os.remove(paths[key])
            paths.pop(key)
    return paths


def write_reports(oracle, settings):
    """Leaderboard, figure and best config from `oracle`'s trials; returns `(rows, paths)`.

    Args:
        oracle: a KerasTuner oracle (`tuner.oracle`).
        settings: `TuneSettings`.

    Example:
    >>> import tempfile, keras_tuner
    >>> from magan_keras.tuning.settings import make_settings
    >>> settings = make_settings(output_dir=tempfile.mkdtemp())
    >>> rows, paths = write_reports(keras_tuner.oracles.RandomSearchOracle(), settings)
    >>> rows, sorted(paths)
    ([], ['leaderboard_csv', 'leaderboard_md'])
    """
    rows = trial_rows(oracle, settings.space, settings.objective)
    return rows, write_files(rows, settings)


def print_summary(rows, paths, settings, stopped=None):
    """Prints the search's outcome: counts, the five best trials, failures and where the files are.

    Args:
        rows: `trial_rows`'s list.
        paths: `write_files`'s paths.
        settings: `TuneSettings`.
        stopped: why the search stopped early, or None.

    Example:
    >>> import tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> settings = make_settings(output_dir=tempfile.mkdtemp())
    >>> rows = [example_row("0", 0.6, gamma=0.5, alpha=1.0, beta=1.0)]
    >>> print_summary(rows, write_files(rows, settings), settings)  # doctest: +ELLIPSIS
    <BLANKLINE>
    Search: 1 trials finished, 0 failed, 0 unfinished (of 1).
      #1 trial 0: val_ssim 0.6000  (gamma=0.5, alpha=1, beta=1)
    ...
    """
    metric, _ = OBJECTIVES[settings.objective]
    finished = [r for r in rows if r["score"] is not None]
    failed = [r for r in rows if r["status"] == "FAILED"]
    unfinished = [r for r in rows if r["status"] not in ("COMPLETED", "FAILED")]
    print(
        f"\nSearch: {len(finished)} trials finished, {len(failed)} failed, {len(unfinished)} unfinished "
        f"(of {len(rows)})."
    )
    for row in finished[:5]:
        values = ", ".join(f"{k}={_format(v)}" for k, v in row["values"].items())
        print(f"  #{row['rank']} trial {row['trial']}: {metric} {row['score']:.4f}  ({values})")
    for row in failed:
        print(f"FAILED trial {row['trial']}: {row['error']}", file=sys.stderr)
        tail = "\n".join(row["message"].strip().splitlines()[-6:])
        if tail:
            print("    " + tail.replace("\n", "\n    "), file=sys.stderr)
    if stopped:
        print(f"error: search stopped: {stopped}", file=sys.stderr)
    if not finished:
        print("error: no trial finished; see the errors above", file=sys.stderr)
    print(f"\nSearch folder: {settings.output_dir}")
    print(f"  leaderboard:  {paths['leaderboard_md']} (and .csv)")
    if "figure" in paths:
        print(f"  figure:       {paths['figure']}")
        print(f"  best config:  {paths['best_toml']} (and .json)")
        print(f"  train it:     python -m magan_keras.train --config {paths['best_toml']} --output-dir runs/best")
    print(f"  TensorBoard:  tensorboard --logdir {os.path.join(settings.output_dir, 'logs')}")
