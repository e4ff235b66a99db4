"""Multi-planar synthesis: slice the volume along several axes, synthesise each, fuse.

A model trained on axial slices synthesises a volume slice by slice along z, and nothing ties
neighbouring slices together (stripes in coronal and sagittal cuts). `synthesize_planes` runs
the ordinary volume synthesis (`generator.synthesize_volume`: canvas, resize, batches, exact
inverse) once per requested plane on the volume transposed so that plane's slices are its axial
ones (`tfds_brats.planes.to_axial`), transposes each result back, and fuses them voxel by voxel:
the mean of the planes (a voxel-wise median measured no better on the phantom). Every plane
uses the canvas of the axial one (the model's saved canvas), so the brain keeps the pixel scale
the model was trained at; coronal and sagittal slices (240 x 155 for BraTS) are centre-padded to
it. A voxel a plane's canvas crops away (a slice side larger than the canvas) is left out of
that plane's vote; voxels no plane covers are -1, as outside the brain.

`planes=("axial",)` is exactly `synthesize_volume`. The cost is one volume synthesis per plane
(coronal and sagittal stacks hold as many slices as the volume has rows / columns with brain).

Example:
>>> import numpy as np
>>> from magan_keras.inference.planes import synthesize_planes
>>> from magan_keras.models import MultiBranchGenerator
>>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1,
...                                  preprocessing={"canvas_size": 16})
>>> mask = np.zeros((16, 16, 8), bool)
>>> mask[3:13, 3:13, 1:7] = True
>>> images = np.where(mask[..., None], 0.0, -1.0).astype(np.float32) * np.float32([1, 1, 1, 0])
>>> fused = synthesize_planes(generator, images, [1, 1, 1, 0], "flair", mask, planes=("axial", "coronal"))
>>> fused.shape, float(fused[~mask].max())
((16, 16, 8), -1.0)
"""

from __future__ import annotations

import warnings

import numpy as np

from magan_keras.inference import generator as inference
from tfds_brats import slicing
from tfds_brats.planes import DEFAULT_PLANES, from_axial, in_plane_shape, parse_planes, to_axial


def parse_options(planes, error=ValueError) -> tuple:
    """The `--planes` option checked, with errors naming the option.

    Args:
        planes: str ("axial,coronal"), names, or None (axial).
        error: the exception class to raise (a command's own input error).

    Returns:
        tuple of plane names.

    Example:
    >>> parse_options("coronal,axial")
    ('coronal', 'axial')
    >>> parse_options("axial,sagital")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --planes: unknown plane 'sagital'; choose from axial, coronal, sagittal (comma-separated)
    """
    try:
        names = parse_planes(planes)
    except ValueError as problem:
        raise error(f"--planes: {problem}") from None
    return names


def slice_count(brain_mask, planes=DEFAULT_PLANES) -> int:
    """Slices with brain over `planes` (the number of model inputs one target costs).

    Args:
        brain_mask: bool `[X, Y, Z]`.
        planes: names or a comma-separated str (`tfds_brats.planes.parse_planes`).

    Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 12, 4), bool)
    >>> mask[2:5, 3:9, 1:3] = True
    >>> slice_count(mask), slice_count(mask, "axial,coronal,sagittal")
    (2, 11)
    """
    mask = np.asarray(brain_mask, bool)
    return sum(len(slicing.usable_slice_indices(to_axial(mask, p), 0.0)) for p in parse_planes(planes))


def _covered(volume_shape, plane, canvas_size) -> np.ndarray:
    """Bool `[X, Y, Z]`: the voxels a `plane` slice keeps after the canvas's centre crop."""
    shape = to_axial(np.empty(volume_shape, bool), plane).shape
    covered = np.zeros(shape, bool)
    window = []
    for size in shape[:2]:  # the crop of `slicing.fit_to_canvas`
        start = max(0, (size - canvas_size) // 2)
        window.append(slice(start, start + canvas_size))
    covered[window[0], window[1], :] = True
    return from_axial(covered, plane)


def synthesize_planes(
    generator,
    images,
    available,
    target,
    brain_mask,
    *,
    planes=DEFAULT_PLANES,
    canvas_size=None,
    batch_size=8,
    progress=None,
    **synthesis_options,
) -> np.ndarray:
    """Synthesises one contrast of a normalised volume along each of `planes` and fuses them.

    Args:
        generator: from `inference.load_generator`.
        images: float32 `[X, Y, Z, M]` normalised, missing contrasts zero-filled (canonical RAS+).
        available: `[M]` 0/1.
        target: int channel index or contrast name.
        brain_mask: bool `[X, Y, Z]`.
        planes: names of `tfds_brats.planes.PLANES` (or a comma-separated str); default axial.
        canvas_size: int or None. The canvas of every plane (None: the one the axial slices get,
            `inference.canvas_size_of`).
        batch_size: int. Slices per model call.
        progress: callable taking a number of slices done, or None.
        **synthesis_options: passed on to `inference.synthesize_volume`.

    Returns:
        float32 `[X, Y, Z]` in [-1, 1], -1 outside the brain.

    Raises:
        ValueError: an unknown plane.

    Example: see the module docstring.
    """
    planes = parse_planes(planes)
    brain_mask = np.asarray(brain_mask, bool)
    canvas = inference.canvas_size_of(generator, brain_mask.shape[:2], canvas_size)
    options = {"canvas_size": canvas, "batch_size": batch_size, "progress": progress, **synthesis_options}
    if planes == ("axial",):
        return inference.synthesize_volume(generator, images, available, target, brain_mask, **options)
    votes = []
    for plane in planes:
        volume = inference.synthesize_volume(
            generator,
            np.ascontiguousarray(to_axial(images, plane)),
            available,
            target,
            np.ascontiguousarray(to_axial(brain_mask, plane)),
            **options,
        )
        volume = from_axial(volume, plane)
        if max(in_plane_shape(brain_mask.shape, plane)) > canvas:
            volume = np.where(_covered(brain_mask.shape, plane, canvas), volume, np.nan)
        votes.append(volume)
    stack = np.stack(votes)
    if np.isnan(stack).any():  # some plane's canvas cropped part of the volume away
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # voxels no plane covers: NaN, then -1
            fused = np.nanmean(stack, axis=0, dtype=np.float64)
    else:  # float64 sums: equal votes give back exactly their value
        fused = stack.mean(axis=0, dtype=np.float64)
    fused = np.clip(np.nan_to_num(fused, nan=-1.0), -1.0, 1.0).astype(np.float32)
    fused[~brain_mask] = -1.0
    return fused
