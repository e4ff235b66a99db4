"""Search spaces of `python -m magan_keras.tune`: validated files of hyperparameter ranges.

A search space is a TOML (or JSON) file with an optional `description` and one
table per hyperparameter under `hyperparameters`; each name is a `TrainConfig`
field. The built-in spaces live in the `tuning` package (`tuning/spaces/*.toml`),
so they are found from a wheel too; `load_space("paper")` loads one by name,
`load_space("my_space.toml")` a file.

Example (`tuning/spaces/paper.toml`, shortened):

    description = "the three weights the paper introduces"

    [hyperparameters.gamma]
    type = "float"
    min = 0.0
    max = 1.0

    [hyperparameters.alpha]
    type = "float"
    min = 0.01
    max = 100.0
    sampling = "log"

Types and their keys:
- `float`: `min`, `max`, optional `sampling` (`linear`, `log`, `reverse_log`), `step`, `default`.
- `int`: `min`, `max`, optional `sampling`, `step`, `default`.
- `choice`: `values` (a list of numbers, strings or booleans of one kind), optional `default`.
- `boolean`: optional `default`.

Every value a hyperparameter can take must be valid for its `TrainConfig` field
(`gamma` in [0, 1], positive learning rate...): a range's `min` and `max` and every
choice go through `TrainConfig`, so through `magan_keras.models.presets.validate_options`,
which bounds the sizes (`res_blocks` <= 64, `base_filters` <= 1024); a space with
`res_blocks` up to 1e8 is refused when loaded, with the accepted range in the message.
Data, size and budget options (`image_size`, `epochs`, ...) cannot be searched: they are
the command's options.

>>> space = load_space("paper")
>>> space.names, space.hyperparameters["alpha"].describe()
(['gamma', 'alpha', 'beta'], 'float in [0.01, 100] (log)')
>>> space_from_dict({"hyperparameters": {"res_blocks": {"type": "int", "min": 1, "max": 10**8}}})
Traceback (most recent call last):
...
magan_keras.tuning.search_space.SearchSpaceError: ... res_blocks must be an integer in [0, 64], got 100000000
"""

import dataclasses
import json
import math
import os

from magan_keras.training.config import TrainConfig

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

DEFAULT_SPACE = "paper"
TYPES = ("float", "int", "choice", "boolean")
SAMPLINGS = ("linear", "log", "reverse_log")
KEYS = {
    "float": {"type", "min", "max", "sampling", "step", "default"},
    "int": {"type", "min", "max", "sampling", "step", "default"},
    "choice": {"type", "values", "default"},
    "boolean": {"type", "default"},
}
# Options that define the task, the data or the budget of a trial: fixed for a search.
NOT_SEARCHABLE = (
    "data_dir",
    "dataset",
    "tfds_data_dir",
    "num_subjects",
    "image_size",
    "scenario",
    "target",
    "epochs",
    "steps_per_epoch",
    "validation_steps",
    "strategy",
    "seed",
    "output_dir",
    "overwrite",
)


_DEFAULTS = TrainConfig()


class SearchSpaceError(ValueError):
    """A search space file is unreadable or invalid; the message names the file.

    Example:
    >>> issubclass(SearchSpaceError, ValueError)
    True
    """


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One searched `TrainConfig` field and its range (made by `space_from_dict`, which validates it).

    Args:
        name: the `TrainConfig` field.
        type: `float`, `int`, `choice` or `boolean`.
        min, max: a `float` or `int` range's ends.
        sampling: `linear`, `log` or `reverse_log`.
        step: a range's step (a factor with log sampling), or None.
        values: a `choice`'s values.
        default: the value KerasTuner starts from, or None.

    Example:
    >>> Hyperparameter("gamma", "float", min=0.0, max=1.0).describe()
    'float in [0, 1]'
    """

    name: str
    type: str
    min: float | int | None = None
    max: float | int | None = None
    sampling: str = "linear"
    step: float | int | None = None
    values: tuple = ()
    default: object = None

    def declare(self, hp):
        """Registers this hyperparameter on a `keras_tuner.HyperParameters`; returns its value.

        Args:
            hp: `keras_tuner.HyperParameters`.

        Example:
        >>> import keras_tuner
        >>> Hyperparameter("res_blocks", "int", min=1, max=3).declare(keras_tuner.HyperParameters())
        1
        """
        if self.type == "float":
            return hp.Float(self.name, self.min, self.max, step=self.step, sampling=self.sampling, default=self.default)
        if self.type == "int":
            return hp.Int(self.name, self.min, self.max, step=self.step, sampling=self.sampling, default=self.default)
        if self.type == "choice":
            return hp.Choice(self.name, list(self.values), default=self.default)
        return hp.Boolean(self.name, default=bool(self.default))

    @property
    def is_log(self):
        """Whether the range is sampled on a log scale."""
        return self.sampling in ("log", "reverse_log")

    def contains(self, value):
        """Whether `value` lies in this hyperparameter's range.

        Args:
            value: a candidate value.

        Example:
        >>> Hyperparameter("gan_loss", "choice", values=("vanilla", "lsgan")).contains("wgan")
        False
        """
        if self.type in ("float", "int"):
            return _is_number(value) and self.min - 1e-12 <= value <= self.max + 1e-12
        if self.type == "choice":
            return value in self.values
        return isinstance(value, bool)

    def describe(self):
        """A short human-readable range, e.g. `float in [0.01, 100] (log)`.

        Example:
        >>> Hyperparameter("lr_decay", "choice", values=("none", "linear")).describe()
        'one of none, linear'
        """
        if self.type in ("float", "int"):
            text = f"{self.type} in [{self.min:g}, {self.max:g}]"
            if self.step:
                text += f" step {self.step:g}"
            return text + (f" ({self.sampling})" if self.sampling != "linear" else "")
        if self.type == "choice":
            return "one of " + ", ".join(str(v) for v in self.values)
        return "true or false"

    def to_dict(self):
        """The file form of this hyperparameter (without its name).

        Example:
        >>> Hyperparameter("augment", "boolean", default=True).to_dict()
        {'type': 'boolean', 'default': True}
        """
        out = {"type": self.type}
        if self.type in ("float", "int"):
            out.update(min=self.min, max=self.max, sampling=self.sampling)
            if self.step is not None:
                out["step"] = self.step
        if self.type == "choice":
            out["values"] = list(self.values)
        if self.default is not None:
            out["default"] = self.default
        return out


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """A validated search space: `{name: Hyperparameter}` plus where it came from.

    Args:
        name: the space's name (its file name without the extension).
        source: the file it was read from.
        description: the file's `description`.
        hyperparameters: `{name: Hyperparameter}`, in the file's order.

    Example:
    >>> load_space("extended").names[:3]
    ['gamma', 'alpha', 'beta']
    """

    name: str
    source: str
    description: str
    hyperparameters: dict

    @property
    def names(self):
        """The searched fields, in the file's order."""
        return list(self.hyperparameters)

    def to_dict(self):
        """The ranges only (what makes two spaces the same search).

        Example:
        >>> load_space("paper").to_dict()["gamma"]
        {'type': 'float', 'min': 0.0, 'max': 1.0, 'sampling': 'linear', 'default': 0.5}
        """
        return {name: spec.to_dict() for name, spec in self.hyperparameters.items()}

    def contains(self, values):
        """Whether every searched value in `values` lies in its range.

        Args:
            values: `{name: value}` with a value for every searched name.

        Example:
        >>> load_space("paper").contains({"gamma": 0.5, "alpha": 1.0, "beta": 200.0})
        False
        """
        return all(spec.contains(values[name]) for name, spec in self.hyperparameters.items())


def builtin_spaces_dir():
    """The folder of the built-in spaces (inside the installed `tuning` package).

    Example:
    >>> import os
    >>> os.path.basename(builtin_spaces_dir())
    'spaces'
    """
    import importlib.resources

    return str(importlib.resources.files("tuning") / "spaces")


def builtin_space_names():
    """The names of the built-in spaces.

    Example:
    >>> builtin_space_names()
    ['extended', 'paper']
    """
    folder = builtin_spaces_dir()
    if not os.path.isdir(folder):
        return []
    return sorted(f[: -len(".toml")] for f in os.listdir(folder) if f.endswith(".toml"))


def resolve_space(name_or_path):
    """The file of a space given by built-in name (`paper`) or by path.

    Args:
        name_or_path: a built-in name, or a path (anything with a `/` or a `.toml`/`.json` end).

    Raises:
        SearchSpaceError: no such file or built-in space.

    Example:
    >>> import os
    >>> os.path.basename(resolve_space("paper"))
    'paper.toml'
    """
    text = os.fspath(name_or_path)
    looks_like_path = os.sep in text or "/" in text or text.endswith((".toml", ".json"))
    if looks_like_path or os.path.isfile(text):
        path = os.path.expanduser(text)
        if not os.path.isfile(path):
            raise SearchSpaceError(f"search space file {path} does not exist")
        return path
    path = os.path.join(builtin_spaces_dir(), f"{text}.toml")
    if not os.path.isfile(path):
        raise SearchSpaceError(
            f"no built-in search space called {text!r}; built-in spaces are {builtin_space_names()}, "
            "or give the path of a .toml or .json file"
        )
    return path


def load_space(name_or_path=DEFAULT_SPACE):
    """Reads and validates a search space by built-in name or path; returns a `SearchSpace`.

    Args:
        name_or_path: a built-in name (`paper`, `extended`) or a `.toml`/`.json` file.

    Raises:
        SearchSpaceError: the file is missing, unreadable, or invalid (the message names it).

    Example:
    >>> load_space("paper").source.endswith("paper.toml")
    True
    """
    path = resolve_space(name_or_path)
    try:
        if path.endswith(".json"):
            with open(path) as f:
                values = json.load(f)
        else:
            if tomllib is None:
                raise ValueError("TOML search spaces need Python 3.11+ (or the tomli package); use JSON")
            with open(path, "rb") as f:
                values = tomllib.load(f)
    except (OSError, ValueError) as error:
        raise SearchSpaceError(f"cannot read search space {path}: {error}") from error
    name = os.path.splitext(os.path.basename(path))[0]
    return space_from_dict(values, source=path, name=name)


def check_value(where, name, value, fail, key="value"):
    """Checks one value a hyperparameter can take with `TrainConfig` (so with `validate_options`'s bounds).

    Args:
        where: str, the place in the file (`hyperparameters.res_blocks`).
        name: str, the `TrainConfig` field.
        value: the value (a range's `min` or `max`, a choice).
        fail: callable taking the message; raises.
        key: str, what the value is in the file (`min`, `max`, `value`).

    Example:
    >>> def fail(message):
    ...     raise SearchSpaceError(message)
    >>> check_value("hyperparameters.res_blocks", "res_blocks", 10**8, fail, key="max")
    Traceback (most recent call last):
    ...
    magan_keras.tuning.search_space.SearchSpaceError: ...: max 100000000 is not a valid res_blocks: ... [0, 64], ...
    """
    try:
        _DEFAULTS.replace(**{name: value})
    except ValueError as error:
        fail(f"{where}: {key} {value!r} is not a valid {name}: {error}")


def space_from_dict(values, source="<dict>", name="custom"):
    """Validates a parsed space (`{"description": ..., "hyperparameters": {...}}`); returns a `SearchSpace`.

    Args:
        values: the parsed file.
        source: where it came from (named in error messages).
        name: the space's name.

    Raises:
        SearchSpaceError: naming `source`, the hyperparameter and the problem.

    Example:
    >>> space = space_from_dict({"hyperparameters": {"base_filters": {"type": "choice", "values": [8, 16]}}})
    >>> space.hyperparameters["base_filters"].describe()
    'one of 8, 16'
    """

    def fail(message):
        raise SearchSpaceError(f"search space {source}: {message}")

    if not isinstance(values, dict):
        fail("must hold a table of keys")
    unknown = sorted(set(values) - {"description", "hyperparameters"})
    if unknown:
        fail(f"unknown top-level keys {unknown}; valid keys are ['description', 'hyperparameters']")
    description = values.get("description", "")
    if not isinstance(description, str):
        fail("description must be a string")
    table = values.get("hyperparameters")
    if not isinstance(table, dict) or not table:
        fail("needs a non-empty [hyperparameters] table, one sub-table per searched option")
    field_types = TrainConfig.field_types()
    defaults = _DEFAULTS
    specs = {}
    for hp_name, spec in table.items():
        where = f"hyperparameters.{hp_name}"
        if hp_name not in field_types:
            fail(f"{where}: {hp_name!r} is not a training option; valid options are {TrainConfig.field_names()}")
        if hp_name in NOT_SEARCHABLE:
            fail(f"{where}: {hp_name!r} is fixed for a search (give it as a command option instead)")
        if not isinstance(spec, dict):
            fail(f"{where}: must be a table with a type")
        kind = spec.get("type")
        if kind not in TYPES:
            fail(f"{where}: type must be one of {list(TYPES)}, got {kind!r}")
        unknown = sorted(set(spec) - KEYS[kind])
        if unknown:
            fail(f"{where}: unknown keys {unknown} for type {kind!r}; valid keys are {sorted(KEYS[kind])}")
        field_type = field_types[hp_name]
        candidates = []
        fields = {"name": hp_name, "type": kind}
        if kind in ("float", "int"):
            if kind == "float" and field_type is not float:
                fail(f"{where}: {hp_name} takes {field_type.__name__} values, so type 'float' does not fit")
            if kind == "int" and field_type not in (int, float):
                fail(f"{where}: {hp_name} takes {field_type.__name__} values, so type 'int' does not fit")
            for key in ("min", "max"):
                if key not in spec:
                    fail(f"{where}: needs {key!r}")
                value = spec[key]
                if not _is_number(value) or not math.isfinite(value):
                    fail(f"{where}: {key} must be a finite number, got {value!r}")
                # The bounds first: `res_blocks` up to 1e8 is refused with the accepted range.
                check_value(where, hp_name, value, fail, key=key)
                if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
                    fail(f"{where}: {key} must be an integer, got {value!r}")
            low, high = spec["min"], spec["max"]
            if not low < high:
                fail(f"{where}: min ({low}) must be less than max ({high})")
            sampling = spec.get("sampling", "linear")
            if sampling not in SAMPLINGS:
                fail(f"{where}: sampling must be one of {list(SAMPLINGS)}, got {sampling!r}")
            if sampling != "linear" and low <= 0:
                fail(f"{where}: {sampling} sampling needs min > 0, got {low}")
            step = spec.get("step")
            if step is not None:
                if not _is_number(step) or step <= 0 or (kind == "int" and not isinstance(step, int)):
                    fail(f"{where}: step must be a positive {'integer' if kind == 'int' else 'number'}, got {step!r}")
                if sampling != "linear" and step <= 1:
                    fail(f"{where}: with {sampling} sampling the step is a factor and must be > 1, got {step}")
            if kind == "float":
                low, high = float(low), float(high)
                step = float(step) if step is not None else None
            fields.update(min=low, max=high, sampling=sampling, step=step)
            candidates = [low, high]
        elif kind == "choice":
            choices = spec.get("values")
            if not isinstance(choices, list) or not choices:
                fail(f"{where}: values must be a non-empty list")
            kinds = {type(v) for v in choices}
            if len(kinds) != 1 or not kinds <= {int, float, str, bool}:
                fail(f"{where}: values must all be numbers, all strings or all booleans, got {choices!r}")
            if len(set(choices)) != len(choices):
                fail(f"{where}: values repeat: {choices!r}")
            if field_type is float:
                if not all(_is_number(v) for v in choices):
                    fail(f"{where}: {hp_name} takes numbers, got {choices!r}")
            elif not all(type(v) is field_type for v in choices):
                fail(f"{where}: {hp_name} takes {field_type.__name__} values, got {choices!r}")
            fields["values"] = tuple(choices)
            candidates = list(choices)
        else:  # boolean
            if field_type is not bool:
                fail(f"{where}: {hp_name} takes {field_type.__name__} values, so type 'boolean' does not fit")
            candidates = [True, False]
        for value in candidates:
            check_value(where, hp_name, value, fail)
        default = spec.get("default", getattr(defaults, hp_name))
        spec_object = Hyperparameter(**fields)
        if "default" in spec:
            if not spec_object.contains(default) or (kind == "int" and not isinstance(default, int)):
                fail(f"{where}: default {default!r} is outside the range ({spec_object.describe()})")
        elif not spec_object.contains(default):
            default = None  # KerasTuner then starts from the range's lower end / first value
        if default is not None and kind == "float":
            default = float(default)
        specs[hp_name] = dataclasses.replace(spec_object, default=default)
    return SearchSpace(name=name, source=source, description=description, hyperparameters=specs)
