"""Intensity transforms for MR volumes: one function per job, numpy only.

The prepared datasets store every contrast scaled to [-1, 1] with the
background exactly -1 (see `normalise_volume`). The synthesis command reuses
these functions on single subjects, and `denormalise` maps a prediction back
to scanner units.

Brain mask: BraTS volumes are skull-stripped, so the brain is the set of
voxels that are non-zero in *any* contrast (`brain_mask`). Percentiles are
taken inside that mask, so the large zero background does not pull them down.

Example:
>>> import numpy as np
>>> from tfds_brats import intensity
>>> volume = np.zeros((8, 8, 4), np.float32)
>>> volume[2:6, 2:6] = np.arange(1, 65, dtype=np.float32).reshape(4, 4, 4)
>>> mask = intensity.brain_mask([volume])
>>> scaled, low, high = intensity.normalise_volume(volume, mask)
>>> float(scaled.min()), float(scaled.max()), float(scaled[0, 0, 0])
(-1.0, 1.0, -1.0)
>>> restored = intensity.denormalise(scaled, low, high)
>>> bool(np.allclose(restored[mask], np.clip(volume[mask], low, high), atol=1e-4))
True
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tfds_brats.constants import LOWER_PERCENTILE, UPPER_PERCENTILE

# The defaults of every function here: the builders' percentiles (one constant per fact).
DEFAULT_LOWER_PERCENTILE = LOWER_PERCENTILE
DEFAULT_UPPER_PERCENTILE = UPPER_PERCENTILE


class ConstantImageError(ValueError):
    """Raised when an image has no intensity range to scale (constant)."""


# Brain candidates are the voxels whose |value| exceeds BACKGROUND_LEVEL of the volume's robust
# scale (its 99th percentile of |value|). When at least ZERO_BACKGROUND_FRACTION of the other voxels
# are exactly 0 the background is clean (BraTS, the dummy data and the three real subjects of
# ../shared/data: 99.6 % and more), and the brain is every non-zero voxel, as before. A half-voxel
# cubic resampling of those subjects leaves under 2 % of them exactly 0 and 98.5 % of the volume non-zero
# (docs/results.md, "Brain masks on real scans"); such a volume is thresholded instead: at the
# higher of that level and twice the background's (90th percentile of |value| on the outer faces),
# then the largest connected part of the union is kept, its holes filled.
ZERO_BACKGROUND_FRACTION = 0.9
BACKGROUND_LEVEL = 0.1


def brain_mask(volumes: Iterable[np.ndarray]) -> np.ndarray:
    """Voxels that are brain in any of the given co-registered volumes.

    A volume with a clean zero background (`ZERO_BACKGROUND_FRACTION` of its voxels below
    `BACKGROUND_LEVEL` of its robust scale exactly 0, as in BraTS) counts its non-zero voxels,
    whatever their sign (interpolation leaves small negative values at the brain's edge). A volume
    whose background is not exactly zero (small positive and negative values left by resampling, or
    noise) is thresholded at that level or above its background's (`foreground`); then only the
    largest connected part of the union is kept, its holes filled. Works on any dtype (int16,
    float32, float64) and scale.

    Args:
        volumes: iterable of arrays of one shape (e.g. the four contrasts of a
            subject, in any order).

    Returns:
        bool array of that shape.

    Example:
    >>> import numpy as np
    >>> t1, t2 = np.zeros((3, 1)), np.zeros((3, 1))
    >>> t1[0], t2[2] = 5.0, 1.0
    >>> brain_mask([t1, t2])[:, 0].tolist()
    [True, False, True]
    >>> noisy = np.random.default_rng(0).normal(0, 2.0, (16, 16, 8))  # background of +-2, not 0
    >>> noisy[4:12, 4:12, 2:6] += 500.0
    >>> int(brain_mask([noisy]).sum()), int((noisy != 0).sum())
    (256, 2048)
    """
    mask, cleaned = None, False
    for volume in volumes:
        nonzero, clean = foreground(volume)
        cleaned |= not clean
        if mask is None:
            mask = nonzero
        elif nonzero.shape != mask.shape:
            raise ValueError(f"brain_mask: volumes differ in shape ({mask.shape} vs {nonzero.shape})")
        else:
            mask |= nonzero
    if mask is None:
        raise ValueError("brain_mask: no volumes given")
    if cleaned and mask.any():
        from scipy import ndimage  # pylint: disable=import-outside-toplevel

        labels, count = ndimage.label(mask)
        if count > 1:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            mask = labels == int(np.argmax(sizes))
        mask = ndimage.binary_fill_holes(mask)
    return mask


def foreground(volume: np.ndarray) -> tuple[np.ndarray, bool]:
    """One volume's brain voxels, and whether its background was exactly zero (see `brain_mask`).

    Args:
        volume: array, any real dtype.

    Returns:
        (bool array, bool).

    Example:
    >>> import numpy as np
    >>> volume = np.full((8, 8, 6), -0.3)  # an offset background: nothing exactly 0
    >>> volume[2:6, 2:6, 1:5] = 100.0
    >>> mask, clean = foreground(volume)
    >>> int(mask.sum()), clean
    (64, False)
    """
    values = np.asarray(volume)
    magnitude = np.abs(values.astype(np.float64))
    level = BACKGROUND_LEVEL * float(np.percentile(magnitude, 99))
    below = magnitude <= level
    if not below.any() or np.mean(values[below] == 0) >= ZERO_BACKGROUND_FRACTION:
        return values != 0, True
    faces = _faces(magnitude)
    background = float(np.percentile(faces, 90)) if faces.size else 0.0  # robust to brain on a face
    return magnitude > max(level, 2.0 * background), False


def _faces(values: np.ndarray) -> np.ndarray:
    """The values on the outer faces of an array (its first and last index along each axis)."""
    if values.ndim == 0 or min(values.shape) < 3:
        return values.ravel()[:0]
    parts = []
    for axis in range(values.ndim):
        parts.append(np.take(values, [0, values.shape[axis] - 1], axis=axis).ravel())
    return np.concatenate(parts)


def percentile_range(
    volume: np.ndarray,
    mask: np.ndarray | None = None,
    lower: float = DEFAULT_LOWER_PERCENTILE,
    upper: float = DEFAULT_UPPER_PERCENTILE,
) -> tuple[float, float]:
    """The `lower` / `upper` percentiles of `volume`, inside `mask` if given.

    Args:
        volume: array of intensities.
        mask: optional bool array of the same shape; statistics use only its
            True voxels.
        lower: float. lower percentile in [0, 100].
        upper: float. upper percentile in [0, 100], above `lower`.

    Returns:
        `(low, high)` as Python floats.

    Raises:
        ConstantImageError: when the mask is empty or `low == high`.

    Example:
    >>> import numpy as np
    >>> volume = np.arange(201, dtype=np.float32)
    >>> percentile_range(volume)  # 0.5 / 99.5 percentiles
    (1.0, 199.0)
    >>> percentile_range(volume, volume < 101, 0.0, 100.0)
    (0.0, 100.0)
    """
    if not 0.0 <= lower < upper <= 100.0:
        raise ValueError(f"percentile_range: need 0 <= lower < upper <= 100, got {lower}, {upper}")
    values = _masked_values(volume, mask)
    if values.size == 0:
        raise ConstantImageError("percentile_range: the mask selects no voxel")
    low, high = np.percentile(values, [lower, upper])
    if not high > low:
        raise ConstantImageError(
            f"percentile_range: constant image inside the mask (value {float(low):g}); cannot scale it"
        )
    return float(low), float(high)


def clip(volume: np.ndarray, low: float, high: float) -> np.ndarray:
    """`volume` clipped to `[low, high]`, as float32.

    Args:
        volume: array.
        low: float. lower bound.
        high: float. upper bound.

    Example:
    >>> import numpy as np
    >>> clip(np.array([-5, 0, 5]), -1.0, 1.0).tolist()
    [-1.0, 0.0, 1.0]
    """
    return np.clip(np.asarray(volume, np.float32), low, high)


def rescale(
    volume: np.ndarray,
    low: float,
    high: float,
    out_range: tuple[float, float] = (-1.0, 1.0),
    mask: np.ndarray | None = None,
    background: float | None = None,
) -> np.ndarray:
    """Maps `[low, high]` linearly onto `out_range`, as float32.

    Args:
        volume: array of intensities (usually already clipped).
        low: float. value mapped to `out_range[0]`.
        high: float. value mapped to `out_range[1]`; must exceed `low`.
        out_range: `(min, max)` of the output.
        mask: optional bool array; voxels outside it are set to `background`.
        background: value outside the mask; defaults to `out_range[0]`.

    Returns:
        float32 array of the shape of `volume`.

    Raises:
        ConstantImageError: when `high <= low`.

    Example:
    >>> import numpy as np
    >>> rescale(np.array([0.0, 5.0, 10.0]), 0.0, 10.0, mask=np.array([True, True, False])).tolist()
    [-1.0, 0.0, -1.0]
    """
    if not high > low:
        raise ConstantImageError(f"rescale: need high > low, got low={low}, high={high}")
    out_min, out_max = out_range
    scale = (out_max - out_min) / (high - low)
    scaled = ((np.asarray(volume, np.float32) - low) * scale + out_min).astype(np.float32)
    if mask is not None:
        scaled[~np.asarray(mask, bool)] = out_min if background is None else background
    return scaled


def normalise_volume(
    volume: np.ndarray,
    brain_mask: np.ndarray | None = None,
    lower: float = DEFAULT_LOWER_PERCENTILE,
    upper: float = DEFAULT_UPPER_PERCENTILE,
) -> tuple[np.ndarray, float, float]:
    """The datasets' normalisation: clip to brain percentiles, scale to [-1, 1].

    Percentiles are taken inside `brain_mask` (the whole volume if None); the
    volume is clipped to them and mapped so `low -> -1`, `high -> +1`; voxels
    outside the mask are exactly -1.

    Args:
        volume: 3-D (or any) array of one contrast.
        brain_mask: optional bool array of the same shape.
        lower: float. lower percentile (0.5 by default).
        upper: float. upper percentile (99.5 by default).

    Returns:
        `(scaled, low, high)`: float32 array in [-1, 1] and the two intensities
        that were mapped to -1 and +1 (store them as `norm_low` / `norm_high`).

    Raises:
        ConstantImageError: the volume is constant inside the mask.

    Example:
    >>> import numpy as np
    >>> flair = np.zeros((4, 4, 4), np.float32)
    >>> flair[1:3, 1:3, 1:3] = np.arange(1, 9).reshape(2, 2, 2)
    >>> scaled, low, high = normalise_volume(flair, brain_mask([flair]))
    >>> round(low, 3), round(high, 3), float(scaled[0, 0, 0])
    (1.035, 7.965, -1.0)
    """
    low, high = percentile_range(volume, brain_mask, lower, upper)
    scaled = rescale(clip(volume, low, high), low, high, (-1.0, 1.0), mask=brain_mask)
    return scaled, low, high


def denormalise(scaled: np.ndarray, low, high) -> np.ndarray:
    """Inverse of `normalise_volume` inside the clip range.

    Maps `p` in [-1, 1] to `low + (p + 1) / 2 * (high - low)`. `low` / `high`
    may be scalars or arrays broadcasting against `scaled` (e.g. `norm_low`
    of shape `[4]` against images `[H, W, 4]`).

    Args:
        scaled: array in [-1, 1].
        low: intensity (scalar or array) that was mapped to -1 (`norm_low`).
        high: intensity that was mapped to +1 (`norm_high`).

    Example:
    >>> import numpy as np
    >>> denormalise(np.array([-1.0, 0.0, 1.0]), 100.0, 300.0).tolist()
    [100.0, 200.0, 300.0]
    """
    low = np.asarray(low, np.float32)
    high = np.asarray(high, np.float32)
    return (low + (np.asarray(scaled, np.float32) + 1.0) * 0.5 * (high - low)).astype(np.float32)


def _masked_values(volume: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    volume = np.asarray(volume)
    if mask is None:
        return volume.ravel()
    mask = np.asarray(mask, bool)
    if mask.shape != volume.shape:
        raise ValueError(f"mask shape {mask.shape} differs from volume shape {volume.shape}")
    return volume[mask]
