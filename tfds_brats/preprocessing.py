"""What a model expects of its input slices, saved with the model so inference never guesses.

`Preprocessing` records how the training data were made: the contrast names and order, the
in-plane canvas each axial slice was centre-padded or cropped to before resizing to the model's
size, the brain percentiles each contrast was clipped to (mapped to [-1, 1], background -1), the
minimum brain fraction of a kept slice and the canonical orientation. `MAGAN` and its generators
store it in their config (so in every `.keras` file); `magan_keras.inference` reads it back.

A model saved before this record existed has none: `from_config(None)` then assumes the
`brats` builder's defaults and says so in `assumed`, which inference reports as a note.

Example:
>>> from tfds_brats.preprocessing import Preprocessing
>>> p = Preprocessing(canvas_size=64)
>>> Preprocessing.from_config(p.to_config()) == p
True
>>> Preprocessing.from_config(None).assumed
True
"""

from __future__ import annotations

import dataclasses
import math

from tfds_brats.constants import (
    BRATS_CANVAS_SIZE,
    LOWER_PERCENTILE,
    MIN_BRAIN_FRACTION,
    MODALITIES,
    ORIENTATION,
    UPPER_PERCENTILE,
)
from tfds_brats.planes import DEFAULT_PLANES, parse_planes

ORIENTATIONS = (ORIENTATION,)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How volumes became the slices a model was trained on.

    Args:
        modalities: tuple of str. Contrast names in channel order.
        canvas_size: int. Square side axial slices are centre-padded (-1) or cropped to before
            resizing to the model's image size (256 for `brats`; the image size for the phantom).
        lower_percentile: float. Brain percentile mapped to -1.
        upper_percentile: float. Brain percentile mapped to +1.
        min_brain_fraction: float in [0, 1). Slices with less brain were left out of training.
        orientation: str. Canonical voxel orientation (`"RAS"`); axial slices are `[:, :, k]`.
        planes: tuple of str. The slice orientations of the training data (`tfds_brats.planes`;
            `("axial",)`, the default, is not stored, so records from before the field read the same).
        assumed: bool. True when the model carried no record and these are the defaults.
    """

    modalities: tuple = MODALITIES
    canvas_size: int = BRATS_CANVAS_SIZE
    lower_percentile: float = LOWER_PERCENTILE
    upper_percentile: float = UPPER_PERCENTILE
    min_brain_fraction: float = MIN_BRAIN_FRACTION
    orientation: str = ORIENTATION
    planes: tuple = DEFAULT_PLANES
    assumed: bool = dataclasses.field(default=False, compare=False)

    def __post_init__(self):
        names = tuple(self.modalities)
        object.__setattr__(self, "modalities", names)
        if len(names) < 2 or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"preprocessing: modalities must be two or more distinct names, got {names!r}")
        size = self.canvas_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 4096:
            raise ValueError(f"preprocessing: canvas_size must be an integer in [1, 4096], got {size!r}")
        low, high = self.lower_percentile, self.upper_percentile
        for name, value in (("lower_percentile", low), ("upper_percentile", high)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"preprocessing: {name} must be a number, got {value!r}")
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"preprocessing: percentiles must satisfy 0 <= lower < upper <= 100, got {low}, {high}")
        fraction = self.min_brain_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
            raise ValueError(f"preprocessing: min_brain_fraction must be in [0, 1), got {fraction!r}")
        if self.orientation not in ORIENTATIONS:
            raise ValueError(f"preprocessing: orientation must be one of {ORIENTATIONS}, got {self.orientation!r}")
        try:
            object.__setattr__(self, "planes", parse_planes(self.planes))
        except ValueError as error:
            raise ValueError(f"preprocessing: planes: {error}") from None

    def to_config(self, stored=False) -> dict | None:
        """A JSON-ready dict (what `.keras` files store); `assumed` is not stored.

        Args:
            stored: bool. For a model's config: an assumed record is stored as None, so a
                model built without one keeps saying so after a save and reload.

        Example:
        >>> Preprocessing(canvas_size=64).to_config()["canvas_size"]
        64
        >>> Preprocessing.from_config(None).to_config(stored=True) is None
        True
        """
        if stored and self.assumed:
            return None
        values = dataclasses.asdict(self)
        values.pop("assumed")
        values["modalities"] = list(self.modalities)
        if self.planes == DEFAULT_PLANES:
            values.pop("planes")
        else:
            values["planes"] = list(self.planes)
        return values

    @classmethod
    def from_config(cls, config, modalities=None) -> Preprocessing:
        """The record from a stored dict, or the defaults (marked `assumed`) when there is none.

        Args:
            config: dict from `to_config`, a `Preprocessing`, or None (a model saved before
                preprocessing was recorded).
            modalities: the model's contrast names; they must match the record's, and fill
                in the defaults when `config` is None.

        Example:
        >>> Preprocessing.from_config({"canvas_size": 96}).canvas_size
        96
        >>> Preprocessing.from_config(None, ("t1", "t2")).modalities
        ('t1', 't2')
        >>> Preprocessing.from_config({"canvas_size": 96}, ("t1", "t2"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: preprocessing: the model's contrasts ('t1', 't2') differ from the record's ...
        """
        if isinstance(config, cls):
            record = config
        elif config is None:
            record = cls(**({"modalities": tuple(modalities)} if modalities is not None else {}), assumed=True)
        elif isinstance(config, dict):
            unknown = sorted(set(config) - {f.name for f in dataclasses.fields(cls)} - {"assumed"})
            if unknown:
                raise ValueError(f"preprocessing: unknown keys {unknown}")
            record = cls(**{k: v for k, v in config.items() if k != "assumed"})
        else:
            raise ValueError(f"preprocessing must be a dict or None, got {type(config).__name__}")
        if modalities is not None and tuple(modalities) != record.modalities:
            raise ValueError(
                f"preprocessing: the model's contrasts {tuple(modalities)} differ from the record's {record.modalities}"
            )
        return record

    @classmethod
    def from_builder_config(cls, config, image_size, modalities=MODALITIES) -> Preprocessing:
        """The record of a prepared `tfds_brats` dataset from its builder config.

        Args:
            config: a `BratsConfig` or `PhantomConfig` (a phantom has no canvas: it is the
                image size).
            image_size: int. Side of the stored slices.
            modalities: contrast names.

        Example:
        >>> from tfds_brats.configs import BratsConfig, PhantomConfig
        >>> Preprocessing.from_builder_config(BratsConfig(name="slices_64", image_size=64), 64).canvas_size
        256
        >>> Preprocessing.from_builder_config(PhantomConfig(name="slices_32", image_size=32), 32).canvas_size
        32
        """
        canvas = getattr(config, "canvas_size", None) or image_size
        fraction = getattr(config, "min_brain_fraction", MIN_BRAIN_FRACTION)
        planes = getattr(config, "planes", DEFAULT_PLANES) if getattr(config, "layout", "slices") == "slices" else None
        return cls(
            modalities=tuple(modalities),
            canvas_size=int(canvas),
            min_brain_fraction=float(fraction),
            planes=planes or DEFAULT_PLANES,
        )
