"""Volumes <-> model-size axial slices, and the exact inverse: one module for builders and inference.

The training slices are made in three steps, each with its inverse here:

1. axial slices `[:, :, k]` of the canonical (RAS+) volume are taken (`usable_slice_indices`
   picks those with at least `min_brain_fraction` brain, measured on the slice as stored;
   `from_model_slices` puts slices back at their `k`);
2. each is centre-padded (images with -1, brain mask and seg with 0) or centre-cropped in-plane
   to a square canvas (`fit_to_canvas`; 256 for BraTS's 240 x 240, the image size itself for
   the phantom; `from_canvas` undoes it: a pad is cut off, a crop is padded back with `fill`,
   what it cut away is lost);
3. resized to the model's size when it differs from the canvas (`resize_slices`: images
   bilinear with antialiasing, mask and seg nearest-neighbour, image pixels outside the resized
   mask set to exactly -1; `from_model_slices` resizes back bilinearly).

`to_model_slices` runs the three steps on a normalised volume, `from_model_slices` runs the
inverse on a stack of model outputs. `to_context_slices` gives a 2.5-D model the `K` axial
neighbours on each side of each slice, cut by the same three steps (the neighbours of the
first and last slices of the volume, beyond its ends, are background: -1 everywhere). Where
nothing is resampled (canvas == model size) the round trip is exact inside the canvas; otherwise
it is as close as one bilinear resize there and back allows, and aligned voxel for voxel. The
builders (`tfds_brats.examples`) and `magan_keras.inference` both call these functions, so
inference slices exactly as training did.

Example:
>>> import numpy as np
>>> from tfds_brats import slicing
>>> mask = np.zeros((20, 24, 6), bool)
>>> mask[4:16, 5:19, 1:5] = True
>>> images = np.where(mask[..., None], 0.5, -1.0).astype(np.float32)
>>> cut = slicing.to_model_slices(images, mask, image_size=32, canvas_size=32)
>>> cut.images.shape, cut.indices.tolist()
((4, 32, 32, 1), [1, 2, 3, 4])
>>> back = slicing.from_model_slices(cut.images[..., 0], cut.indices, mask.shape, canvas_size=32)
>>> bool(np.array_equal(back, images[..., 0]))
True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class ModelSlices(NamedTuple):
    """`to_model_slices`' result: unpack as `images, brain_mask, seg, indices`.

    Attributes:
        images: float32 `[K, S, S, C]` in [-1, 1], exactly -1 outside `brain_mask`.
        brain_mask: bool `[K, S, S]`.
        seg: uint8 `[K, S, S]` (zeros when no seg was given).
        indices: int `[K]` axial positions `k` the slices came from.
    """

    images: np.ndarray
    brain_mask: np.ndarray
    seg: np.ndarray
    indices: np.ndarray


def brain_fraction_per_slice(brain_mask: np.ndarray) -> np.ndarray:
    """Fraction of each axial slice `[:, :, k]` covered by the brain mask.

    Args:
        brain_mask: bool `[X, Y, Z]`.

    Returns:
        float64 `[Z]`.

    Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 10, 3), bool)
    >>> mask[:5, :2, 1] = True
    >>> brain_fraction_per_slice(mask).tolist()
    [0.0, 0.1, 0.0]
    """
    mask = np.asarray(brain_mask, bool)
    return mask.sum(axis=(0, 1)) / float(mask.shape[0] * mask.shape[1])


def usable_slice_indices(brain_mask: np.ndarray, min_brain_fraction: float) -> np.ndarray:
    """Indices `k` of the axial slices with at least `min_brain_fraction` brain.

    A slice is kept when its brain fraction is `>= min_brain_fraction` and it holds at least
    one brain voxel (so `min_brain_fraction=0` gives every slice with brain).

    Args:
        brain_mask: bool `[X, Y, Z]`.
        min_brain_fraction: float in [0, 1) (the builders' `tfds_brats.constants.MIN_BRAIN_FRACTION`).

    Returns:
        int `[K]`, increasing.

    Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 10, 4), bool)
    >>> mask[:5, :1, 1] = True  # 5 %
    >>> mask[:1, :1, 2] = True  # 1 %
    >>> usable_slice_indices(mask, 0.05).tolist(), usable_slice_indices(mask, 0.0).tolist()
    ([1], [1, 2])
    """
    fractions = brain_fraction_per_slice(brain_mask)
    return np.flatnonzero((fractions >= min_brain_fraction) & (fractions > 0))


def fit_to_canvas(array: np.ndarray, canvas_size: int, fill) -> np.ndarray:
    """Centre-pads (with `fill`) or centre-crops axes 1 and 2 to `canvas_size`.

    Args:
        array: `[K, H, W, ...]` (a stack of slices).
        canvas_size: int. side of the square output.
        fill: value for the padding.

    Returns:
        `[K, canvas_size, canvas_size, ...]`, same dtype. An odd difference puts the extra row /
        column at the end (after) when padding and cuts it from the end when cropping.

    Example:
    >>> import numpy as np
    >>> fit_to_canvas(np.zeros((3, 240, 240, 4)), 256, -1.0).shape
    (3, 256, 256, 4)
    >>> fit_to_canvas(np.arange(9).reshape(1, 3, 3), 5, -1)[0, 1]
    array([-1,  0,  1,  2, -1])
    """
    height, width = array.shape[1:3]
    # Crop first (centre), then paste into a canvas filled with `fill`.
    top = max(0, (height - canvas_size) // 2)
    left = max(0, (width - canvas_size) // 2)
    array = array[:, top : top + canvas_size, left : left + canvas_size]
    height, width = array.shape[1:3]
    canvas = np.full((array.shape[0], canvas_size, canvas_size) + array.shape[3:], fill, array.dtype)
    top = (canvas_size - height) // 2
    left = (canvas_size - width) // 2
    canvas[:, top : top + height, left : left + width] = array
    return canvas


def from_canvas(stack: np.ndarray, in_plane_shape, fill) -> np.ndarray:
    """Inverse of `fit_to_canvas` on axes 1 and 2.

    A padded axis is cropped back to its size; a cropped axis is padded back with `fill` (what
    the crop cut away is lost).

    Args:
        stack: `[K, C, C, ...]`.
        in_plane_shape: `(X, Y)` before `fit_to_canvas`.
        fill: value for regions a crop removed.

    Returns:
        `[K, X, Y, ...]`.

    Example:
    >>> import numpy as np
    >>> a = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    >>> bool(np.array_equal(from_canvas(fit_to_canvas(a, 8, -1.0), a.shape[1:3], -1.0), a))
    True
    """
    for axis, size in zip((1, 2), in_plane_shape):
        canvas = stack.shape[axis]
        if size < canvas:
            before = (canvas - size) // 2
            stack = np.take(stack, np.arange(before, before + size), axis=axis)
        elif size > canvas:
            start = (size - canvas) // 2
            widths = [(0, 0)] * stack.ndim
            widths[axis] = (start, size - canvas - start)
            stack = np.pad(stack, widths, constant_values=fill)
    return stack


def resize_slices(
    images: np.ndarray, brain_mask: np.ndarray, seg: np.ndarray, image_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resizes square slices: images bilinear (antialiased), mask and seg nearest.

    Args:
        images: float32 `[K, C, C, M]`.
        brain_mask: bool `[K, C, C]`.
        seg: uint8 `[K, C, C]`.
        image_size: int. output side.

    Returns:
        the three arrays at `image_size` (unchanged when already that size); images are exactly
        -1 outside the resized mask.

    Example:
    >>> import numpy as np
    >>> mask = np.zeros((1, 8, 8), bool)
    >>> mask[:, 2:6, 2:6] = True
    >>> images = np.where(mask[..., None], 0.0, -1.0).astype(np.float32)
    >>> small, small_mask, _ = resize_slices(images, mask, np.zeros((1, 8, 8), np.uint8), 4)
    >>> small.shape, int(small_mask.sum())
    ((1, 4, 4, 1), 4)
    """
    if images.shape[1] == image_size and images.shape[2] == image_size:
        return images, brain_mask, seg
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    size = (image_size, image_size)
    resized = tf.image.resize(images, size, method="bilinear", antialias=True).numpy()
    labels = np.stack([brain_mask.astype(np.uint8), seg], axis=-1)
    labels = tf.image.resize(labels, size, method="nearest").numpy().astype(np.uint8)
    mask = labels[..., 0].astype(bool)
    resized = np.clip(resized, -1.0, 1.0).astype(np.float32)
    resized[~mask] = -1.0
    return resized, mask, labels[..., 1]


def to_model_slices(
    images: np.ndarray,
    brain_mask: np.ndarray,
    *,
    image_size: int,
    canvas_size: int,
    indices=None,
    seg: np.ndarray | None = None,
) -> ModelSlices:
    """Axial slices of a normalised volume as the builders store them (canvas, then resize).

    Args:
        images: float32 `[X, Y, Z, M]` in [-1, 1], background -1 (zero-filled channels allowed;
            they come out as -1 outside the mask: multiply by `available` again).
        brain_mask: bool `[X, Y, Z]`.
        image_size: int. The model's size S.
        canvas_size: int. Square canvas of the pad / crop before resizing.
        indices: axial positions to take (default: every slice with brain).
        seg: uint8 `[X, Y, Z]` or None (zeros).

    Returns:
        `ModelSlices(images [K, S, S, M], brain_mask [K, S, S], seg [K, S, S], indices [K])`.

    Example:
    >>> import numpy as np
    >>> mask = np.ones((24, 24, 3), bool)
    >>> cut = to_model_slices(np.zeros((24, 24, 3, 2), np.float32), mask, image_size=16, canvas_size=32)
    >>> cut.images.shape, cut.seg.dtype.name
    ((3, 16, 16, 2), 'uint8')
    """
    brain_mask = np.asarray(brain_mask, bool)
    if indices is None:
        indices = usable_slice_indices(brain_mask, 0.0)
    indices = np.asarray(indices, int)
    if seg is None:
        seg = np.zeros(brain_mask.shape, np.uint8)
    # [X, Y, K, ...] -> [K, X, Y, ...]
    stack = fit_to_canvas(np.moveaxis(images[:, :, indices], 2, 0), canvas_size, -1.0)
    masks = fit_to_canvas(np.moveaxis(brain_mask[:, :, indices], 2, 0), canvas_size, False)
    segs = fit_to_canvas(np.moveaxis(seg[:, :, indices], 2, 0), canvas_size, 0)
    stack, masks, segs = resize_slices(
        stack.astype(np.float32, copy=False),
        masks.astype(bool, copy=False),
        segs.astype(np.uint8, copy=False),
        image_size,
    )
    return ModelSlices(stack, masks, segs, indices)


def context_offsets(context_slices: int) -> np.ndarray:
    """The axial offsets of the neighbours a 2.5-D model sees, in their channel order.

    Args:
        context_slices: int K >= 0.

    Returns:
        int `[2K]`: `-K, ..., -1, 1, ..., K` (the centre slice, offset 0, is not among them).

    Example:
    >>> context_offsets(2).tolist(), context_offsets(0).tolist()
    ([-2, -1, 1, 2], [])
    """
    k = int(context_slices)
    if k < 0:
        raise ValueError(f"context_slices must be >= 0, got {context_slices!r}")
    return np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)]).astype(int)


def to_context_slices(
    images: np.ndarray,
    brain_mask: np.ndarray,
    indices,
    context_slices: int,
    *,
    image_size: int,
    canvas_size: int,
) -> np.ndarray:
    """The `K` axial neighbours on each side of slices `indices`, cut as `to_model_slices` cuts a slice.

    Neighbour `k + d` of slice `k` is taken from the whole volume (whether or not it has enough
    brain to be a training slice itself) and padded, cropped and resized exactly like a centre
    slice, with its own brain mask. Beyond the volume's ends (`k + d < 0` or `>= Z`) the
    neighbour is background: -1 in every pixel and contrast, as `fit_to_canvas` pads in-plane.
    The builders (`tfds_brats.examples`) and `magan_keras.inference` both call this, so a 2.5-D
    model sees at inference exactly the neighbours it was trained with.

    Args:
        images: float32 `[X, Y, Z, M]` in [-1, 1], background -1 (zero-filled channels come out
            as -1 outside the mask, as in `to_model_slices`: multiply by `available` again).
        brain_mask: bool `[X, Y, Z]`.
        indices: int `[N]` axial positions of the centre slices.
        context_slices: int K >= 0.
        image_size: int. The model's size S.
        canvas_size: int. Square canvas of the pad / crop before resizing.

    Returns:
        float32 `[N, S, S, M, 2K]`; channel `j` of the last axis is the neighbour at offset
        `context_offsets(K)[j]` (`-K, ..., -1, 1, ..., K`).

    Example:
    >>> import numpy as np
    >>> z = np.arange(5, dtype=np.float32) / 10  # each slice holds its own index / 10
    >>> images = np.broadcast_to(z[None, None, :, None], (8, 8, 5, 1)).copy()
    >>> context = to_context_slices(images, np.ones((8, 8, 5), bool), [0, 2], 1, image_size=8, canvas_size=8)
    >>> context.shape, (context[:, 0, 0, 0] * 10).round().tolist()  # slice 0: below it is background
    ((2, 8, 8, 1, 2), [[-10.0, 1.0], [1.0, 3.0]])
    """
    brain_mask = np.asarray(brain_mask, bool)
    indices = np.asarray(indices, int).reshape(-1)
    offsets = context_offsets(context_slices)
    depth = brain_mask.shape[2]
    channels = images.shape[-1]
    context = np.full((indices.size, image_size, image_size, channels, offsets.size), -1.0, np.float32)
    if indices.size == 0 or offsets.size == 0:
        return context
    neighbours = indices[:, None] + offsets[None, :]  # [N, 2K]
    inside = (neighbours >= 0) & (neighbours < depth)
    wanted = np.unique(neighbours[inside])
    if wanted.size == 0:
        return context
    cut = to_model_slices(images, brain_mask, image_size=image_size, canvas_size=canvas_size, indices=wanted).images
    rows = np.searchsorted(wanted, np.clip(neighbours, 0, depth - 1))
    for j in range(offsets.size):
        chosen = inside[:, j]
        context[chosen, ..., j] = cut[rows[chosen, j]]
    return context


def from_model_slices(slices: np.ndarray, indices, volume_shape, *, canvas_size: int, fill: float = -1.0) -> np.ndarray:
    """Puts model-size slices back into a volume: the inverse of `to_model_slices`.

    Args:
        slices: float32 `[K, S, S]` (e.g. model outputs).
        indices: int `[K]` axial positions they came from.
        volume_shape: `(X, Y, Z)` of the volume.
        canvas_size: int. The canvas `to_model_slices` used.
        fill: value of the slices not given and of regions a crop removed.

    Returns:
        float32 `[X, Y, Z]`.

    Example:
    >>> import numpy as np
    >>> volume = from_model_slices(np.zeros((2, 16, 16), np.float32), [3, 4], (24, 20, 8), canvas_size=32)
    >>> volume.shape, float(volume[:, :, 3].max()), float(volume[:, :, 0].max())
    ((24, 20, 8), 0.0, -1.0)
    """
    slices = np.asarray(slices, np.float32)
    if slices.shape[1] != canvas_size or slices.shape[2] != canvas_size:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        slices = tf.image.resize(
            slices[..., None], (canvas_size, canvas_size), method="bilinear", antialias=True
        ).numpy()[..., 0]
    slices = from_canvas(slices, volume_shape[:2], fill)
    volume = np.full(tuple(volume_shape), fill, np.float32)
    volume[:, :, np.asarray(indices, int)] = np.moveaxis(slices, 0, 2)
    return volume
