"""Making and running a search: `prepare` checks and claims the folder, `run_search` runs it.

With the settings of `magan_keras.tuning.settings`, a search folder is checked and claimed
(`prepare`), the saved state of an earlier run is repaired (`oracle.repair_oracle_state`),
the tuner is made over `MAGANHyperModel` (`make_search`) and run in this process's role:
the whole search (`single`), KerasTuner's chief serving the oracle (`chief`) or a worker
taking trials from it (`worker`). The reports are written at the end (not by a worker).

Example:
>>> import os, tempfile
>>> from magan_keras.tuning.settings import make_settings
>>> settings = make_settings(tuner="random", max_trials=2, output_dir=os.path.join(tempfile.mkdtemp(), "tune"))
>>> prepare(settings)
>>> hypermodel, tuner = make_search(settings)
>>> tuner.oracle.get_space().space[0].name, tuner.oracle.max_trials
('gamma', 2)
>>> # result = run_search(settings)  # trains the trials: a few minutes on a CPU
"""

import dataclasses
import os

from magan_keras.tuning.folder import prepare_output_dir, trial_statuses
from magan_keras.tuning.oracle import protect_oracle_file, repair_oracle_state
from magan_keras.tuning.serve import distributed_role, serve_oracle
from magan_keras.tuning.settings import PROJECT_NAME

ROLES = ("single", "chief", "worker")


@dataclasses.dataclass
class SearchResult:
    """What `run_search` did.

    Args:
        role: `single`, `chief` or `worker`.
        rows: the leaderboard rows (`reports.trial_rows`), best first; empty for a worker.
        paths: `{key: path}` of the report files written; empty for a worker.
        stopped: why the search stopped early (failures in a row, the chief stopped), or None.
        trials_run: the ids of the trials this process trained.

    Example:
    >>> SearchResult("single", rows=[{"score": 0.5}]).finished
    True
    """

    role: str
    rows: list = dataclasses.field(default_factory=list)
    paths: dict = dataclasses.field(default_factory=dict)
    stopped: str | None = None
    trials_run: tuple = ()

    @property
    def finished(self):
        """Whether at least one trial finished with a score."""
        return any(row["score"] is not None for row in self.rows)


def prepare(settings, role="single"):
    """Checks the role against `settings` and claims the search folder (before any work).

    Args:
        settings: `TuneSettings`.
        role: one of `ROLES` (`serve.distributed_role()`).

    Raises:
        ValueError: `overwrite` in a distributed search, or the folder is refused
            (`folder.SearchFolderError`, the message says why).

    Example:
    >>> import tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> prepare(make_settings(output_dir=tempfile.mkdtemp(), overwrite=True), role="worker")
    Traceback (most recent call last):
    ...
    ValueError: --overwrite in a distributed search would let every process delete the folder; ...
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if role != "single" and settings.overwrite:
        raise ValueError(
            "--overwrite in a distributed search would let every process delete the folder; clear it once "
            "before launching (python -m tuning.launch_distributed --overwrite does)"
        )
    prepare_output_dir(settings, overwrite=settings.overwrite)


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
    """The hypermodel and tuner of `settings` (the folder must be prepared); a saved search is reloaded.

    Args:
        settings: `TuneSettings`.
        role: one of `ROLES`. A worker never stops the search on failures (they use up trials),
            and the chief, which never trains, gets no distribution strategy.

    Returns:
        `(MAGANHyperModel, tuner)`.

    Example:
    >>> import tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> settings = make_settings(tuner="hyperband", output_dir=tempfile.mkdtemp())
    >>> hypermodel, tuner = make_search(settings)
    >>> type(tuner).__name__, hypermodel.config.image_size
    ('HyperbandTuner', 32)
    """
    from magan_keras.tuning.hypermodel import MAGANHyperModel, make_tuner

    hypermodel = MAGANHyperModel(settings.config, settings.space)
    tuner = make_tuner(
        settings.tuner,
        hypermodel,
        objective=settings.objective,
        max_trials=settings.max_trials,
        directory=settings.output_dir,
        project_name=PROJECT_NAME,
        initial_points=settings.initial_points,
        hyperband_factor=settings.hyperband_factor,
        seed=settings.config.seed + 1,
        # A worker cannot stop the search for everybody; failures then use up trials.
        max_failures=settings.max_failures if role == "single" else 0,
        distribution_strategy=None if role == "chief" else _strategy(settings.config),
    )
    if role != "worker":  # a worker's oracle is a client of the chief's
        protect_oracle_file(tuner.oracle)
    return hypermodel, tuner


def _search_callbacks(settings):
    import keras

    if keras.backend.backend() != "tensorflow":
        return []
    # KerasTuner gives each trial its own log folder and adds the HParams dashboard.
    return [keras.callbacks.TensorBoard(os.path.join(settings.output_dir, "logs"), write_graph=False, profile_batch=0)]


def run_search(settings, role=None):
    """Runs (or resumes) the search of `settings` in this process's role; writes the reports.

    Finished trials of an earlier run are kept; a trial whose process was killed runs again.
    Call `prepare` first.

    Args:
        settings: `TuneSettings`.
        role: one of `ROLES`; default `serve.distributed_role()`.

    Returns:
        `SearchResult`.

    Example:
    >>> import tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> settings = make_settings(max_trials=1, output_dir=tempfile.mkdtemp(), verbose=0,
    ...                          options={"image_size": 16, "base_filters": 4, "res_blocks": 0, "num_subjects": 6,
    ...                                   "epochs": 1, "steps_per_epoch": 1, "validation_steps": 1})
    >>> prepare(settings)
    >>> run_search(settings).finished  # doctest: +SKIP
    True
    """
    from magan_keras.tuning import reports
    from magan_keras.tuning.hypermodel import SearchStopped

    role = role or distributed_role()
    if role != "worker":  # a worker's oracle is the chief's; only the chief's process may touch its file
        statuses = trial_statuses(settings.project_dir)
        repair_oracle_state(settings.project_dir, statuses)
        done = sum(s in ("COMPLETED", "FAILED") for s in statuses.values())
        if done:
            print(f"Resuming the search in {settings.output_dir}: {done} finished trials are kept.", flush=True)
    hypermodel, tuner = make_search(settings, role)
    stopped = None
    if role == "chief":
        hypermodel.splits  # noqa: B018 - prepare the data once, before any worker starts
        stopped = serve_oracle(tuner, verbose=settings.verbose)
    else:
        try:
            tuner.search(callbacks=_search_callbacks(settings), verbose=settings.verbose)
        except SearchStopped as error:
            stopped = str(error)
    if role == "worker":
        return SearchResult(role, stopped=stopped, trials_run=tuple(tuner.trials_run))
    rows, paths = reports.write_reports(tuner.oracle, settings)
    return SearchResult(role, rows=rows, paths=paths, stopped=stopped, trials_run=tuple(tuner.trials_run))
