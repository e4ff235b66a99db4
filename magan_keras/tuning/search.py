"""`python -m magan_keras.tune`: search MA-GAN's gamma, alpha and beta with KerasTuner.

With no arguments it runs a small Bayesian search of the paper's space on the
built-in phantom (32 px, a narrow network, 10 short trials: a few minutes on a
laptop CPU) and writes, in `runs/tune`: a leaderboard (`leaderboard.csv`,
`leaderboard.md`), the objective against each hyperparameter
(`objective_vs_hyperparameters.png`) and the best values as a training config
(`best_config.toml`, `best_config.json`) that `python -m magan_keras.train
--config` accepts as it is. Re-running the same command continues the same
search; finished trials are kept.

Example:
    python -m magan_keras.tune
    python -m magan_keras.tune --tuner random --max-trials 20 --objective psnr
    python -m magan_keras.tune --search-space extended --data-dir ~/BraTS2021 \\
        --image-size 128 --base-filters 64 --epochs 5 --steps-per-epoch 500 --output-dir runs/tune_brats
    python -m magan_keras.train --config runs/tune/best_config.toml --epochs 50

Distributed search (KerasTuner's chief and workers): `python -m tuning.launch_distributed`.
"""

import argparse
import csv
import dataclasses
import json
import math
import numbers
import os
import shutil
import signal
import sys
import time

from magan_keras.tuning import search_space as spaces

from magan_keras.cli.train import add_config_options
from magan_keras.training.config import TrainConfig

SETTINGS_FILE = "search.json"
PROJECT_NAME = "search"
OBJECTIVE_CHOICES = ("ssim", "psnr", "l1")
TUNER_CHOICES = ("bayesian", "random", "hyperband")
# A small search that fits a 2-core CPU in minutes; any option overrides these.
TUNE_DEFAULTS = dict(
    image_size=32, base_filters=8, res_blocks=2, batch_size=8, epochs=3, steps_per_epoch=40, validation_steps=8,
)
DEFAULT_MAX_TRIALS = 10
# Options that are the command's own (not TrainConfig fields a trial uses).
OWN_FIELDS = ("output_dir", "overwrite")
# Fields left out of the best config: the search's own budget and output folder.
NOT_IN_BEST_CONFIG = ("output_dir", "overwrite", "epochs", "steps_per_epoch", "validation_steps", "strategy")
# Fields that may differ between the processes or runs of one search.
NOT_COMPARED = ("output_dir", "overwrite", "tfds_data_dir", "strategy")


class SearchFolderError(ValueError):
    """The output folder holds another search or is not a search folder."""


@dataclasses.dataclass
class TuneSettings:
    """Everything a search depends on, validated."""

    config: TrainConfig
    space: spaces.SearchSpace
    tuner: str = "bayesian"
    objective: str = "ssim"
    max_trials: int = DEFAULT_MAX_TRIALS
    initial_points: int | None = None
    hyperband_factor: int = 3
    max_failures: int = 3
    output_dir: str = "runs/tune"
    overwrite: bool = False
    verbose: int = 1

    @property
    def project_dir(self):
        return os.path.join(self.output_dir, PROJECT_NAME)

    def identity(self):
        """What makes two runs the same search (compared when a search is resumed)."""
        config = {k: v for k, v in self.config.to_dict().items() if k not in NOT_COMPARED}
        identity = {"tuner": self.tuner, "objective": self.objective, "space": self.space.to_dict(), "config": config}
        if self.tuner == "hyperband":
            identity["hyperband_factor"] = self.hyperband_factor
        return identity


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser():
    """The options: the search's own, then the training command's (`--image-size`, ...)."""
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.tune", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Defaults differ from the training command's for a quick CPU search: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in TUNE_DEFAULTS.items()) + ".",
    )
    search = parser.add_argument_group("search")
    search.add_argument(
        "--search-space", default=spaces.DEFAULT_SPACE,
        help="built-in space name (paper, extended) or a .toml/.json file (default paper)",
    )
    search.add_argument("--tuner", choices=TUNER_CHOICES, default="bayesian", help="search algorithm (default bayesian)")
    search.add_argument(
        "--objective", choices=OBJECTIVE_CHOICES, default="ssim",
        help="validation metric: ssim (max), psnr (max) or l1 (mean absolute error, min) (default ssim)",
    )
    search.add_argument(
        "--max-trials", type=_positive_int, default=None,
        help=f"trials of a bayesian or random search; raise it to extend a finished search (default {DEFAULT_MAX_TRIALS})",
    )
    search.add_argument(
        "--initial-points", type=_positive_int, default=None,
        help="random trials before the Bayesian model takes over (default: half the trials, at most 3 per "
        "hyperparameter); fixed when the search starts",
    )
    search.add_argument("--hyperband-factor", type=_positive_int, default=3, help="Hyperband's reduction factor (default 3)")
    search.add_argument(
        "--max-failures", type=_non_negative_int, default=3,
        help="stop after this many failed trials in a row; 0 never stops (default 3)",
    )
    search.add_argument("--output-dir", default="runs/tune", help="search folder (default runs/tune)")
    search.add_argument("--overwrite", action="store_true", help="delete the search in --output-dir and start afresh")
    search.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras fit verbosity (default 1)")
    search.add_argument("--config", help="TOML or JSON training config as the base of every trial")
    training = parser.add_argument_group(
        "training options", "the training command's options: fixed for every trial unless the space searches them",
    )
    defaults = TrainConfig().replace(**TUNE_DEFAULTS)
    fields = [f for f in TrainConfig.field_names() if f not in OWN_FIELDS]
    add_config_options(training, fields=fields, defaults=defaults)
    return parser


def settings_from_args(args):
    """Validated `TuneSettings`: TrainConfig defaults < tune defaults < `--config` < options.

    Raises:
        ValueError: a bad option, space file or config file (the message says which).
    """
    space = spaces.load_space(args.search_space)
    values = {**TrainConfig().to_dict(), **TUNE_DEFAULTS}
    if args.config:
        values.update({k: v for k, v in TrainConfig.from_file(args.config).to_dict().items() if k in _file_keys(args.config)})
    explicit = {
        k: v for k, v in vars(args).items()
        if k in TrainConfig.field_names() and k not in OWN_FIELDS and v is not None
    }
    clash = sorted(set(explicit) & set(space.names))
    if clash:
        options = ", ".join("--" + name.replace("_", "-") for name in clash)
        raise ValueError(f"{options} is searched by the space {space.source}; leave the option out or use another space")
    values.update(explicit)
    config = TrainConfig.from_dict({k: v for k, v in values.items() if k not in OWN_FIELDS})
    if config.strategy == "multi_worker":
        raise ValueError("strategy multi_worker is not supported by the tuner; use the distributed search instead")
    if args.tuner == "hyperband" and args.max_trials is not None:
        raise ValueError("--max-trials does not apply to hyperband: its budget follows from --epochs and --hyperband-factor")
    if args.tuner == "hyperband" and args.hyperband_factor < 2:
        raise ValueError("--hyperband-factor must be at least 2")
    return TuneSettings(
        config=config, space=space, tuner=args.tuner, objective=args.objective,
        max_trials=args.max_trials or DEFAULT_MAX_TRIALS, initial_points=args.initial_points,
        hyperband_factor=args.hyperband_factor, max_failures=args.max_failures,
        output_dir=os.path.abspath(os.path.expanduser(args.output_dir)), overwrite=args.overwrite,
        verbose=args.verbose,
    )


def _file_keys(path):
    """The keys a config file sets (so the file overrides only what it names)."""
    if path.endswith(".toml"):
        import tomllib

        with open(path, "rb") as f:
            return set(tomllib.load(f))
    with open(path) as f:
        return set(json.load(f))


# === Distributed roles ===
def distributed_role():
    """`single`, `chief` or `worker`, from KerasTuner's environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    missing = [v for v in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if v not in os.environ]
    if missing:
        raise ValueError(f"KERASTUNER_ORACLE_IP is set but {missing} are not (see the README's distributed search)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


# === Search folder ===
def prepare_output_dir(settings, overwrite=False):
    """Checks `settings.output_dir` and writes its `search.json` (before any work).

    A folder with the same search is resumed; one with another search is refused
    unless `overwrite` (then deleted); one that is not a search folder is never touched.
    """
    folder = settings.output_dir
    settings_path = os.path.join(folder, SETTINGS_FILE)
    saved = None
    if os.path.exists(settings_path):
        with open(settings_path) as f:
            saved = json.load(f)
    if os.path.isdir(folder) and os.listdir(folder):
        if saved is None:
            raise SearchFolderError(
                f"output_dir {folder} exists and is not a search folder (no {SETTINGS_FILE}); choose another --output-dir"
            )
        if overwrite:
            shutil.rmtree(folder)
            saved = None
        elif saved != settings.identity():
            differing = _differences(saved, settings.identity())
            raise SearchFolderError(
                f"output_dir {folder} holds another search (saved vs requested: {differing}); "
                "pass --overwrite to start afresh or choose another --output-dir"
            )
    os.makedirs(folder, exist_ok=True)
    if saved is None:
        temporary = f"{settings_path}.{os.getpid()}.tmp"
        with open(temporary, "w") as f:
            json.dump(settings.identity(), f, indent=2)
        os.replace(temporary, settings_path)


def _differences(saved, requested, prefix=""):
    out = {}
    for key in sorted(set(saved or {}) | set(requested)):
        a, b = (saved or {}).get(key), requested.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "space":
            out.update(_differences(a, b, prefix=f"{prefix}{key}."))
        elif a != b:
            out[f"{prefix}{key}"] = (a, b)
    return out


def repair_search_state(project_dir):
    """Makes a saved search resume without redoing finished trials; returns the trial statuses.

    KerasTuner's oracle saves its state before it clears a finished trial from
    `ongoing_trials` and, in a distributed search, never saves again: a search
    that had finished (or a chief killed after a trial ended) would redo that
    trial for the same tuner id. Here finished trials leave `ongoing_trials`;
    unfinished ones (their process was killed) go to the retry queue, which any
    tuner (a worker with another id included) takes first.
    """
    statuses = {}
    if not os.path.isdir(project_dir):
        return statuses
    for entry in sorted(os.listdir(project_dir)):
        path = os.path.join(project_dir, entry, "trial.json")
        if entry.startswith("trial_") and os.path.isfile(path):
            with open(path) as f:
                trial = json.load(f)
            statuses[trial["trial_id"]] = trial.get("status")
    oracle_path = os.path.join(project_dir, "oracle.json")
    if not os.path.isfile(oracle_path):
        return statuses
    with open(oracle_path) as f:
        state = json.load(f)
    ongoing = state.get("ongoing_trials", {})
    retry = state.setdefault("retry_queue", [])
    end_order = state.setdefault("end_order", [])
    if not ongoing:
        return statuses
    for trial_id in ongoing.values():
        if statuses.get(trial_id) in ("COMPLETED", "FAILED"):
            if trial_id not in end_order:
                end_order.append(trial_id)
        elif trial_id not in retry:
            retry.append(trial_id)
    state["ongoing_trials"] = {}
    temporary = f"{oracle_path}.{os.getpid()}.tmp"
    with open(temporary, "w") as f:
        json.dump(state, f)
    os.replace(temporary, oracle_path)
    return statuses


# === The chief's oracle server ===
class _Terminated(Exception):
    pass


def _raise_terminated(signum, frame):
    raise _Terminated()


def serve_oracle(tuner, verbose=1, poll_s=1.0):
    """The chief: serves the oracle to the workers until the search is over.

    The same as KerasTuner's chief (`tuner.search()` with `KERASTUNER_TUNER_ID=chief`)
    but it polls every second instead of every 20 s before exiting, saves the
    oracle once more at the end (so its saved state lists no finished trial as
    ongoing) and stops cleanly on SIGTERM.
    """
    try:
        from concurrent import futures

        import grpc
        from keras_tuner.src import protos
        from keras_tuner.src.distribute import oracle_chief
    except ImportError:  # pragma: no cover - a KerasTuner without these internals
        tuner.search(verbose=verbose)
        return
    oracle = tuner.oracle
    oracle.verbose = verbose
    tuner.save()
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    server.add_insecure_port(address)
    server.start()
    print(f"Oracle serving on {address}", flush=True)
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(oracle)):
            time.sleep(poll_s)
    finally:
        server.stop(grace=2)
        tuner.save()


# === Reports ===
def trial_rows(oracle, space, objective):
    """One dict per trial, best first (finished ones, then unfinished and failed)."""
    metric, direction = _objective(objective)
    rows = []
    for trial in oracle.trials.values():
        values = trial.hyperparameters.values
        metrics = {}
        for name in ("val_ssim", "val_psnr", "val_mae"):
            if trial.metrics.exists(name):
                metrics[name] = float(trial.metrics.get_last_value(name))
        score = trial.score if trial.status == "COMPLETED" else None
        rows.append({
            "trial": trial.trial_id,
            "status": trial.status,
            "score": None if score is None else float(score),
            "values": {name: values.get(name) for name in space.names},
            "epochs": values.get("tuner/epochs"),  # Hyperband's budget of the trial
            "metrics": metrics,
            "error": "" if trial.status == "COMPLETED" else _failure_text(trial),
            "message": trial.message or "",
        })
    sign = -1 if direction == "max" else 1
    rows.sort(key=lambda r: (r["score"] is None, sign * r["score"] if r["score"] is not None else 0, r["trial"]))
    rank = 0
    for row in rows:
        if row["score"] is not None:
            rank += 1
        row["rank"] = rank if row["score"] is not None else ""
    return rows


def _failure_text(trial):
    from magan_keras.tuning.hypermodel import last_error_line

    if trial.status == "FAILED":
        return last_error_line(trial.message) or "the objective was not a finite number"
    return "unfinished (its process stopped; it runs again when the search is resumed)"


def _objective(name):
    from magan_keras.tuning.hypermodel import OBJECTIVES

    return OBJECTIVES[name]


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write_leaderboard(rows, settings, csv_path, md_path):
    metric, direction = _objective(settings.objective)
    names = settings.space.names
    extra = [m for m in ("val_ssim", "val_psnr", "val_mae") if m != metric]
    budget = ["epochs"] if settings.tuner == "hyperband" else []
    header = ["rank", "trial", "status", metric, *names, *budget, *extra, "error"]
    temporary = f"{csv_path}.tmp"
    with open(temporary, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([
                row["rank"], row["trial"], row["status"], "" if row["score"] is None else row["score"],
                *[row["values"][n] for n in names], *[row[b] for b in budget],
                *[row["metrics"].get(m, "") for m in extra], row["error"],
            ])
    os.replace(temporary, csv_path)
    finished = [r for r in rows if r["score"] is not None]
    failed = [r for r in rows if r["status"] == "FAILED"]
    lines = [
        "# MA-GAN hyperparameter search",
        "",
        f"{settings.tuner} search of the `{settings.space.name}` space ({settings.space.source}); objective "
        f"`{metric}` ({direction}imise) on the validation batches; {len(finished)} of {len(rows)} trials "
        f"finished, {len(failed)} failed.",
        "",
        f"Each trial: {_data_text(settings.config)}, {settings.config.image_size} px, network width "
        f"{settings.config.base_filters}, residual blocks {settings.config.res_blocks}; epochs "
        f"{settings.config.epochs} x {settings.config.steps_per_epoch} steps of batch {settings.config.batch_size}.",
        "",
        "Searched: " + "; ".join(f"`{n}` {settings.space.hyperparameters[n].describe()}" for n in names) + ".",
        "",
        "| " + " | ".join(header[:-1]) + " |",
        "|" + "---|" * (len(header) - 1),
    ]
    for row in rows:
        cells = [row["rank"], row["trial"], row["status"], row["score"], *[row["values"][n] for n in names],
                 *[row[b] for b in budget], *[row["metrics"].get(m) for m in extra]]
        lines.append("| " + " | ".join(_format(c) for c in cells) + " |")
    if failed:
        lines += ["", "## Failed trials", ""]
        lines += [f"- trial {r['trial']}: `{r['error']}`" for r in failed]
    temporary = f"{md_path}.tmp"
    with open(temporary, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(temporary, md_path)


def _data_text(config):
    return config.dataset or config.data_dir or f"phantom ({config.num_subjects} subjects)"


def plot_objective(rows, settings, path):
    """One panel per hyperparameter: the objective of each finished trial against its value."""
    from matplotlib.figure import Figure

    from magan_keras.training.plots import save_figure

    metric, direction = _objective(settings.objective)
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

        def position(value):
            return categories.index(value) if categorical else value

        xs = [position(r["values"][name]) for r in finished]
        ys = [r["score"] for r in finished]
        axis.scatter(xs, ys, color="tab:blue", label="trial")
        if best is not None:
            axis.scatter([position(best["values"][name])], [best["score"]], s=140, facecolors="none",
                         edgecolors="tab:red", linewidths=2, label="best")
        if failed:
            low = min(ys) if ys else 0.0
            axis.scatter([position(r["values"][name]) for r in failed if r["values"][name] is not None],
                         [low] * len([r for r in failed if r["values"][name] is not None]),
                         marker="x", color="black", label="failed")
        if categorical:
            axis.set_xticks(range(len(categories)), [str(c) for c in categories])
        else:
            axis.set_xlim(spec.min - 0.05 * (spec.max - spec.min) if not spec.is_log else spec.min / 1.5,
                          spec.max + 0.05 * (spec.max - spec.min) if not spec.is_log else spec.max * 1.5)
            if spec.is_log:
                axis.set_xscale("log")
        axis.set_xlabel(name)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel(metric)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{metric} ({direction}) against each hyperparameter, {len(finished)} trials")
    save_figure(figure, path)


def best_config_values(settings, best_values):
    """The best trial's values merged into the search's config, as training config keys."""
    config = settings.config.replace(**best_values)
    return {k: v for k, v in config.to_dict().items() if k not in NOT_IN_BEST_CONFIG and v is not None}


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):  # NumPy integers too
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)  # a NumPy float's repr is "np.float64(...)", not TOML
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    return json.dumps(str(value))


def write_best_config(settings, best_row, toml_path, json_path):
    """Writes the best values as a TOML and a JSON training config."""
    values = best_config_values(settings, best_row["values"])
    metric, _ = _objective(settings.objective)
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
    lines = header + [f"{k} = {_toml_value(values[k])}" for k in searched] + [""] + [
        f"{k} = {_toml_value(values[k])}" for k in others
    ]
    for path, text in ((toml_path, "\n".join(lines) + "\n"), (json_path, json.dumps(values, indent=2) + "\n")):
        temporary = f"{path}.tmp"
        with open(temporary, "w") as f:
            f.write(text)
        os.replace(temporary, path)


def write_reports(oracle, settings):
    """Leaderboard, figure and best config from `oracle`'s trials; returns (rows, paths)."""
    rows = trial_rows(oracle, settings.space, settings.objective)
    folder = settings.output_dir
    paths = {
        "leaderboard_csv": os.path.join(folder, "leaderboard.csv"),
        "leaderboard_md": os.path.join(folder, "leaderboard.md"),
        "figure": os.path.join(folder, "objective_vs_hyperparameters.png"),
        "best_toml": os.path.join(folder, "best_config.toml"),
        "best_json": os.path.join(folder, "best_config.json"),
    }
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
    return rows, paths


def print_summary(rows, paths, settings, stopped=None):
    metric, _ = _objective(settings.objective)
    finished = [r for r in rows if r["score"] is not None]
    failed = [r for r in rows if r["status"] == "FAILED"]
    unfinished = [r for r in rows if r["status"] not in ("COMPLETED", "FAILED")]
    print(f"\nSearch: {len(finished)} trials finished, {len(failed)} failed, {len(unfinished)} unfinished "
          f"(of {len(rows)}).")
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


# === The command ===
def _strategy(config):
    """The tuner's `distribution_strategy`: None unless several GPUs or an explicit strategy."""
    import keras

    if keras.backend.backend() != "tensorflow":
        if config.strategy != "auto":
            raise ValueError(f"strategy {config.strategy!r} needs the TensorFlow backend")
        return None
    import tensorflow as tf

    from magan_keras.training.distribution import make_strategy

    strategy = make_strategy(config.strategy)
    return None if strategy is tf.distribute.get_strategy() else strategy


def make_search(settings, role="single"):
    """The hypermodel and tuner of `settings` (the project folder must be prepared)."""
    from magan_keras.tuning.hypermodel import MAGANHyperModel, make_tuner

    hypermodel = MAGANHyperModel(settings.config, settings.space)
    tuner = make_tuner(
        settings.tuner, hypermodel, objective=settings.objective, max_trials=settings.max_trials,
        directory=settings.output_dir, project_name=PROJECT_NAME, initial_points=settings.initial_points,
        hyperband_factor=settings.hyperband_factor, seed=settings.config.seed + 1,
        # A worker cannot stop the search for everybody; failures then use up trials.
        max_failures=settings.max_failures if role == "single" else 0,
        distribution_strategy=None if role == "chief" else _strategy(settings.config),
    )
    return hypermodel, tuner


def _search_callbacks(settings):
    import keras

    if keras.backend.backend() != "tensorflow":
        return []
    # KerasTuner gives each trial its own log folder and adds the HParams dashboard.
    return [keras.callbacks.TensorBoard(os.path.join(settings.output_dir, "logs"), write_graph=False, profile_batch=0)]


def main(argv=None):
    """Runs the search command; returns the process exit code (1 when no trial finished)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        role = distributed_role()
        if role != "single" and settings.overwrite:
            raise ValueError(
                "--overwrite in a distributed search would let every process delete the folder; clear it once "
                "before launching (python -m tuning.launch_distributed --overwrite does)"
            )
        prepare_output_dir(settings, overwrite=settings.overwrite)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    from magan_keras.tuning.hypermodel import SearchStopped

    statuses = {} if role == "worker" else repair_search_state(settings.project_dir)
    done = sum(s in ("COMPLETED", "FAILED") for s in statuses.values())
    if done:
        print(f"Resuming the search in {settings.output_dir}: {done} finished trials are kept.", flush=True)
    hypermodel, tuner = make_search(settings, role)
    stopped = None
    if role == "chief":
        hypermodel.splits  # noqa: B018 - prepare the data once, before any worker starts
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            serve_oracle(tuner, verbose=settings.verbose)
        except (_Terminated, KeyboardInterrupt):
            stopped = "the chief was stopped before the workers finished"
        finally:
            signal.signal(signal.SIGTERM, previous)
    else:
        try:
            tuner.search(callbacks=_search_callbacks(settings), verbose=settings.verbose)
        except SearchStopped as error:
            stopped = str(error)
            if role == "worker":
                print(f"error: {stopped}", file=sys.stderr)
                return 1
    if role == "worker":
        ran = ", ".join(tuner.trials_run) or "none"
        print(f"Worker {os.environ['KERASTUNER_TUNER_ID']} done (ran trials: {ran}); the oracle has no more trials.")
        return 0
    rows, paths = write_reports(tuner.oracle, settings)
    print_summary(rows, paths, settings, stopped=stopped)
    finished = any(r["score"] is not None for r in rows)
    return 0 if finished and not stopped else 1


if __name__ == "__main__":
    sys.exit(main())
