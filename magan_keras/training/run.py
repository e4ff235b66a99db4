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

import keras
import numpy as np

from magan_keras import atomic
from magan_keras import data as magan_data
from magan_keras.models import MAGAN
from magan_keras.modalities import BRATS_MODALITIES
from magan_keras.training import callbacks as run_callbacks
from magan_keras.training import plots
from magan_keras.training.distribution import is_chief, make_strategy
from magan_keras.training.schedules import learning_rate_for
from tfds_brats.preprocessing import Preprocessing

CONFIG_FILE = "config.json"
FINISHED_FILE = "report.md"


class RunFolderError(ValueError):
    """The output folder holds a finished or different run (or is not a run folder)."""


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


def prepare_run_folder(config):
    """Checks the output folder before any work and writes the config into it.

    A finished run (one with a report) is only replaced with `overwrite`; an
    unfinished one with the same config is resumed; one with another config is refused.
    """
    output_dir = os.path.abspath(os.path.expanduser(config.output_dir))
    paths = run_paths(output_dir)
    saved = None
    if os.path.exists(paths["config"]):
        with open(paths["config"]) as f:
            saved = json.load(f)
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        if saved is None:
            raise RunFolderError(
                f"output_dir {output_dir} exists and is not a magan_keras run folder (no {CONFIG_FILE}); "
                "choose another --output-dir"
            )
        if config.overwrite:
            shutil.rmtree(output_dir)
            saved = None
        elif os.path.exists(paths["report"]):
            raise RunFolderError(
                f"output_dir {output_dir} holds a finished run; pass --overwrite to replace it "
                "or choose another --output-dir"
            )
        else:
            differing = config_differences(saved, config)
            if differing:
                raise RunFolderError(
                    f"output_dir {output_dir} holds an unfinished run with another configuration "
                    f"(saved vs requested: {differing}); pass --overwrite or choose another --output-dir"
                )
    os.makedirs(output_dir, exist_ok=True)
    if saved is None and is_chief():
        atomic.write_json(paths["config"], config.to_dict())
    return paths


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

        builder = tfds.builder(config.dataset, data_dir=config.tfds_data_dir)
        if not builder.is_prepared():
            raise ValueError(
                f"dataset {config.dataset!r} is not prepared in {builder.data_dir}; "
                "run python -m tfds_brats.prepare first"
            )
    elif config.data_dir:
        builder = prepare(manual_dir=config.data_dir, image_size=config.image_size, data_dir=config.tfds_data_dir)
    else:
        builder = prepare(
            phantom=True, image_size=config.image_size, num_subjects=config.num_subjects,
            data_dir=config.tfds_data_dir,
        )
    size = builder.info.features["images"].shape[0]
    if size != config.image_size:
        raise ValueError(f"dataset {builder.info.full_name} has {size} px slices but image_size is {config.image_size}")
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
        splits["train"], batch_size=config.batch_size, scenario=config.data_scenario,
        shuffle=True, seed=config.seed, augment=config.augment,
    )
    validation_split = splits.get("validation") or splits.get("test")
    repeat = config.validation_steps is not None
    validation = magan_data.make_dataset(
        validation_split, batch_size=config.batch_size, scenario=config.data_scenario,
        shuffle=False, seed=config.seed + 1, repeat=repeat, drop_remainder=repeat,
    )
    return train, validation


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
            **config.model_kwargs(), dtype=config.precision,
            preprocessing=preprocessing.to_config() if preprocessing is not None else None,
        )
        model.compile(**{
            f"{part}_optimizer": keras.optimizers.Adam(learning_rate_for(config), beta_1=0.5, name=f"{part}_adam")
            for part in ("g", "d", "sr")
        })
    return model


def sample_batch(split, config, count=4):
    """A few fixed examples (targets cycling through the contrasts) for the sample grids."""
    examples = magan_data.make_dataset(
        split, batch_size=count, scenario=config.data_scenario, shuffle=False, seed=config.seed + 2,
        repeat=False, drop_remainder=False,
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
            split, batch_size=config.batch_size, scenario=contrast, shuffle=False,
            seed=config.seed, repeat=False, drop_remainder=False,
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
        f"{config.image_size} px; model width {config.base_filters}, {config.res_blocks} residual blocks; "
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


def train(config, verbose="auto", extra_callbacks=()):
    """Trains MA-GAN as `config` says and writes the run folder.

    Resumes from the folder's backup when a previous run with the same config
    was interrupted (killed, preempted).

    Args:
        config: `TrainConfig`.
        verbose: Keras `fit` verbosity.
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
    paths = prepare_run_folder(config)
    chief = is_chief()
    if keras.backend.backend() == "tensorflow":
        strategy = make_strategy(config.strategy)
    elif config.strategy != "auto":
        raise ValueError(f"strategy {config.strategy!r} needs the TensorFlow backend")
    else:
        strategy = None
    builder = prepared_builder(config)
    splits = load_splits(config, builder)
    train_examples, validation_examples = make_datasets(config, splits)
    model = build_model(config, strategy, dataset_preprocessing(builder, config))
    test_split = splits.get("test") or splits["validation"]
    grid = run_callbacks.SampleGrid(
        sample_batch(test_split, config), BRATS_MODALITIES, paths["samples"], paths["tensorboard"], enabled=chief
    )
    callbacks = [
        run_callbacks.StopOnNonFiniteLoss(),
        keras.callbacks.BackupAndRestore(paths["backup"], double_checkpoint=True),
        keras.callbacks.CSVLogger(paths["metrics_csv"], append=True),
        keras.callbacks.TensorBoard(paths["tensorboard"]),
        run_callbacks.AtomicCheckpoint(paths["checkpoints"], enabled=chief),
        grid,
        *extra_callbacks,
    ]
    model.fit(
        train_examples, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
        validation_data=validation_examples, validation_steps=config.validation_steps,
        callbacks=callbacks, verbose=verbose,
    )
    test_metrics = evaluate_per_target(model, test_split, config)
    sample_pngs = sorted(
        os.path.join(paths["samples"], f) for f in os.listdir(paths["samples"]) if f.endswith(".png")
    ) if os.path.isdir(paths["samples"]) else []
    if chief:
        atomic.save_model(model, paths["model"])
        atomic.write_json(paths["test_metrics"], test_metrics)
        plots.training_curves(plots.read_metrics_csv(paths["metrics_csv"]), paths["curves"], title="MA-GAN training")
        evaluation = evaluate_with_protocols(model, splits, config, paths["evaluation"])
        written = {
            k: paths[k]
            for k in ("model", "checkpoints", "metrics_csv", "tensorboard", "samples", "curves", "evaluation", "config")
        }
        write_report(paths["report"], config, test_metrics, written, evaluation)
    return RunResult(
        output_dir=os.path.dirname(paths["report"]), model_path=paths["model"], report_path=paths["report"],
        metrics_csv=paths["metrics_csv"], curves_png=paths["curves"], sample_pngs=sample_pngs,
        test_metrics=test_metrics,
    )
