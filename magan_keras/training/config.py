"""The training configuration: one validated record shared by the CLI, the tuner and scripts."""

import dataclasses
import json
import math
import numbers
import os

from magan_keras.modalities import BRATS_MODALITIES, SCENARIOS
from magan_keras.models.presets import DEFAULT, validate_options
from magan_keras.training.distribution import STRATEGY_NAMES as STRATEGIES
from magan_keras.training.precision import PRECISIONS, resolve_precision

LR_DECAYS = ("none", "linear")

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None


# The phantom's subjects are split 80/10/10 into train, validation and test by subject
# (`tfds_brats.splits.split_counts`); each split gets one only from three subjects on.
MIN_PHANTOM_SUBJECTS = 3


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on; the defaults are the README's CPU demo.

    Field names are the command-line options with underscores (`--image-size` is
    `image_size`); a TOML or JSON file with these keys is accepted by
    `python -m magan_keras.train --config`.

    Data: `data_dir` (a BraTS folder, prepared on first use) or `dataset` (a prepared
    TFDS name such as `brats/slices_128`); neither means the built-in phantom with
    `num_subjects` subjects. `tfds_data_dir` is where TFDS keeps prepared data.
    `skip_bad_subjects` leaves out the subjects of `data_dir` that fail validation when it is
    prepared (as `python -m tfds_brats.prepare --skip-bad-subjects`), instead of stopping.
    Splits (`tfds_brats.splits`, as `prepare`'s options): `split_file` (CSV `subject_id,split` or
    JSON `{subject: split}`, every subject of `data_dir` or the phantom listed), `split_fractions`
    (train, validation, test; default 0.8, 0.1, 0.1), `validation_data_dir` / `test_data_dir`
    (folders whose subjects make that split; with `data_dir`). An empty validation split trains
    without validation (a warning; neither test nor training subjects stand in for it); an empty
    test split takes the test scores from the validation split, and with neither the test scores,
    evaluation and sample grids are left out (a warning); an empty train split is an error.

    Optimisation: Adam(`learning_rate`, beta_1=0.5) for G, D and SR. The default 1e-3 held
    for half the run and then decayed linearly to zero (`lr_decay="linear"`, pix2pix's
    policy) departs from the paper's constant 2e-4 (still `MAGAN.compile()`'s default): it
    was the best of those we measured at the demo's 1,200 steps (docs/results.md). For long
    runs at the paper's size, 2e-4 is the tested setting.

    Architecture: the paper's multi-branch generator plus one addition, `decoder_skip=True`
    (a full-resolution skip from each branch's first convolution to the decoder; not in the
    paper, whose generator `MAGAN(decoder_skip=False)` still builds). Over three seeds of the
    demo it added 0.02-0.05 slice SSIM on every contrast (docs/results.md). The single-input
    (pix2pix-style) generator has no branches: it needs `modal_attention=False` and
    `decoder_skip=False`.

    Loss: the paper's `L1 + GAN + SR` terms plus `lambda_ssim * (1 - SSIM)` (default 50; not
    in the paper, `lambda_ssim=0` and `MAGAN`'s class default leave it out). Over three seeds
    of the demo it added 0.06-0.08 in-brain slice SSIM per contrast and won T1Gd back from the
    linear baseline (docs/results.md).

    2.5-D context: `context_slices` K (default 0, the paper's 2-D model) gives each generator
    branch its contrast's K axial neighbours on each side; the data are prepared with the same
    K (`tfds_brats.prepare --context-slices K`, done by the run for `data_dir` and the phantom).

    Orientations: `planes` ("axial", the default; or e.g. "axial,coronal,sagittal") are the slice
    orientations of the training split (`tfds_brats.prepare --planes`, done by the run for
    `data_dir` and the phantom); the model records them and `synthesize --planes` reads them.

    Precision: `precision="auto"` (the default) is `mixed_bfloat16` (bfloat16 maths, float32
    weights and losses) on hardware with bfloat16 units (GPUs of compute capability 8.0 on; with
    the TensorFlow backend, CPUs with AVX512_BF16 or AMX) and `float32` elsewhere
    (`magan_keras.training.precision`); it is resolved here, so `config.precision` and a run's
    `config.json` name the one that trained.
    On the three real folds bfloat16 matched float32 within the fold spread (docs/results.md).

    Full resolution on crops: `crop_size` C (default 0, whole slices) trains on random C x C
    windows of the `image_size` slices (`magan_keras.data.make_dataset(crop_size=...)`) and
    validates, tests and synthesises whole slices; at `image_size=256` (the BraTS canvas) the
    model works on the scan's own 1 mm grid at the cost of a C px model per step. It needs
    `pooled_attention=True` (the size-free modal attention; the paper's dense one is tied to
    `image_size`) or no modal attention.

    Example:
    >>> config = TrainConfig.from_dict({"epochs": 2, "image_size": 32})
    >>> config.batch_size
    8
    >>> config.precision in ("float32", "mixed_bfloat16")
    True
    """

    # === Data ===
    data_dir: str | None = None
    dataset: str | None = None
    tfds_data_dir: str | None = None
    skip_bad_subjects: bool = False
    split_file: str | None = None
    split_fractions: tuple | None = None
    validation_data_dir: str | None = None
    test_data_dir: str | None = None
    num_subjects: int = 24
    image_size: int = DEFAULT["image_size"]
    scenario: str = "one_missing"
    target: str | None = None
    augment: bool = False
    planes: str = "axial"
    crop_size: int = 0
    # === Model ===
    base_filters: int = DEFAULT["base_filters"]
    res_blocks: int = DEFAULT["res_blocks"]
    gamma: float = DEFAULT["gamma"]
    alpha: float = DEFAULT["alpha"]
    beta: float = DEFAULT["beta"]
    lambda_l1: float = DEFAULT["lambda_l1"]
    lambda_ssim: float = DEFAULT["lambda_ssim"]
    gan_loss: str = DEFAULT["gan_loss"]
    modal_attention: bool = DEFAULT["modal_attention"]
    pooled_attention: bool = DEFAULT["pooled_attention"]
    intra_attention: bool = DEFAULT["intra_attention"]
    sr_supervision: bool = DEFAULT["sr_supervision"]
    generator: str = DEFAULT["generator"]
    decoder_skip: bool = DEFAULT["decoder_skip"]
    context_slices: int = DEFAULT["context_slices"]
    sr_schedule: str = DEFAULT["sr_schedule"]
    sr_pretrain_steps: int = DEFAULT["sr_pretrain_steps"]
    learning_rate: float = 1e-3
    lr_decay: str = "linear"
    precision: str = "auto"
    # === Schedule ===
    epochs: int = 8
    steps_per_epoch: int = 150
    batch_size: int = 8
    validation_steps: int | None = 20
    strategy: str = "auto"
    seed: int = 0
    # === Output ===
    output_dir: str = "runs/magan"
    overwrite: bool = False

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raises `ValueError` naming the first bad field.

        The model fields are checked by `magan_keras.models.presets.validate_options`, the
        one validator `MAGAN` uses too; the rest here.
        """
        for name in ("num_subjects", "epochs", "steps_per_epoch", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.validation_steps is not None and (
            not isinstance(self.validation_steps, int)
            or isinstance(self.validation_steps, bool)
            or self.validation_steps < 1
        ):
            raise ValueError(f"validation_steps must be a positive integer or null, got {self.validation_steps!r}")
        validate_options(self.model_kwargs())
        value = self.learning_rate
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"learning_rate must be a finite number > 0, got {value!r}")
        for name in ("augment", "skip_bad_subjects"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {SCENARIOS}, got {self.scenario!r}")
        if self.target is not None and self.target not in BRATS_MODALITIES:
            raise ValueError(f"target must be one of {BRATS_MODALITIES} or unset, got {self.target!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        self.precision = resolve_precision(self.precision)  # the config.json of a run records what trained it
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")
        for name in ("data_dir", "dataset", "tfds_data_dir", "output_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a path (a string), got {value!r}")
        if not self.output_dir or not self.output_dir.strip():
            raise ValueError("output_dir must not be empty")
        if self.data_dir is None and self.dataset is None and self.num_subjects < MIN_PHANTOM_SUBJECTS:
            raise ValueError(
                f"num_subjects must be at least {MIN_PHANTOM_SUBJECTS} for the phantom (one subject each for "
                f"train, validation and test), got {self.num_subjects}"
            )
        if self.data_dir is not None and self.dataset is not None:
            raise ValueError("give data_dir (a BraTS folder) or dataset (a prepared TFDS name), not both")
        if self.data_dir is not None and not os.path.isdir(os.path.expanduser(self.data_dir)):
            raise ValueError(f"data_dir {self.data_dir!r} is not a folder")
        from tfds_brats.planes import parse_planes  # numpy only

        if not isinstance(self.planes, (str, list, tuple)):
            raise ValueError(f"planes must be comma-separated plane names, got {self.planes!r}")
        self.planes = ",".join(parse_planes(self.planes))  # one line naming a bad plane
        self._validate_crop()
        self._validate_splits()

    def _validate_crop(self):
        """`crop_size`: 0, or a multiple of 4 in [16, image_size] with a size-free generator."""
        value = self.crop_size
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"crop_size must be 0 (whole slices) or a positive integer, got {value!r}")
        if not value:
            return
        if value % 4 or not 16 <= value <= self.image_size:
            raise ValueError(
                f"crop_size must be a multiple of 4 in [16, image_size={self.image_size}] (or 0), got {value}"
            )
        if self.generator == "multi_branch" and self.modal_attention and not self.pooled_attention:
            raise ValueError(
                f"crop_size {value} needs pooled_attention true: the paper's dense modal attention is tied to "
                f"image_size ({self.image_size} px) and cannot run on {value} px crops"
            )

    def _validate_splits(self):
        """The split fields: a readable split file, 3 valid fractions, existing split folders."""
        from tfds_brats.splits import check_fractions, read_split_file  # numpy only

        if self.split_fractions is not None:
            if isinstance(self.split_fractions, str):
                parts = self.split_fractions.split(",")  # as on the command line: "1,0,0"
            elif isinstance(self.split_fractions, (list, tuple)):
                parts = list(self.split_fractions)
            else:
                raise ValueError(
                    f"split_fractions must be 3 numbers (train, validation, test), got {self.split_fractions!r}"
                )
            try:
                self.split_fractions = check_fractions([float(part) for part in parts])
            except (TypeError, ValueError) as error:
                raise ValueError(f"{error}" if "fraction" in str(error) else f"split_fractions: {error}") from error
        for name in ("split_file", "validation_data_dir", "test_data_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a path (a string), got {value!r}")
        if self.dataset is not None and any(
            getattr(self, name) is not None
            for name in ("split_file", "split_fractions", "validation_data_dir", "test_data_dir")
        ):
            raise ValueError("a prepared dataset keeps its splits: split options need data_dir or the phantom")
        if self.split_file is not None:
            if self.validation_data_dir is not None or self.test_data_dir is not None:
                raise ValueError("give split_file or validation_data_dir / test_data_dir, not both")
            read_split_file(self.split_file)  # names the file when it is bad
        for name in ("validation_data_dir", "test_data_dir"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.data_dir is None:
                raise ValueError(f"{name} needs data_dir (the training subjects' folder)")
            if not os.path.isdir(os.path.expanduser(value)):
                raise ValueError(f"{name} {value!r} is not a folder")

    @property
    def data_scenario(self):
        """The scenario `magan_keras.data.make_dataset` takes: a fixed target wins."""
        return self.target or self.scenario

    @classmethod
    def field_types(cls):
        """`{name: int | float | str | bool}`, the type of each field (None stripped)."""
        types = {}
        for field in dataclasses.fields(cls):
            kind = field.type
            args = [a for a in getattr(kind, "__args__", ()) if a is not type(None)]
            types[field.name] = args[0] if args else kind
        return types

    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict, refusing unknown keys (a typo must not pass silently)."""
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown}; valid keys are {cls.field_names()}")
        types = cls.field_types()
        cleaned = {}
        for key, value in values.items():
            if types[key] is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = float(value)  # also turns NumPy scalars (KerasTuner's values) into floats
            elif types[key] is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
                value = int(value)
            if types[key] is bool and not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false, got {value!r}")
            cleaned[key] = value
        return cls(**cleaned)

    @classmethod
    def from_file(cls, path):
        """Reads a TOML (`.toml`) or JSON file of config keys."""
        path = os.fspath(path)
        try:
            if path.endswith(".toml"):
                if tomllib is None:
                    raise ValueError("TOML configs need Python 3.11+; use JSON")
                with open(path, "rb") as f:
                    values = tomllib.load(f)
            else:
                with open(path) as f:
                    values = json.load(f)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read config file {path}: {error}") from error
        if not isinstance(values, dict):
            raise ValueError(f"config file {path} must hold a table of keys")
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"config file {path}: {error}") from error

    def replace(self, **changes):
        """A copy with `changes` applied and validated."""
        return self.from_dict({**self.to_dict(), **changes})

    def to_dict(self):
        values = dataclasses.asdict(self)
        if values["split_fractions"] is not None:  # as JSON and TOML read it back, so saved configs compare equal
            values["split_fractions"] = list(values["split_fractions"])
        return values

    def model_kwargs(self):
        """The `MAGAN` constructor arguments this config implies."""
        keys = (
            "image_size",
            "base_filters",
            "res_blocks",
            "gamma",
            "alpha",
            "beta",
            "lambda_l1",
            "lambda_ssim",
            "gan_loss",
            "modal_attention",
            "pooled_attention",
            "intra_attention",
            "sr_supervision",
            "sr_schedule",
            "sr_pretrain_steps",
            "generator",
            "decoder_skip",
            "context_slices",
        )
        return {key: getattr(self, key) for key in keys}
