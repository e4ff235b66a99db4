"""From one subject's canonical volumes to TFDS examples (shared by all builders).

Both builders (`brats` from NIfTI files, `brats_phantom` from the simulator)
hand a subject's arrays to `subject_examples`, so what they write is identical.

Slices (`layout="slices"`):

1. each contrast is normalised with `intensity.normalise_volume` inside the
   subject's brain mask (percentiles 0.5 / 99.5 -> -1 / +1, background -1);
2. axial slices `[:, :, k]` whose brain covers less than `min_brain_fraction`
   of the slice (default 5 %, measured on the slice as stored, before any
   padding) are left out;
3. each kept slice is centre-padded (or centre-cropped) in-plane to a square
   `canvas_size` (256 for BraTS: 240 + 8 + 8), images with -1, brain mask and
   seg with 0;
4. then resized to `image_size` when it differs from the canvas: images
   bilinear with antialiasing (`tf.image.resize(..., antialias=True)`, so 2x /
   4x reductions average neighbouring pixels instead of skipping them), brain
   mask and seg nearest-neighbour; image pixels outside the resized mask are
   set to exactly -1.

Slices keep the canonical in-plane axes: rows are the canonical first axis
(x, increasing towards Right), columns the second (y, increasing towards
Anterior). `numpy.rot90(slice)` shows the usual axial picture: anterior up,
the subject's left on the image's left (neurological convention).

Volumes (`layout="volumes"`): the whole normalised subject, no padding,
`images [X, Y, Z, 4]` plus the canonical affine.

Example:

```python
from tfds_brats import examples
for key, example in examples.subject_examples(
        "s1", volumes, mask, seg, affine, layout="slices", image_size=64,
        canvas_size=256, min_brain_fraction=0.05):
    print(key, example["images"].shape)  # s1/071 (64, 64, 4)
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from tfds_brats import intensity
from tfds_brats.constants import MODALITIES

LAYOUTS = ("slices", "volumes")
SLICES_PER_CHUNK = 16


def brain_fraction_per_slice(brain_mask: np.ndarray) -> np.ndarray:
    """Fraction of each axial slice `[:, :, k]` covered by the brain mask.

    Example:

    ```python
    fractions = brain_fraction_per_slice(mask)  # shape [Z]
    ```
    """
    mask = np.asarray(brain_mask, bool)
    return mask.sum(axis=(0, 1)) / float(mask.shape[0] * mask.shape[1])


def usable_slice_indices(brain_mask: np.ndarray, min_brain_fraction: float) -> np.ndarray:
    """Indices `k` of the axial slices with at least `min_brain_fraction` brain.

    A slice is kept when its brain fraction is `>= min_brain_fraction` and it
    holds at least one brain voxel.

    Example:

    ```python
    kept = usable_slice_indices(mask, 0.05)
    ```
    """
    fractions = brain_fraction_per_slice(brain_mask)
    return np.flatnonzero((fractions >= min_brain_fraction) & (fractions > 0))


def normalise_subject(
    volumes: Mapping[str, np.ndarray], brain_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalises each contrast and stacks them in MODALITIES order.

    Args:
        volumes: dict modality -> array [X, Y, Z].
        brain_mask: bool [X, Y, Z].

    Returns:
        `(images, norm_low, norm_high)`: float32 `[X, Y, Z, 4]` in [-1, 1]
        and float32 `[4]` each.

    Raises:
        intensity.ConstantImageError: a contrast is constant inside the mask;
            the message names the contrast.

    Example:

    ```python
    images, low, high = normalise_subject(volumes, mask)
    ```
    """
    channels, lows, highs = [], [], []
    for modality in MODALITIES:
        try:
            scaled, low, high = intensity.normalise_volume(volumes[modality], brain_mask)
        except intensity.ConstantImageError as error:
            raise intensity.ConstantImageError(f"contrast '{modality}': {error}") from error
        channels.append(scaled)
        lows.append(low)
        highs.append(high)
    return (
        np.stack(channels, axis=-1),
        np.asarray(lows, np.float32),
        np.asarray(highs, np.float32),
    )


def fit_to_canvas(array: np.ndarray, canvas_size: int, fill) -> np.ndarray:
    """Centre-pads (with `fill`) or centre-crops axes 1 and 2 to `canvas_size`.

    Args:
        array: `[K, H, W, ...]` (a stack of slices).
        canvas_size: int. side of the square output.
        fill: value for the padding.

    Returns:
        `[K, canvas_size, canvas_size, ...]`, same dtype. An odd difference
        puts the extra row / column at the end (after) when padding and cuts
        it from the end when cropping.

    Example:

    ```python
    fit_to_canvas(np.zeros((3, 240, 240, 4)), 256, -1.0).shape  # (3, 256, 256, 4)
    ```
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


def resize_slices(
    images: np.ndarray, brain_mask: np.ndarray, seg: np.ndarray, image_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resizes square slices: images bilinear (antialiased), mask and seg nearest.

    Args:
        images: float32 `[K, C, C, 4]`.
        brain_mask: bool `[K, C, C]`.
        seg: uint8 `[K, C, C]`.
        image_size: int. output side.

    Returns:
        the three arrays at `image_size`; images are exactly -1 outside the
        resized mask.

    Example:

    ```python
    images, mask, seg = resize_slices(images, mask, seg, 128)
    ```
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


def slice_examples(
    subject_id: str,
    images: np.ndarray,
    brain_mask: np.ndarray,
    seg: np.ndarray | None,
    norm_low: np.ndarray,
    norm_high: np.ndarray,
    *,
    image_size: int,
    canvas_size: int,
    min_brain_fraction: float,
) -> Iterator[tuple[str, dict]]:
    """Yields `(key, example)` for the usable axial slices of one subject.

    Args:
        subject_id: str. stored as `subject_id`; keys are `"<id>/<k:04d>"`.
        images: float32 `[X, Y, Z, 4]` normalised (see `normalise_subject`).
        brain_mask: bool `[X, Y, Z]`.
        seg: uint8 `[X, Y, Z]` or None (stored as zeros, `has_seg=False`).
        norm_low, norm_high: float32 `[4]`.
        image_size: int. output side S.
        canvas_size: int. side the slice is padded / cropped to before resizing.
        min_brain_fraction: float. slices with less brain are left out.

    Example:

    ```python
    for key, ex in slice_examples("s1", images, mask, None, low, high,
                                  image_size=64, canvas_size=256,
                                  min_brain_fraction=0.05):
        ...
    ```
    """
    has_seg = seg is not None
    if seg is None:
        seg = np.zeros(brain_mask.shape, np.uint8)
    kept = usable_slice_indices(brain_mask, min_brain_fraction)
    # A few slices at a time: the padded float32 canvases of a whole BraTS
    # subject would take several hundred MB.
    for start in range(0, kept.size, SLICES_PER_CHUNK):
        chunk = kept[start : start + SLICES_PER_CHUNK]
        # [X, Y, K, ...] -> [K, X, Y, ...]
        slice_images = fit_to_canvas(np.moveaxis(images[:, :, chunk], 2, 0), canvas_size, -1.0)
        slice_masks = fit_to_canvas(np.moveaxis(brain_mask[:, :, chunk], 2, 0), canvas_size, False)
        slice_segs = fit_to_canvas(np.moveaxis(seg[:, :, chunk], 2, 0), canvas_size, 0)
        slice_images, slice_masks, slice_segs = resize_slices(
            slice_images.astype(np.float32, copy=False),
            slice_masks.astype(bool, copy=False),
            slice_segs.astype(np.uint8, copy=False),
            image_size,
        )
        for position, index in enumerate(chunk):
            yield f"{subject_id}/{int(index):04d}", {
                "images": slice_images[position],
                "brain_mask": slice_masks[position],
                "seg": slice_segs[position],
                "has_seg": has_seg,
                "subject_id": subject_id,
                "slice_index": np.int32(index),
                "norm_low": norm_low,
                "norm_high": norm_high,
            }


def volume_example(
    subject_id: str,
    images: np.ndarray,
    brain_mask: np.ndarray,
    seg: np.ndarray | None,
    norm_low: np.ndarray,
    norm_high: np.ndarray,
    affine: np.ndarray,
) -> tuple[str, dict]:
    """`(key, example)` holding a whole normalised subject.

    Example:

    ```python
    key, ex = volume_example("s1", images, mask, seg, low, high, affine)
    ```
    """
    has_seg = seg is not None
    if seg is None:
        seg = np.zeros(brain_mask.shape, np.uint8)
    return subject_id, {
        "images": images.astype(np.float32),
        "brain_mask": np.asarray(brain_mask, bool),
        "seg": seg.astype(np.uint8),
        "has_seg": has_seg,
        "subject_id": subject_id,
        "norm_low": norm_low,
        "norm_high": norm_high,
        "affine": np.asarray(affine, np.float32),
    }


def subject_examples(
    subject_id: str,
    volumes: Mapping[str, np.ndarray],
    brain_mask: np.ndarray,
    seg: np.ndarray | None,
    affine: np.ndarray,
    *,
    layout: str,
    image_size: int,
    canvas_size: int,
    min_brain_fraction: float,
) -> Iterator[tuple[str, dict]]:
    """Normalises a subject and yields its examples for `layout`.

    Args:
        subject_id: str.
        volumes: dict modality -> [X, Y, Z] canonical arrays (background 0).
        brain_mask: bool [X, Y, Z].
        seg: uint8 [X, Y, Z] (labels 0/1/2/4) or None.
        affine: [4, 4] canonical voxel -> world affine (stored by "volumes").
        layout: "slices" or "volumes".
        image_size, canvas_size, min_brain_fraction: see `slice_examples`
            (ignored by "volumes").

    Example:

    ```python
    for key, ex in subject_examples("s1", volumes, mask, seg, affine,
                                    layout="volumes", image_size=0,
                                    canvas_size=0, min_brain_fraction=0.0):
        print(ex["images"].shape)  # (X, Y, Z, 4)
    ```
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    images, low, high = normalise_subject(volumes, brain_mask)
    if layout == "volumes":
        yield volume_example(subject_id, images, brain_mask, seg, low, high, affine)
        return
    yield from slice_examples(
        subject_id,
        images,
        brain_mask,
        seg,
        low,
        high,
        image_size=image_size,
        canvas_size=canvas_size,
        min_brain_fraction=min_brain_fraction,
    )
