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
(`gamma` in [0, 1], positive learning rate...). Data, size and budget options
(`image_size`, `epochs`, ...) cannot be searched: they are the command's options.
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
    "data_dir", "dataset", "tfds_data_dir", "num_subjects", "image_size", "scenario", "target",
    "epochs", "steps_per_epoch", "validation_steps", "strategy", "seed", "output_dir", "overwrite",
)


class SearchSpaceError(ValueError):
    """A search space file is unreadable or invalid; the message names the file."""


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One searched `TrainConfig` field and its range."""

    name: str
    type: str
    min: float | int | None = None
    max: float | int | None = None
    sampling: str = "linear"
    step: float | int | None = None
    values: tuple = ()
    default: object = None

    def declare(self, hp):
        """Registers this hyperparameter on a `keras_tuner.HyperParameters`; returns its value."""
        if self.type == "float":
            return hp.Float(self.name, self.min, self.max, step=self.step, sampling=self.sampling, default=self.default)
        if self.type == "int":
            return hp.Int(self.name, self.min, self.max, step=self.step, sampling=self.sampling, default=self.default)
        if self.type == "choice":
            return hp.Choice(self.name, list(self.values), default=self.default)
        return hp.Boolean(self.name, default=bool(self.default))

    @property
    def is_log(self):
        return self.sampling in ("log", "reverse_log")

    def contains(self, value):
        """Whether `value` lies in this hyperparameter's range."""
        if self.type in ("float", "int"):
            return _is_number(value) and self.min - 1e-12 <= value <= self.max + 1e-12
        if self.type == "choice":
            return value in self.values
        return isinstance(value, bool)

    def describe(self):
        """A short human-readable range, e.g. `float in [0.01, 100] (log)`."""
        if self.type in ("float", "int"):
            text = f"{self.type} in [{self.min:g}, {self.max:g}]"
            if self.step:
                text += f" step {self.step:g}"
            return text + (f" ({self.sampling})" if self.sampling != "linear" else "")
        if self.type == "choice":
            return "one of " + ", ".join(str(v) for v in self.values)
        return "true or false"

    def to_dict(self):
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
    """A validated search space: `{name: Hyperparameter}` plus where it came from."""

    name: str
    source: str
    description: str
    hyperparameters: dict

    @property
    def names(self):
        return list(self.hyperparameters)

    def to_dict(self):
        """The ranges only (what makes two spaces the same search)."""
        return {name: spec.to_dict() for name, spec in self.hyperparameters.items()}

    def contains(self, values):
        """Whether every searched value in `values` lies in its range."""
        return all(spec.contains(values[name]) for name, spec in self.hyperparameters.items())


def builtin_spaces_dir():
    """The folder of the built-in spaces (inside the installed `tuning` package)."""
    import importlib.resources

    return str(importlib.resources.files("tuning") / "spaces")


def builtin_space_names():
    folder = builtin_spaces_dir()
    if not os.path.isdir(folder):
        return []
    return sorted(f[: -len(".toml")] for f in os.listdir(folder) if f.endswith(".toml"))


def resolve_space(name_or_path):
    """The file of a space given by built-in name (`paper`) or by path."""
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

    Raises:
        SearchSpaceError: the file is missing, unreadable, or invalid (the message names it).
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


def space_from_dict(values, source="<dict>", name="custom"):
    """Validates a parsed space (`{"description": ..., "hyperparameters": {...}}`)."""

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
    defaults = TrainConfig()
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
                if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
                    fail(f"{where}: {key} must be an integer, got {value!r}")
                if not _is_number(value) or not math.isfinite(value):
                    fail(f"{where}: {key} must be a finite number, got {value!r}")
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
            try:
                defaults.replace(**{hp_name: value})
            except ValueError as error:
                fail(f"{where}: the value {value!r} is not a valid {hp_name}: {error}")
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
