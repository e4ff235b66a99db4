"""Builder configs for the `brats` and `brats_phantom` datasets.

Every field is keyword-only and validated; a config made at run time is
accepted by the builders like a predefined one:

```python
import tensorflow_datasets as tfds
from tfds_brats.configs import BratsConfig
from tfds_brats.brats import Builder

config = BratsConfig(name="slices_96", image_size=96)
builder = Builder(config=config, data_dir="/tmp/tfds")
builder.download_and_prepare(
    download_config=tfds.download.DownloadConfig(manual_dir="/data/BraTS2021"))
```

Give a run-time config a name that says what differs (`config_name` builds
one): the name is the folder the data is stored in, and a prepared folder is
reused as-is.

Example:
>>> from tfds_brats.configs import BratsConfig, PhantomConfig
>>> config = BratsConfig(name="slices_96", image_size=96)
>>> config.canvas_size, config.min_brain_fraction
(256, 0.05)
>>> PhantomConfig(name="p", image_size=32).canvas_size  # the phantom is simulated at its size
32
>>> BratsConfig(name="bad", image_size=0)
Traceback (most recent call last):
...
ValueError: bad: image_size must be a positive int, got 0
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from tfds_brats.constants import BRATS_CANVAS_SIZE, MAX_CONTEXT_SLICES, MIN_BRAIN_FRACTION
from tfds_brats.examples import LAYOUTS
from tfds_brats.planes import DEFAULT_PLANES, parse_planes
from tfds_brats.splits import check_fractions

# Data-defining fields, recorded in the dataset's metadata and compared when a
# prepared dataset is reused.
_BASE_FIELDS = ("name", "version", "release_notes", "supported_versions", "description", "tags")


@dataclasses.dataclass(eq=False, kw_only=True)
class BratsConfig(tfds.core.BuilderConfig):
    """How BraTS subjects become examples.

    Attributes:
        layout: "slices" (one example per axial slice) or "volumes" (one per
            subject, whole `[X, Y, Z, 4]` volumes).
        image_size: int. side S of the stored slices (slices only).
        canvas_size: int. slices are centre-padded with -1 (mask 0) or
            centre-cropped to this square before resizing to `image_size`;
            `constants.BRATS_CANVAS_SIZE` (256) holds BraTS's 240 x 240 with 8
            voxels to spare on each side.
        min_brain_fraction: float. axial slices where the brain covers less
            than this fraction of the slice (as stored, before padding) are
            left out. Default `constants.MIN_BRAIN_FRACTION` (0.05).
        split_fractions: (train, validation, test) fractions of subjects.
        split_seed: int. seed of the subject permutation.
        context_slices: int K in [0, 8]. slices only: each example also carries the K axial
            neighbours on each side of its slice (`context`, `[S, S, 4, 2K]`, cut by
            `tfds_brats.slicing.to_context_slices`; beyond the volume's ends they are -1) for
            2.5-D models. 0 (the default) stores no `context` and names, stores and compares
            the config as before.
        planes: tuple of str. slices only: the orientations the train split is cut along
            (`tfds_brats.planes`: "axial", "coronal", "sagittal"; coronal and sagittal slices
            are the transposed volume's axial ones, centre-padded to the canvas); validation and
            test stay axial, so evaluation stacks their slices into volumes. `("axial",)` (the
            default) is left out of the stored parameters, as before the field existed.
        min_shards: int. every split is written as at least this many files
            (rounded down to a power of two, at most one per example), so
            replicas / workers can each read their own; large splits get
            more (TFDS's 64 MiB - 1 GiB shard sizes).
    """

    layout: str = "slices"
    image_size: int = 128
    canvas_size: int = BRATS_CANVAS_SIZE
    min_brain_fraction: float = MIN_BRAIN_FRACTION
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    context_slices: int = 0
    planes: tuple[str, ...] = DEFAULT_PLANES
    min_shards: int = 8

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"{self.name}: layout must be one of {LAYOUTS}, got {self.layout!r}")
        for field in ("image_size", "canvas_size", "min_shards"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{self.name}: {field} must be a positive int, got {value!r}")
        if not 0.0 <= self.min_brain_fraction < 1.0:
            raise ValueError(f"{self.name}: min_brain_fraction must be in [0, 1), got {self.min_brain_fraction!r}")
        self.split_fractions = check_fractions(self.split_fractions)
        if not isinstance(self.split_seed, int):
            raise ValueError(f"{self.name}: split_seed must be an int, got {self.split_seed!r}")
        value = self.context_slices
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CONTEXT_SLICES:
            raise ValueError(f"{self.name}: context_slices must be an int in [0, {MAX_CONTEXT_SLICES}], got {value!r}")
        try:
            self.planes = parse_planes(self.planes)
        except ValueError as error:
            raise ValueError(f"{self.name}: planes: {error}") from None

    def params(self) -> dict:
        """The data-defining fields as a JSON-friendly dict.

        Example:
        >>> BratsConfig(name="x", image_size=64).params()["split_fractions"]
        [0.8, 0.1, 0.1]
        >>> "context_slices" in BratsConfig(name="x").params()
        False
        >>> BratsConfig(name="y", context_slices=1).params()["context_slices"]
        1
        """
        # context_slices 0 is left out: datasets prepared before the field existed compare equal.
        return {
            field.name: _jsonable(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if field.name not in _BASE_FIELDS
            and not (field.name == "context_slices" and self.context_slices == 0)
            and not (field.name == "planes" and self.planes == DEFAULT_PLANES)
        }


@dataclasses.dataclass(eq=False, kw_only=True)
class PhantomConfig(BratsConfig):
    """`BratsConfig` for simulated subjects (`tfds_brats.phantom`).

    The phantom is simulated directly at `image_size`, so the canvas is the
    image (no padding, no resizing).

    Attributes:
        num_subjects: int. number of simulated subjects (default 24).
        seed: int. seed of the simulation; subject i uses a seed derived from
            (seed, i).
        depth: int. number of axial slices simulated per subject; 0 means
            `max(8, image_size // 2)`.
    """

    num_subjects: int = 24
    seed: int = 0
    depth: int = 0

    def __post_init__(self):
        self.canvas_size = self.image_size
        super().__post_init__()
        if not isinstance(self.num_subjects, int) or self.num_subjects < 1:
            raise ValueError(f"{self.name}: num_subjects must be an int >= 1, got {self.num_subjects!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"{self.name}: seed must be an int, got {self.seed!r}")
        if not isinstance(self.depth, int) or self.depth < 0:
            raise ValueError(f"{self.name}: depth must be an int >= 0, got {self.depth!r}")
        if self.depth == 0:
            self.depth = max(8, self.image_size // 2)

    @property
    def volume_shape(self) -> tuple[int, int, int]:
        """Shape `(S, S, depth)` passed to `phantom.make_subject`.

        Example:
        >>> PhantomConfig(name="p", image_size=64).volume_shape
        (64, 64, 32)
        """
        return (self.image_size, self.image_size, self.depth)


def config_name(layout: str, image_size: int, defaults: BratsConfig | None = None, **changes) -> str:
    """A config name: `slices_<S>` or `volumes`, then the fields that differ.

    Args:
        layout: "slices" or "volumes".
        image_size: int.
        defaults: the config the changes are relative to, or None (every change is named).
        **changes: field -> value (None: unchanged).

    Example:
    >>> config_name("slices", 64)
    'slices_64'
    >>> config_name("slices", 64, PhantomConfig(name="x", image_size=64), num_subjects=100, seed=0)
    'slices_64_num_subjects100'
    """
    base = "volumes" if layout == "volumes" else f"{layout}_{image_size}"
    suffix = changes_suffix(defaults, **changes)
    return f"{base}_{suffix}" if suffix else base


def changes_suffix(defaults: BratsConfig | None = None, **changes) -> str:
    """`key<value>` parts, joined by "_", for the fields that differ from `defaults`.

    Args:
        defaults: a config, or None.
        **changes: field -> value (None, or equal to the default: left out).

    Example:
    >>> changes_suffix(None, split_seed=1, num_subjects=8, split_fractions=(0.7, 0.3, 0.0))
    'num_subjects8_split_fractions0.7-0.3-0.0_split_seed1'
    """
    parts = []
    for key, value in sorted(changes.items()):
        if value is None:
            continue
        if defaults is not None and getattr(defaults, key) == value:
            continue
        text = "-".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)
        parts.append(f"{key}{text}")
    return "_".join(parts)


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
