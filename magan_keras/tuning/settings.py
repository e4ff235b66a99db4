"""What a search depends on: `TuneSettings`, built and validated by `make_settings`.

The training options of every trial merge in this order: `TrainConfig`'s defaults < the
search's own small defaults (`TUNE_DEFAULTS`, a quick CPU search) < a config file < the
options given explicitly. An option the search space searches cannot be given as well.

Example:
>>> settings = make_settings(tuner="random", max_trials=4, options={"epochs": 2})
>>> settings.tuner, settings.max_trials, settings.config.epochs, settings.config.image_size
('random', 4, 2, 32)
>>> settings.space.names
['gamma', 'alpha', 'beta']
"""

import dataclasses
import json
import os

from magan_keras.training.config import TrainConfig
from magan_keras.tuning import search_space as spaces

SETTINGS_FILE = "search.json"
PROJECT_NAME = "search"
OBJECTIVE_CHOICES = ("ssim", "psnr", "l1")
TUNER_CHOICES = ("bayesian", "random", "hyperband")
# A small search that fits a 2-core CPU in minutes; any option overrides these.
TUNE_DEFAULTS = dict(
    image_size=32,
    base_filters=8,
    res_blocks=2,
    batch_size=8,
    epochs=3,
    steps_per_epoch=40,
    validation_steps=8,
)
DEFAULT_MAX_TRIALS = 10
# Options that are the command's own (not TrainConfig fields a trial uses).
OWN_FIELDS = ("output_dir", "overwrite")
# Fields left out of the best config: the search's own budget and output folder.
NOT_IN_BEST_CONFIG = ("output_dir", "overwrite", "epochs", "steps_per_epoch", "validation_steps", "strategy")
# Fields that may differ between the processes or runs of one search.
NOT_COMPARED = ("output_dir", "overwrite", "tfds_data_dir", "strategy")


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_validation_split(config) -> None:
    """Trials are ranked on the validation split: split options that leave it empty are refused here."""
    if config.validation_data_dir is not None:
        return
    if config.split_file is not None:
        from tfds_brats.splits import read_split_file  # pylint: disable=import-outside-toplevel

        if "validation" not in read_split_file(config.split_file)[0].values():
            raise ValueError(
                f"the search ranks trials on the validation split, and {config.split_file} gives it no subject"
            )
    elif config.split_fractions is not None and config.split_fractions[1] == 0:
        raise ValueError(
            f"the search ranks trials on the validation split, and split_fractions {config.split_fractions} "
            "leave it empty; give it a fraction or --validation-data-dir"
        )


@dataclasses.dataclass
class TuneSettings:
    """Everything a search depends on, validated when made.

    Args:
        config: `TrainConfig`, the options of every trial (the searched ones are replaced).
        space: `search_space.SearchSpace`, the searched options and their ranges.
        tuner: one of `TUNER_CHOICES`.
        objective: one of `OBJECTIVE_CHOICES` (validation SSIM, PSNR or L1).
        max_trials: trials of a Bayesian or random search.
        initial_points: random trials before the Bayesian model takes over (None: the default).
        hyperband_factor: Hyperband's reduction factor.
        max_failures: stop after this many failed trials in a row; 0 never stops.
        output_dir: the search folder.
        overwrite: delete the search in `output_dir` and start afresh.
        verbose: Keras fit verbosity, 0, 1 or 2.

    Raises:
        ValueError: naming the first bad value.

    Example:
    >>> settings = TuneSettings(TrainConfig(), spaces.load_space("paper"), output_dir="/tmp/tune")
    >>> settings.project_dir
    '/tmp/tune/search'
    >>> TuneSettings(TrainConfig(), spaces.load_space("paper"), tuner="grid")
    Traceback (most recent call last):
    ...
    ValueError: tuner must be one of ('bayesian', 'random', 'hyperband'), got 'grid'
    """

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

    def __post_init__(self):
        _check_validation_split(self.config)
        if self.tuner not in TUNER_CHOICES:
            raise ValueError(f"tuner must be one of {TUNER_CHOICES}, got {self.tuner!r}")
        if self.objective not in OBJECTIVE_CHOICES:
            raise ValueError(f"objective must be one of {OBJECTIVE_CHOICES}, got {self.objective!r}")
        _check_int("max_trials", self.max_trials, 1)
        if self.initial_points is not None:
            _check_int("initial_points", self.initial_points, 1)
        _check_int("hyperband_factor", self.hyperband_factor, 2 if self.tuner == "hyperband" else 1)
        _check_int("max_failures", self.max_failures, 0)
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        if self.config.strategy == "multi_worker":
            raise ValueError("strategy multi_worker is not supported by the tuner; use the distributed search instead")

    @property
    def project_dir(self):
        """KerasTuner's project folder inside `output_dir` (trials and `oracle.json`)."""
        return os.path.join(self.output_dir, PROJECT_NAME)

    def identity(self):
        """What makes two runs the same search (compared when a search is resumed).

        Example:
        >>> identity = TuneSettings(TrainConfig(), spaces.load_space("paper")).identity()
        >>> sorted(identity), "output_dir" in identity["config"]
        (['config', 'objective', 'space', 'tuner'], False)
        """
        config = {k: v for k, v in self.config.to_dict().items() if k not in NOT_COMPARED}
        identity = {"tuner": self.tuner, "objective": self.objective, "space": self.space.to_dict(), "config": config}
        if self.tuner == "hyperband":
            identity["hyperband_factor"] = self.hyperband_factor
        return identity


def make_settings(
    search_space=spaces.DEFAULT_SPACE,
    tuner="bayesian",
    objective="ssim",
    max_trials=None,
    initial_points=None,
    hyperband_factor=3,
    max_failures=3,
    output_dir="runs/tune",
    overwrite=False,
    verbose=1,
    config_file=None,
    options=None,
):
    """Validated `TuneSettings`: TrainConfig defaults < `TUNE_DEFAULTS` < `config_file` < `options`.

    Args:
        search_space: a built-in space name (`paper`, `extended`) or a `.toml`/`.json` file.
        tuner, objective, initial_points, hyperband_factor, max_failures, overwrite, verbose:
            as in `TuneSettings`.
        max_trials: as in `TuneSettings`; None means `DEFAULT_MAX_TRIALS` (and must be None for hyperband,
            whose budget follows from `epochs` and `hyperband_factor`).
        output_dir: the search folder (made absolute, `~` expanded).
        config_file: a TOML or JSON training config, a preset folder or handle (its
            `training_config.json`), or None; only the keys it names override.
        options: `{TrainConfig field: value}` given explicitly (None values are ignored).

    Raises:
        ValueError: a bad option, space file or config file (the message says which).

    Example:
    >>> make_settings(search_space="extended", options={"lambda_l1": 50.0})
    Traceback (most recent call last):
    ...
    ValueError: --lambda-l1 is searched by the space ...; leave the option out or use another space
    """
    space = spaces.load_space(search_space)
    values = {**TrainConfig().to_dict(), **TUNE_DEFAULTS}
    if config_file:
        from magan_keras.sharing import preset  # pylint: disable=import-outside-toplevel

        if preset.is_preset_source(config_file):  # a preset: the options its model was trained with
            config_file = preset.training_config_file(config_file)
        named = _file_keys(config_file)
        values.update({k: v for k, v in TrainConfig.from_file(config_file).to_dict().items() if k in named})
    explicit = {
        k: v
        for k, v in (options or {}).items()
        if k in TrainConfig.field_names() and k not in OWN_FIELDS and v is not None
    }
    clash = sorted(set(explicit) & set(space.names))
    if clash:
        flags = ", ".join("--" + name.replace("_", "-") for name in clash)
        raise ValueError(f"{flags} is searched by the space {space.source}; leave the option out or use another space")
    values.update(explicit)
    config = TrainConfig.from_dict({k: v for k, v in values.items() if k not in OWN_FIELDS})
    if config.strategy == "multi_worker":
        raise ValueError("strategy multi_worker is not supported by the tuner; use the distributed search instead")
    if tuner == "hyperband" and max_trials is not None:
        raise ValueError(
            "--max-trials does not apply to hyperband: its budget follows from --epochs and --hyperband-factor"
        )
    if tuner == "hyperband" and hyperband_factor < 2:
        raise ValueError("--hyperband-factor must be at least 2")
    return TuneSettings(
        config=config,
        space=space,
        tuner=tuner,
        objective=objective,
        max_trials=DEFAULT_MAX_TRIALS if max_trials is None else max_trials,
        initial_points=initial_points,
        hyperband_factor=hyperband_factor,
        max_failures=max_failures,
        output_dir=os.path.abspath(os.path.expanduser(output_dir)),
        overwrite=overwrite,
        verbose=verbose,
    )


def _file_keys(path):
    """The keys a config file sets (so the file overrides only what it names).

    Args:
        path: a `.toml` or `.json` training config.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "c.json")
    >>> _ = open(path, "w").write('{"epochs": 2}')
    >>> _file_keys(path)
    {'epochs'}
    """
    try:
        if os.fspath(path).endswith(".toml"):
            import tomllib

            with open(path, "rb") as f:
                return set(tomllib.load(f))
        with open(path) as f:
            return set(json.load(f))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read config file {path}: {error}") from error
