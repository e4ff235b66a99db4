"""KerasTuner over the MA-GAN training path: the hypermodel, objectives and tuners.

`MAGANHyperModel` builds each trial's model with `training.run.build_model` and
its data with `training.run.make_datasets`, the functions the training command
uses, from a `TrainConfig` whose searched fields take the trial's values. So a
trial trains exactly what `python -m magan_keras.train` would train with the same
options (for `epochs x steps_per_epoch` steps) and the best values can be handed
to the training command as they are.

Example:
>>> from magan_keras.tuning.search_space import load_space
>>> from magan_keras.training.config import TrainConfig
>>> hypermodel = MAGANHyperModel(TrainConfig(image_size=32, base_filters=8), load_space("paper"))
>>> tuner = make_tuner("random", hypermodel, objective="ssim", max_trials=4,
...                    directory="runs/tune", project_name="search")
>>> [hp.name for hp in tuner.oracle.get_space().space]
['gamma', 'alpha', 'beta']

`tuner.search()` would then train the four trials (`magan_keras.tuning.search` runs it).
"""

import keras
import keras_tuner

from magan_keras.training import callbacks as run_callbacks
from magan_keras.training import run

# --objective name -> (logged metric, direction). `val_*` are computed by MAGAN's
# test_step on the validation batches; MAE is on images mapped to [0, 1].
OBJECTIVES = {
    "ssim": ("val_ssim", "max"),
    "psnr": ("val_psnr", "max"),
    "l1": ("val_mae", "min"),
}
TUNERS = ("bayesian", "random", "hyperband")


def make_objective(name):
    """`keras_tuner.Objective` for `ssim`, `psnr` or `l1`.

    Args:
        name: a key of `OBJECTIVES`.

    Example:
    >>> objective = make_objective("l1")
    >>> objective.name, objective.direction
    ('val_mae', 'min')
    """
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {name!r}")
    return keras_tuner.Objective(*OBJECTIVES[name])


class MAGANHyperModel(keras_tuner.HyperModel):
    """MA-GAN as a `keras_tuner.HyperModel`: `config` with the trial's values of `space`.

    Args:
        config: `TrainConfig`, the fixed options (data, size, budget, the values
            of options not searched).
        space: `SearchSpace`, the searched options and their ranges.
        splits: optional `{split: tf.data.Dataset}`; by default `run.load_splits(config)`
            on first use (a worker prepares nothing until its first trial).

    Every trial starts from the same seed (weights and data order), so trials
    differ only by their hyperparameters.

    Example:
    >>> import keras_tuner
    >>> from magan_keras.tuning.search_space import load_space
    >>> from magan_keras.training.config import TrainConfig
    >>> hypermodel = MAGANHyperModel(TrainConfig(image_size=16, base_filters=4, res_blocks=0), load_space("paper"))
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.values.update(gamma=0.25, alpha=2.0, beta=0.5)
    >>> model = hypermodel.build(hp)
    >>> model.gamma, model.alpha
    (0.25, 2.0)
    """

    def __init__(self, config, space, splits=None, name="magan"):
        super().__init__(name=name, tunable=True)
        self.config = config
        self.space = space
        self._splits = splits

    @property
    def splits(self):
        """The opened data splits, `run.load_splits(config)` on first use."""
        if self._splits is None:
            self._splits = run.load_splits(self.config)
        return self._splits

    def declare_hyperparameters(self, hp):
        """Declares the space's hyperparameters on `hp` (a `keras_tuner.HyperParameters`), no model built.

        Args:
            hp: `keras_tuner.HyperParameters`.
        """
        for spec in self.space.hyperparameters.values():
            spec.declare(hp)

    def trial_config(self, hp):
        """The `TrainConfig` of a trial: the fixed options plus `hp`'s searched values.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
        """
        values = {name: spec.declare(hp) for name, spec in self.space.hyperparameters.items()}
        return self.config.replace(**values)

    def build(self, hp):
        """The trial's compiled MAGAN (`run.build_model`), built from the config's seed.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
        """
        config = self.trial_config(hp)
        keras.utils.set_random_seed(config.seed)
        return run.build_model(config)

    def fit(self, hp, model, *args, **kwargs):
        """`model.fit` on the trial's data; `**kwargs` (the tuner's callbacks) go on to it.

        Without positional data the training and validation batches come from
        `run.make_datasets`; `epochs`, `steps_per_epoch` and `validation_steps`
        default to the config's (Hyperband passes its own `epochs`).

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model `build` returned.
            *args, **kwargs: `model.fit`'s arguments (the tuner passes its callbacks).

        Returns:
            the `keras.callbacks.History`.
        """
        config = self.trial_config(hp)
        if not args and "x" not in kwargs:
            train, validation = run.make_datasets(config, self.splits)
            args = (train,)
            kwargs.setdefault("validation_data", validation)
        kwargs.setdefault("epochs", config.epochs)
        kwargs.setdefault("steps_per_epoch", config.steps_per_epoch)
        kwargs.setdefault("validation_steps", config.validation_steps)
        # A diverged trial fails with the step it diverged at, instead of scoring NaN.
        kwargs["callbacks"] = [run_callbacks.StopOnNonFiniteLoss(), *kwargs.get("callbacks", [])]
        return model.fit(*args, **kwargs)


class SearchStopped(RuntimeError):
    """Too many trials failed in a row; the search state is saved and can be resumed.

    Example:
    >>> str(SearchStopped("3 trials failed in a row"))
    '3 trials failed in a row'
    """


class _ReportingMixin:
    """Tuner additions: failures printed as they happen, no model built to read the space.

    KerasTuner marks a failed trial FAILED with score None and goes on; here each
    failure is printed with its error, and `max_failures` failures in a row stop
    the search (after the oracle has saved the trial) with `SearchStopped`. See `make_tuner`.
    """

    max_failures = 0
    _failures_in_a_row = 0
    trials_run = ()

    def _populate_initial_space(self):
        # KerasTuner builds the model once to discover the hyperparameters; a
        # MAGAN build costs seconds and the space is known from the file.
        if self.hypermodel is None:
            return
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.trials_run = (*self.trials_run, trial.trial_id)
        status = self.oracle.get_trial(trial.trial_id).status
        if status == keras_tuner.engine.trial.TrialStatus.COMPLETED:
            self._failures_in_a_row = 0
            return
        self._failures_in_a_row += 1
        error = last_error_line(trial.message) or "the objective was not a finite number"
        print(f"\nTrial {trial.trial_id} FAILED: {error}", flush=True)
        if self.max_failures and self._failures_in_a_row >= self.max_failures:
            raise SearchStopped(
                f"{self._failures_in_a_row} trials failed in a row (--max-failures {self.max_failures}); "
                f"the last error: {error}"
            )


class BayesianTuner(_ReportingMixin, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` with visible failures (its arguments; see `make_tuner`).

    Example:
    >>> issubclass(BayesianTuner, keras_tuner.BayesianOptimization)
    True
    """


class RandomTuner(_ReportingMixin, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` with visible failures (its arguments; see `make_tuner`).

    Example:
    >>> issubclass(RandomTuner, keras_tuner.RandomSearch)
    True
    """


class HyperbandTuner(_ReportingMixin, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` with visible failures (its arguments; see `make_tuner`).

    Example:
    >>> issubclass(HyperbandTuner, keras_tuner.Hyperband)
    True
    """


def last_error_line(message):
    """The exception line of a KerasTuner trial message (a traceback), or ''.

    Args:
        message: str or None, a trial's `message`.

    Example:
    >>> last_error_line("Traceback (most recent call last):\\n  ...\\nValueError: bad gamma\\n")
    'ValueError: bad gamma'
    """
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def default_initial_points(num_hyperparameters, max_trials):
    """Random trials before the Gaussian process takes over.

    KerasTuner's default, 3 per hyperparameter (9 for the paper's space), turns a
    search of 10 trials into a random search. Here: half the trials, at most 3
    per hyperparameter, at least 2.

    Args:
        num_hyperparameters: int, the searched hyperparameters.
        max_trials: int, the search's trials.

    Example:
    >>> default_initial_points(3, 10)
    5
    """
    return max(2, min(3 * num_hyperparameters, max_trials // 2))


def make_tuner(
    kind,
    hypermodel,
    objective="ssim",
    max_trials=10,
    directory="runs/tune",
    project_name="search",
    initial_points=None,
    hyperband_factor=3,
    max_epochs=None,
    seed=1,
    max_failures=3,
    distribution_strategy=None,
    overwrite=False,
):
    """A tuner of `kind` (`bayesian`, `random`, `hyperband`) over `hypermodel`.

    Args:
        kind: `bayesian`, `random` or `hyperband`.
        hypermodel: `MAGANHyperModel`.
        objective: `ssim`, `psnr` or `l1`.
        directory, project_name: the search is kept in `directory/project_name` (reloaded
            from there unless `overwrite`).
        max_trials: trials of a Bayesian or random search (Hyperband's count
            follows from `max_epochs` and `hyperband_factor`).
        initial_points: random trials before the Bayesian model (default
            `default_initial_points`).
        max_epochs: Hyperband's largest budget (default the config's `epochs`).
        seed: the oracle's seed (KerasTuner treats 0 as "random").
        max_failures: stop after this many failed trials in a row (0: never).
        distribution_strategy: a `tf.distribute.Strategy` for each trial, or None.
        overwrite: delete a saved search in the folder first.

    Example:
    >>> from magan_keras.tuning.search_space import load_space
    >>> from magan_keras.training.config import TrainConfig
    >>> hypermodel = MAGANHyperModel(TrainConfig(epochs=4), load_space("paper"))
    >>> tuner = make_tuner("hyperband", hypermodel, directory="runs/tune")
    >>> type(tuner).__name__, tuner.oracle.max_epochs
    ('HyperbandTuner', 4)
    """
    if kind not in TUNERS:
        raise ValueError(f"tuner must be one of {list(TUNERS)}, got {kind!r}")
    common = dict(
        hypermodel=hypermodel,
        objective=make_objective(objective),
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        distribution_strategy=distribution_strategy,
        # Failures are counted by the mixin (after the oracle has saved them);
        # the oracle's own count raises before saving.
        max_consecutive_failed_trials=None,
    )
    if kind == "bayesian":
        points = initial_points or default_initial_points(len(hypermodel.space.names), max_trials)
        tuner = BayesianTuner(max_trials=max_trials, num_initial_points=points, **common)
    elif kind == "random":
        tuner = RandomTuner(max_trials=max_trials, **common)
    else:
        tuner = HyperbandTuner(
            max_epochs=max_epochs or hypermodel.config.epochs,
            factor=hyperband_factor,
            hyperband_iterations=1,
            **common,
        )
    tuner.max_failures = max_failures
    return tuner
