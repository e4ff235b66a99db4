"""TFDS feature specs shared by the `brats` and `brats_phantom` builders.

Slices (one example per axial slice, contract of the project):

| feature     | shape / dtype           | meaning                                    |
|-------------|-------------------------|--------------------------------------------|
| images      | [S, S, 4] float32, zlib | contrasts in MODALITIES order, in [-1, 1]  |
| brain_mask  | [S, S] bool, zlib       | brain voxels (background images are -1)    |
| seg         | [S, S] uint8, zlib      | 0 bg, 1 necrosis, 2 edema, 4 enhancing     |
| has_seg     | bool                    | False: seg is all zero because none given  |
| subject_id  | text                    |                                            |
| slice_index | int32                   | k of the canonical axial slice [:, :, k]   |
| norm_low    | [4] float32             | intensity mapped to -1, per contrast       |
| norm_high   | [4] float32             | intensity mapped to +1, per contrast       |
| context     | [S, S, 4, 2K] f32, zlib | only with `context_slices` K > 0: the K    |
|             |                         | axial neighbours on each side, offsets     |
|             |                         | -K..-1, 1..K; -1 beyond the volume's ends  |

Volumes: the same names with images `[X, Y, Z, 4]`, brain_mask and seg
`[X, Y, Z]` (shapes left open: BraTS gives 240 x 240 x 155), no
`slice_index`, and `affine` `[4, 4]` float32 (canonical voxel -> world, mm).

Example:
>>> from tfds_brats.features import slice_features
>>> slice_features(128)["images"].shape
(128, 128, 4)
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from tfds_brats.constants import MODALITIES

_ZLIB = tfds.features.Encoding.ZLIB


def slice_features(image_size: int, context_slices: int = 0) -> tfds.features.FeaturesDict:
    """Features of the slice configs at side `image_size`.

    Args:
        image_size: int. Side S of the stored slices.
        context_slices: int K. With K > 0 a `context` feature `[S, S, 4, 2K]` holds the
            neighbours (`tfds_brats.slicing.to_context_slices`); 0 adds nothing.

    Example:
    >>> sorted(slice_features(16))[:3]
    ['brain_mask', 'has_seg', 'images']
    >>> slice_features(16, context_slices=2)["context"].shape
    (16, 16, 4, 4)
    """
    size = (image_size, image_size)
    context = {}
    if context_slices:
        context["context"] = tfds.features.Tensor(
            shape=size + (len(MODALITIES), 2 * context_slices),
            dtype=np.float32,
            encoding=_ZLIB,
            doc="Axial neighbours at offsets -K..-1, 1..K of each contrast, [-1, 1]; -1 beyond the volume.",
        )
    return tfds.features.FeaturesDict(
        {
            **context,
            "images": tfds.features.Tensor(
                shape=size + (len(MODALITIES),),
                dtype=np.float32,
                encoding=_ZLIB,
                doc=f"Contrasts {', '.join(MODALITIES)} in [-1, 1], background -1.",
            ),
            "brain_mask": tfds.features.Tensor(shape=size, dtype=np.bool_, encoding=_ZLIB),
            "seg": tfds.features.Tensor(
                shape=size,
                dtype=np.uint8,
                encoding=_ZLIB,
                doc="0 background, 1 necrosis, 2 edema, 4 enhancing tumour.",
            ),
            "has_seg": tfds.features.Scalar(dtype=np.bool_),
            "subject_id": tfds.features.Text(),
            "slice_index": tfds.features.Scalar(dtype=np.int32, doc="Index k of the canonical axial slice [:, :, k]."),
            "norm_low": tfds.features.Tensor(shape=(len(MODALITIES),), dtype=np.float32),
            "norm_high": tfds.features.Tensor(shape=(len(MODALITIES),), dtype=np.float32),
        }
    )


def volume_features() -> tfds.features.FeaturesDict:
    """Features of the `volumes` config (whole subjects).

    Example:
    >>> volume_features()["affine"].shape
    (4, 4)
    """
    grid = (None, None, None)
    return tfds.features.FeaturesDict(
        {
            "images": tfds.features.Tensor(
                shape=grid + (len(MODALITIES),),
                dtype=np.float32,
                encoding=_ZLIB,
                doc=f"Contrasts {', '.join(MODALITIES)} in [-1, 1], background -1.",
            ),
            "brain_mask": tfds.features.Tensor(shape=grid, dtype=np.bool_, encoding=_ZLIB),
            "seg": tfds.features.Tensor(
                shape=grid,
                dtype=np.uint8,
                encoding=_ZLIB,
                doc="0 background, 1 necrosis, 2 edema, 4 enhancing tumour.",
            ),
            "has_seg": tfds.features.Scalar(dtype=np.bool_),
            "subject_id": tfds.features.Text(),
            "norm_low": tfds.features.Tensor(shape=(len(MODALITIES),), dtype=np.float32),
            "norm_high": tfds.features.Tensor(shape=(len(MODALITIES),), dtype=np.float32),
            "affine": tfds.features.Tensor(shape=(4, 4), dtype=np.float32, doc="Canonical (RAS+) voxel -> world, mm."),
        }
    )


def features_for(layout: str, image_size: int, context_slices: int = 0) -> tfds.features.FeaturesDict:
    """`slice_features(image_size, context_slices)` or `volume_features()` by layout.

    Args:
        layout: "slices" or "volumes".
        image_size: int. Side of the slices (ignored by "volumes").
        context_slices: int. Neighbours on each side stored with each slice (ignored by "volumes").

    Example:
    >>> "slice_index" in features_for("slices", 16), "slice_index" in features_for("volumes", 0)
    (True, False)
    """
    if layout == "volumes":
        return volume_features()
    return slice_features(image_size, context_slices)
