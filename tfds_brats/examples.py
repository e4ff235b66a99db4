"""From one subject's canonical volumes to TFDS examples (shared by all builders).

Both builders (`brats` from NIfTI files, `brats_phantom` from the simulator)
hand a subject's arrays to `subject_examples`, so what they write is identical.

Slices (`layout="slices"`):

1. each contrast is normalised with `intensity.normalise_volume` inside the
   subject's brain mask (percentiles 0.5 / 99.5 -> -1 / +1, background -1);
2. axial slices `[:, :, k]` whose brain covers less than `min_brain_fraction`
   of the slice (`constants.MIN_BRAIN_FRACTION`, 5 %, measured on the slice as
   stored, before any padding) are left out;
3. each kept slice is centre-padded (or centre-cropped) in-plane to a square
   `canvas_size` (`constants.BRATS_CANVAS_SIZE`, 256 for BraTS: 240 + 8 + 8),
   images with -1, brain mask and seg with 0;
4. then resized to `image_size` when it differs from the canvas: images
   bilinear with antialiasing (`tf.image.resize(..., antialias=True)`, so 2x /
   4x reductions average neighbouring pixels instead of skipping them), brain
   mask and seg nearest-neighbour; image pixels outside the resized mask are
   set to exactly -1.

Steps 2-4 are `tfds_brats.slicing` (`usable_slice_indices`, `to_model_slices`),
which also holds their inverse for inference.

2.5-D context (`context_slices` K > 0): each slice example also carries `context`
`[S, S, 4, 2K]`, the K axial neighbours on each side (offsets -K..-1, 1..K) cut by
the same steps 3-4 (`slicing.to_context_slices`). Neighbours come from the whole
volume, also those with too little brain to be examples themselves; beyond the
volume's first and last slice they are background, -1 everywhere (as the in-plane
padding). Only the centre slice decides whether an example is kept.

Slices keep the canonical in-plane axes: rows are the canonical first axis
(x, increasing towards Right), columns the second (y, increasing towards
Anterior). `numpy.rot90(slice)` shows the usual axial picture: anterior up,
the subject's left on the image's left (neurological convention).

Volumes (`layout="volumes"`): the whole normalised subject, no padding,
`images [X, Y, Z, 4]` plus the canonical affine.

Example:
>>> import numpy as np
>>> from tfds_brats import examples
>>> from tfds_brats.brats.make_dummy_data import fake_canonical_subject
>>> volumes, seg = fake_canonical_subject(0)
>>> mask = np.any([v != 0 for v in volumes.values()], axis=0)
>>> produced = list(examples.subject_examples("s1", volumes, mask, seg, np.eye(4), layout="slices",
...                                           image_size=16, canvas_size=32, min_brain_fraction=0.05))
>>> key, example = produced[0]
>>> len(produced), key, example["images"].shape
(11, 's1/0001', (16, 16, 4))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from tfds_brats import intensity, slicing
from tfds_brats.constants import MODALITIES
from tfds_brats.slicing import usable_slice_indices  # noqa: F401  (re-exported: the slice rule, for old callers)

LAYOUTS = ("slices", "volumes")
SLICES_PER_CHUNK = 16


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
    >>> import numpy as np
    >>> from tfds_brats.brats.make_dummy_data import fake_canonical_subject
    >>> volumes, _ = fake_canonical_subject(0)
    >>> images, low, high = normalise_subject(volumes, np.any([v != 0 for v in volumes.values()], axis=0))
    >>> images.shape, low.shape, bool(np.all(high > low))
    ((24, 24, 12, 4), (4,), True)
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
    context_slices: int = 0,
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
        context_slices: int K >= 0. With K > 0 each example also holds `context`
            `[S, S, 4, 2K]` (`slicing.to_context_slices`).

    Example:
    >>> import numpy as np
    >>> mask = np.zeros((8, 8, 3), bool)
    >>> mask[2:6, 2:6, 1] = True
    >>> images = np.where(mask[..., None], 0.0, -1.0).astype(np.float32).repeat(4, axis=-1)
    >>> low, high = np.zeros(4, np.float32), np.ones(4, np.float32)
    >>> [(key, ex["has_seg"]) for key, ex in slice_examples("s1", images, mask, None, low, high, image_size=8,
    ...                                                      canvas_size=8, min_brain_fraction=0.05)]
    [('s1/0001', False)]
    """
    has_seg = seg is not None
    if seg is None:
        seg = np.zeros(brain_mask.shape, np.uint8)
    kept = slicing.usable_slice_indices(brain_mask, min_brain_fraction)
    # A few slices at a time: the padded float32 canvases of a whole BraTS
    # subject would take several hundred MB.
    for start in range(0, kept.size, SLICES_PER_CHUNK):
        chunk = kept[start : start + SLICES_PER_CHUNK]
        slice_images, slice_masks, slice_segs, _ = slicing.to_model_slices(
            images, brain_mask, image_size=image_size, canvas_size=canvas_size, indices=chunk, seg=seg
        )
        context = {}
        if context_slices:
            # [N, S, S, 4, 2K]
            context["context"] = slicing.to_context_slices(
                images, brain_mask, chunk, context_slices, image_size=image_size, canvas_size=canvas_size
            )
        for position, index in enumerate(chunk):
            yield (
                f"{subject_id}/{int(index):04d}",
                {
                    **{name: value[position] for name, value in context.items()},
                    "images": slice_images[position],
                    "brain_mask": slice_masks[position],
                    "seg": slice_segs[position],
                    "has_seg": has_seg,
                    "subject_id": subject_id,
                    "slice_index": np.int32(index),
                    "norm_low": norm_low,
                    "norm_high": norm_high,
                },
            )


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

    Args:
        subject_id: str. The key and `subject_id`.
        images: float32 `[X, Y, Z, 4]` normalised.
        brain_mask: bool `[X, Y, Z]`.
        seg: uint8 `[X, Y, Z]` or None (stored as zeros, `has_seg=False`).
        norm_low, norm_high: float32 `[4]`.
        affine: `[4, 4]` canonical voxel -> world.

    Example:
    >>> import numpy as np
    >>> key, ex = volume_example("s1", np.zeros((2, 2, 2, 4)), np.ones((2, 2, 2), bool), None,
    ...                          np.zeros(4), np.ones(4), np.eye(4))
    >>> key, ex["images"].dtype.name, ex["has_seg"], ex["affine"].shape
    ('s1', 'float32', False, (4, 4))
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
    context_slices: int = 0,
) -> Iterator[tuple[str, dict]]:
    """Normalises a subject and yields its examples for `layout`.

    Args:
        subject_id: str.
        volumes: dict modality -> [X, Y, Z] canonical arrays (background 0).
        brain_mask: bool [X, Y, Z].
        seg: uint8 [X, Y, Z] (labels 0/1/2/4) or None.
        affine: [4, 4] canonical voxel -> world affine (stored by "volumes").
        layout: "slices" or "volumes".
        image_size, canvas_size, min_brain_fraction, context_slices: see
            `slice_examples` (ignored by "volumes").

    Example:
    >>> import numpy as np
    >>> from tfds_brats.brats.make_dummy_data import fake_canonical_subject
    >>> volumes, seg = fake_canonical_subject(1)
    >>> mask = np.any([v != 0 for v in volumes.values()], axis=0)
    >>> for key, ex in subject_examples("s1", volumes, mask, seg, np.eye(4), layout="volumes",
    ...                                 image_size=0, canvas_size=0, min_brain_fraction=0.0):
    ...     print(key, ex["images"].shape)
    s1 (24, 24, 12, 4)
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
        context_slices=context_slices,
    )
