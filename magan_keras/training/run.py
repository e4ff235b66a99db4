"""One training run, end to end: data, model, `fit`, evaluation, figures and report.

`train(config)` is what `python -m magan_keras.train` runs, what the tuner's
trials call piece by piece (`load_splits`, `make_datasets`, `build_model`), and
what a user calls from a script.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import warnings

import keras
import numpy as np

from magan_keras import atomic
from magan_keras import data as magan_data
from magan_keras.modalities import BRATS_MODALITIES
from magan_keras.models import MAGAN
from magan_keras.training import callbacks as run_callbacks
from magan_keras.training import plots
from magan_keras.training.distribution import is_chief, make_strategy
from magan_keras.training.schedules import learning_rate_for
from tfds_brats.preprocessing import Preprocessing

CONFIG_FILE = "config.json"
FINISHED_FILE = "report.md"


class RunFolderError(ValueError):
    """The output folder holds a finished or different run (or is not a run folder)."""


class DataError(ValueError):
    """The requested data set is unknown, not prepared or does not fit the config."""


@dataclasses.dataclass
class RunResult:
    """Where a run wrote what, and its test metrics per target contrast."""

    output_dir: str
    model_path: str
    report_path: str
    metrics_csv: str
    curves_png: str
    sample_pngs: list
    test_metrics: dict


def run_paths(output_dir):
    """The files and folders of a run folder, by role."""
    join = lambda *p: os.path.join(output_dir, *p)  # noqa: E731
    return {
        "config": join(CONFIG_FILE),
        "model": join("model.keras"),
        "checkpoints": join("checkpoints"),
        "backup": join("backup"),
        "metrics_csv": join("metrics.csv"),
        "tensorboard": join("logs"),
        "samples": join("samples"),
        "curves": join("curves.png"),
        "report": join(FINISHED_FILE),
        "test_metrics": join("test_metrics.json"),
        "evaluation": join("evaluation"),
    }


def config_differences(saved, config):
    """`{field: (saved value, requested value)}` where a run folder's saved config differs from `config`.

    Args:
        saved: the dict in a run folder's `config.json` (a field it lacks counts as None,
            so a run from before a field existed differs from any value of it).
        config: the requested `TrainConfig`; `overwrite` is not compared.
    """
    return {k: (saved.get(k), v) for k, v in config.to_dict().items() if k != "overwrite" and saved.get(k) != v}


MARKER_FILE = ".magan_keras_run.json"
LOCK_FILE = ".magan_keras_run.lock"
MARKER = {"package": "magan_keras", "kind": "run", "format": 1}


def read_marker(output_dir):
    """The run marker of `output_dir` (a dict with `package`, `kind`, `format`, `training_done`), or None.

    Only a JSON object naming this package and `kind: run` counts; anything else is not our marker.

    Args:
        output_dir: the folder.
    """
    try:
        with open(os.path.join(output_dir, MARKER_FILE)) as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    if isinstance(marker, dict) and all(marker.get(k) == v for k, v in MARKER.items() if k != "format"):
        return marker
    return None


def write_marker(output_dir, training_done=False):
    """Writes the run marker atomically; `training_done` once `fit` has returned and the model is saved.

    Args:
        output_dir: the run folder.
        training_done: bool.
    """
    atomic.write_json(os.path.join(output_dir, MARKER_FILE), {**MARKER, "training_done": bool(training_done)})


def _saved_run_config(output_dir):
    """The saved config dict when `config.json` is a JSON object that parses as a `TrainConfig`, else None."""
    try:
        with open(os.path.join(output_dir, CONFIG_FILE)) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict):
        return None
    try:
        from magan_keras.training.config import TrainConfig

        TrainConfig.from_dict(saved)
    except (TypeError, ValueError):
        return None
    return saved


def run_folder_kind(output_dir):
    """`"run"` (our marker), `"legacy"` (a run from before the marker), `"empty"`, `"missing"` or None (not ours).

    A legacy run is one whose `config.json` parses as a `TrainConfig` and which also holds
    `report.md`, `checkpoints/`, `backup/` or `metrics.csv`; a folder with any other
    `config.json` is not a run folder.

    Args:
        output_dir: the (absolute) folder.
    """
    if not os.path.lexists(output_dir):
        return "missing"
    if read_marker(output_dir) is not None:
        return "run"
    entries = [e for e in os.listdir(output_dir) if e != LOCK_FILE]
    if not entries:
        return "empty"
    legacy_signs = (FINISHED_FILE, "checkpoints", "backup", "metrics.csv")
    if _saved_run_config(output_dir) is not None and any(e in entries for e in legacy_signs):
        return "legacy"
    return None


def check_output_dir(config):
    """Refuses an output folder that must not be used, before anything is written; returns its absolute path.

    Refused: an empty path, the root, the home folder or the current folder; a path that is a
    file or a symbolic link; a non-empty folder that is not a magan_keras run folder (with or
    without `overwrite`).

    Args:
        config: `TrainConfig`.

    Raises:
        RunFolderError: the message names the folder and why.
    """
    output_dir = atomic.check_output_path(config.output_dir, "run", RunFolderError)
    if run_folder_kind(output_dir) is None:
        raise RunFolderError(
            f"output_dir {output_dir} exists, is not empty and is not a magan_keras run folder (no {MARKER_FILE}, "
            f"and no {CONFIG_FILE} of a run from before that marker); it is left untouched, even with --overwrite: "
            "choose another --output-dir"
        )
    return output_dir


class RunFolderLock:
    """An exclusive, non-blocking `flock` on the run folder's lock file, held while a run works in it.

    Args:
        output_dir: the run folder (created when missing).

    Raises:
        RunFolderError: another process (or another lock in this one) holds the folder.
    """

    def __init__(self, output_dir):
        import fcntl

        os.makedirs(output_dir, exist_ok=True)
        self.path = os.path.join(output_dir, LOCK_FILE)
        self._file = open(self.path, "a")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self._file.close()
            raise RunFolderError(
                f"output_dir {output_dir} is in use by another training run (locked: {self.path}); "
                "wait for it to finish or choose another --output-dir"
            ) from error

    def release(self):
        """Releases the lock (closing its file)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _clear_run_folder(output_dir):
    """Deletes everything in a run folder but its lock file (which the caller holds)."""
    for entry in os.listdir(output_dir):
        if entry == LOCK_FILE:
            continue
        path = os.path.join(output_dir, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def prepare_run_folder(config, lock=None):
    """Checks the output folder before any work and writes the marker and config into it.

    A finished run (one with a report) is only replaced with `overwrite`; an unfinished one
    with the same config is resumed; one with another config is refused. Only a folder that
    carries our marker (`.magan_keras_run.json`), or a run from before that marker (its
    `config.json` parses as a `TrainConfig`), is ever resumed or deleted.

    Args:
        config: `TrainConfig`.
        lock: a held `RunFolderLock` on the folder; without one, one is taken and released
            on return (only for callers that do not work in the folder afterwards).

    Returns:
        `run_paths` of the folder.
    """
    output_dir = check_output_dir(config)
    own_lock = lock is None
    lock = lock or RunFolderLock(output_dir)
    try:
        paths = run_paths(output_dir)
        kind = run_folder_kind(output_dir)
        if kind is None:  # changed since the check
            check_output_dir(config)
        saved = _saved_run_config(output_dir) if kind in ("run", "legacy") else None
        if kind in ("run", "legacy"):
            if config.overwrite:
                _clear_run_folder(output_dir)
                saved = None
            elif os.path.exists(paths["report"]):
                raise RunFolderError(
                    f"output_dir {output_dir} holds a finished magan_keras run; pass --overwrite to replace it "
                    "or choose another --output-dir"
                )
            elif saved is None:
                raise RunFolderError(
                    f"output_dir {output_dir} is a magan_keras run folder without a readable {CONFIG_FILE}; "
                    "pass --overwrite to start it afresh or choose another --output-dir"
                )
            else:
                differing = config_differences(saved, config)
                if differing:
                    raise RunFolderError(
                        f"output_dir {output_dir} holds an unfinished magan_keras run with another configuration "
                        f"(saved vs requested: {differing}); pass --overwrite or choose another --output-dir"
                    )
        if is_chief():
            if read_marker(output_dir) is None:
                write_marker(output_dir)
            if saved is None:
                atomic.write_json(paths["config"], config.to_dict())
        return paths
    finally:
        if own_lock:
            lock.release()


def prepared_builder(config):
    """Prepares (if needed) and returns the TFDS builder of `config`'s data.

    The phantom is prepared on first use (a no-op afterwards); a BraTS folder is
    prepared at the config's image size; `dataset` must already be prepared.
    """
    import tensorflow_datasets as tfds

    from tfds_brats.prepare import prepare

    if config.dataset:
        import tfds_brats.brats  # noqa: F401  (registers the builders)
        import tfds_brats.brats_phantom  # noqa: F401

        try:
            builder = tfds.builder(config.dataset, data_dir=config.tfds_data_dir)
        except Exception as error:  # TFDS raises its own errors for unknown names and configs
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise DataError(f"dataset {config.dataset!r} is unknown: {first_line}") from error
        if not builder.is_prepared():
            raise DataError(
                f"dataset {config.dataset!r} is not prepared in {builder.data_dir}; "
                "run python -m tfds_brats.prepare first"
            )
    else:
        from tfds_brats.subjects import NoSubjectsError

        try:
            split_options = {"split_file": config.split_file, "split_fractions": config.split_fractions}
            split_options["planes"] = config.planes  # the train split's orientations (`tfds_brats.planes`)
            if config.data_dir:
                builder = prepare(
                    manual_dir=config.data_dir,
                    image_size=config.image_size,
                    data_dir=config.tfds_data_dir,
                    skip_bad_subjects=config.skip_bad_subjects,
                    validation_data_dir=config.validation_data_dir,
                    test_data_dir=config.test_data_dir,
                    context_slices=config.context_slices,
                    **split_options,
                )
            else:
                builder = prepare(
                    phantom=True,
                    image_size=config.image_size,
                    num_subjects=config.num_subjects,
                    data_dir=config.tfds_data_dir,
                    context_slices=config.context_slices,
                    **split_options,
                )
        except (ValueError, NoSubjectsError) as error:  # bad subjects, another source, an empty folder
            raise DataError(str(error)) from error
    size = builder.info.features["images"].shape[0]
    if size != config.image_size:
        raise DataError(f"dataset {builder.info.full_name} has {size} px slices but image_size is {config.image_size}")
    stored = getattr(builder.builder_config, "context_slices", 0)
    if config.context_slices > stored:
        raise DataError(
            f"dataset {builder.info.full_name} stores {stored} context slices on each side but context_slices is "
            f"{config.context_slices}; prepare it with python -m tfds_brats.prepare "
            f"--context-slices {config.context_slices}"
        )
    return builder


def dataset_preprocessing(builder, config):
    """The `Preprocessing` record of a prepared dataset: what the model must be given at inference."""
    return Preprocessing.from_builder_config(builder.builder_config, config.image_size, BRATS_MODALITIES)


def load_splits(config, builder=None):
    """Opens the data set (preparing it if needed); returns `{split: tf.data.Dataset}`.

    Args:
        config: `TrainConfig`.
        builder: the dataset's TFDS builder, when the caller already has it (`prepared_builder`).
    """
    import tensorflow_datasets as tfds

    builder = builder or prepared_builder(config)
    # Training reads its shards in a seeded random order, so the shuffle buffer mixes
    # slices of many subjects rather than the neighbours of one.
    read_config = tfds.ReadConfig(shuffle_seed=config.seed)
    return {
        split: builder.as_dataset(split=split, shuffle_files=split == "train", read_config=read_config)
        for split in builder.info.splits
    }


def make_datasets(config, splits):
    """Training and validation batches for `MAGAN.fit` from the opened splits."""
    train = magan_data.make_dataset(
        splits["train"],
        batch_size=config.batch_size,
        scenario=config.data_scenario,
        shuffle=True,
        seed=config.seed,
        augment=config.augment,
        context_slices=config.context_slices,
        crop_size=config.crop_size or None,  # validation, test and synthesis see whole slices
    )
    validation_split = splits.get("validation")
    if validation_split is None:
        # Never the test or training subjects instead: their scores would not be validation scores.
        warnings.warn(
            "the validation split is empty: training without validation (no val_ metrics); "
            "give it subjects with --split-fractions, --split-file or --validation-data-dir",
            stacklevel=2,
        )
        return train, None
    repeat = config.validation_steps is not None
    validation = magan_data.make_dataset(
        validation_split,
        batch_size=config.batch_size,
        scenario=config.data_scenario,
        shuffle=False,
        seed=config.seed + 1,
        repeat=repeat,
        drop_remainder=repeat,
        context_slices=config.context_slices,
    )
    return train, validation


def held_out_split(splits):
    """The split the test scores and sample grids come from: test, else validation, else None (with a warning).

    Args:
        splits: `{split: tf.data.Dataset}` from `load_splits`.

    Example:
    >>> held_out_split({"train": "a", "validation": "b"})
    'b'
    """
    split = splits.get("test") or splits.get("validation")
    if split is None:
        warnings.warn(
            "no test or validation subjects: the test scores, the evaluation and the sample grids are left out",
            stacklevel=2,
        )
    return split


def build_model(config, strategy=None, preprocessing=None):
    """Creates and compiles MAGAN for `config` inside `strategy`'s scope (if any).

    Args:
        config: `TrainConfig`.
        strategy: a `tf.distribute.Strategy` or None.
        preprocessing: the dataset's `Preprocessing` (saved with the model), or None.

    `config.precision="mixed_bfloat16"` builds every layer with bfloat16 maths and
    float32 weights; G, D and SR return float32, so the losses stay float32 (no loss
    scaling is needed for bfloat16).
    """
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = MAGAN(
            **config.model_kwargs(),
            dtype=config.precision,
            preprocessing=preprocessing.to_config() if preprocessing is not None else None,
        )
        model.compile(
            **{
                f"{part}_optimizer": keras.optimizers.Adam(learning_rate_for(config), beta_1=0.5, name=f"{part}_adam")
                for part in ("g", "d", "sr")
            }
        )
    return model


def sample_batch(split, config, count=4):
    """A few fixed examples (targets cycling through the contrasts) for the sample grids."""
    examples = magan_data.make_dataset(
        split,
        batch_size=count,
        scenario=config.data_scenario,
        shuffle=False,
        seed=config.seed + 2,
        repeat=False,
        drop_remainder=False,
        context_slices=config.context_slices,
    )
    inputs, y = next(iter(examples))[:2]
    return {k: np.asarray(v) for k, v in inputs.items()}, np.asarray(y)


def evaluate_per_target(model, split, config, verbose=0):
    """Test metrics of `model` for each target contrast (the others given).

    Returns:
        `{contrast: {metric: value}}` with `psnr`, `ssim`, `mae` and the losses.
    """
    results = {}
    targets = [config.target] if config.target else list(BRATS_MODALITIES)
    for contrast in targets:
        examples = magan_data.make_dataset(
            split,
            batch_size=config.batch_size,
            scenario=contrast,
            shuffle=False,
            seed=config.seed,
            repeat=False,
            drop_remainder=False,
            context_slices=config.context_slices,
        )
        logs = model.evaluate(examples, verbose=verbose, return_dict=True)
        results[contrast] = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in logs.items()}
    return results


def write_report(path, config, test_metrics, result_paths, evaluation=None):
    """Writes the markdown report: configuration, test metrics per target, full evaluation."""
    lines = [
        "# MA-GAN training report",
        "",
        f"Data: {config.dataset or config.data_dir or f'built-in phantom ({config.num_subjects} subjects)'}, "
        f"{config.image_size} px{f' (trained on random {config.crop_size} px crops)' if config.crop_size else ''}; "
        f"model width {config.base_filters}, {config.res_blocks} residual blocks; "
        f"{config.epochs} epochs x {config.steps_per_epoch} steps, global batch {config.batch_size}.",
        "",
        "## Test split, per target contrast (the other contrasts given)",
        "",
        "As `fit` reports them: images mapped from [-1, 1] to [0, 1], whole slices, background included.",
        "",
        "| target | PSNR (dB) | SSIM | MAE |",
        "|---|---|---|---|",
    ]
    for contrast, values in test_metrics.items():
        lines.append(f"| {contrast} | {values['psnr']:.2f} | {values['ssim']:.4f} | {values['mae']:.4f} |")
    if not test_metrics:
        lines += ["", "No test or validation subjects (the split left them empty): no test scores."]
    if evaluation is not None:
        lines += [
            "",
            "## Evaluation protocols and baselines (mean ± std over test subjects)",
            "",
            "BraSyn (per volume) and per-slice (inside the brain) protocols, as "
            "`python -m magan_keras.evaluate` computes them; the baselines are fitted on the training split.",
            "",
            evaluation.to_markdown(),
        ]
    lines += ["", "## Files", ""]
    lines += [f"- {role}: `{os.path.relpath(p, os.path.dirname(path))}`" for role, p in result_paths.items()]
    atomic.write_text(path, "\n".join(lines) + "\n")


def evaluate_with_protocols(model, splits, config, directory):
    """Both evaluation protocols and both baselines on the test split, written to `directory`."""
    from magan_keras.evaluation.baselines import DEFAULT_MAX_EXAMPLES, Baselines
    from magan_keras.evaluation.evaluate import evaluate_model

    baselines = Baselines.fit(splits["train"], max_examples=DEFAULT_MAX_EXAMPLES)
    test_split = splits.get("test") or splits["validation"]
    targets = [config.target] if config.target else None
    results = evaluate_model(model, test_split, targets=targets, baselines=baselines, batch_size=config.batch_size)
    results.write(directory, overwrite=True)
    return results


def fit_verbosity(stream=None):
    """Keras `fit` verbosity for `stream` (default stdout): the step bar in a terminal, one line per epoch otherwise.

    Args:
        stream: a file object with `isatty`.

    Example:
    >>> import io
    >>> fit_verbosity(io.StringIO())
    2
    """
    stream = sys.stdout if stream is None else stream
    try:
        return "auto" if stream.isatty() else 2
    except (AttributeError, ValueError):
        return 2


def train(config, verbose="auto", extra_callbacks=()):
    """Trains MA-GAN as `config` says and writes the run folder.

    Resumes from the folder's backup when a previous run with the same config
    was interrupted (killed, preempted); when `fit` had already returned (the marker says
    `training_done`), only the final save, test metrics, evaluation and report are redone.
    The folder is locked for the run: a second run on it is refused.

    Args:
        config: `TrainConfig`.
        verbose: Keras `fit` verbosity (`fit_verbosity()` picks it from the terminal).
        extra_callbacks: more Keras callbacks.

    Returns:
        `RunResult`.

    Example:
    >>> from magan_keras.training.config import TrainConfig
    >>> config = TrainConfig(num_subjects=4, image_size=16, base_filters=4, res_blocks=1, epochs=1,
    ...                      steps_per_epoch=2, batch_size=2, validation_steps=1, output_dir="runs/example",
    ...                      tfds_data_dir="tfds")
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # the data preparation's messages
    ...     result = train(config, verbose=0)
    >>> sorted(result.test_metrics), os.path.basename(result.report_path)
    (['flair', 't1', 't1ce', 't2'], 'report.md')
    """
    keras.utils.set_random_seed(config.seed)
    output_dir = check_output_dir(config)  # nothing is written before the folder and the data are checked
    chief = is_chief()
    if keras.backend.backend() == "tensorflow":
        strategy = make_strategy(config.strategy)
    elif config.strategy != "auto":
        raise ValueError(f"strategy {config.strategy!r} needs the TensorFlow backend")
    else:
        strategy = None
    builder = prepared_builder(config)
    with RunFolderLock(output_dir) as lock:
        paths = prepare_run_folder(config, lock)
        return _train_in_folder(config, paths, builder, strategy, chief, verbose, extra_callbacks)


def _train_in_folder(config, paths, builder, strategy, chief, verbose, extra_callbacks):
    """`train`'s work once the folder is claimed: `fit` (skipped when the marker says it finished), then the rest."""
    output_dir = os.path.dirname(paths["config"])
    splits = load_splits(config, builder)
    test_split = held_out_split(splits)
    marker = read_marker(output_dir) or {}
    done = marker.get("training_done") and os.path.isfile(paths["model"])
    if not done:
        # Before the model is built, as always: the seeded random streams then give the same
        # initial weights as every earlier version of this command (the README's numbers).
        train_examples, validation_examples = make_datasets(config, splits)
    model = build_model(config, strategy, dataset_preprocessing(builder, config))
    if done:
        # `fit` returned and its model was saved before an interruption: only the last steps are redone.
        note = atomic.verify_checksum(paths["model"])
        if note:
            print(f"note: {note}", file=sys.stderr)
        model.load_weights(paths["model"])
    else:
        grid = (
            run_callbacks.SampleGrid(
                sample_batch(test_split, config),
                BRATS_MODALITIES,
                paths["samples"],
                paths["tensorboard"],
                enabled=chief,
            )
            if test_split is not None
            else None
        )
        callbacks = [
            # First, so that its on_train_end (the final save) runs before BackupAndRestore deletes the backup.
            run_callbacks.FinishTraining(
                paths["model"],
                os.path.join(paths["checkpoints"], "last.keras"),
                on_done=lambda: write_marker(output_dir, training_done=True),
                enabled=chief,
            ),
            run_callbacks.StopOnNonFiniteLoss(),
            keras.callbacks.BackupAndRestore(paths["backup"], double_checkpoint=True),
            keras.callbacks.CSVLogger(paths["metrics_csv"], append=True),
            keras.callbacks.TensorBoard(paths["tensorboard"]),
            # Without validation there is no best epoch: FinishTraining's last.keras is the checkpoint.
            *([run_callbacks.AtomicCheckpoint(paths["checkpoints"], enabled=chief)] if validation_examples else []),
            *([grid] if grid is not None else []),
            *extra_callbacks,
        ]
        model.fit(
            train_examples,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            validation_data=validation_examples,
            validation_steps=config.validation_steps,
            callbacks=callbacks,
            verbose=verbose,
        )
    test_metrics = evaluate_per_target(model, test_split, config) if test_split is not None else {}
    sample_pngs = (
        sorted(os.path.join(paths["samples"], f) for f in os.listdir(paths["samples"]) if f.endswith(".png"))
        if os.path.isdir(paths["samples"])
        else []
    )
    if chief:
        if not os.path.isfile(paths["model"]):  # FinishTraining saved it; a non-chief's fit does not
            atomic.save_model(model, paths["model"])
        atomic.write_json(paths["test_metrics"], test_metrics)
        plots.training_curves(plots.read_metrics_csv(paths["metrics_csv"]), paths["curves"], title="MA-GAN training")
        evaluation = (
            evaluate_with_protocols(model, splits, config, paths["evaluation"]) if test_split is not None else None
        )
        written = {
            k: paths[k]
            for k in ("model", "checkpoints", "metrics_csv", "tensorboard", "samples", "curves", "evaluation", "config")
        }
        # The shareable preset (model card from the files above) before the report, which marks the run finished.
        model.save_to_preset(os.path.join(output_dir, "preset"), run_dir=output_dir, builder=builder, overwrite=True)
        write_report(paths["report"], config, test_metrics, written, evaluation)
    return RunResult(
        output_dir=os.path.dirname(paths["report"]),
        model_path=paths["model"],
        report_path=paths["report"],
        metrics_csv=paths["metrics_csv"],
        curves_png=paths["curves"],
        sample_pngs=sample_pngs,
        test_metrics=test_metrics,
    )
