"""Whole NIfTI volumes <-> model batches: loading, slicing to the model size and back, saving.

The training slices come from `tfds_brats.examples`: each contrast normalised inside the brain
(0.5 / 99.5 percentiles -> -1 / +1, background -1), axial slices `[:, :, k]` of the canonical
(RAS+) volume, centre-padded (-1) or centre-cropped in-plane to a square canvas (256 for the
`brats` builder, the image size itself for `brats_phantom`), then resized to the model's size
(bilinear with antialiasing). This module does exactly that to a subject's volumes
(`to_model_slices`, which calls the builder's own functions) and the exact inverse to the model's
output (`from_model_slices`: resize back to the canvas, undo the pad / crop), so a synthesis lines
up voxel for voxel with its inputs. Voxels a crop cut away are returned as background.

Loading (`load_volumes`) accepts any non-empty set of contrasts (the tfds_brats reader insists on
all four); each file is checked (readable, 3-D, finite, not all zero, same voxel grid as the
others) and every error names the file. `save_like` writes an array in the voxel order, affine
and header of a reference input file.

Example:

```python
from magan_keras.inference import volumes


loaded = volumes.load_volumes({"t1": "s_t1.nii.gz", "t2": "s_t2.nii.gz"})
mask = volumes.brain_mask_of(loaded.volumes)
slices, slice_mask, kept = volumes.to_model_slices(images, mask, image_size=128, canvas_size=256)
restored = volumes.from_model_slices(slices[..., 0], kept, mask.shape, canvas_size=256)
volumes.save_like(restored, loaded.reference, "out/s_flair_synthetic.nii.gz")
```
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile
from collections.abc import Mapping

import nibabel as nib
import numpy as np

from tfds_brats import examples, intensity, subjects

# The `brats` builder's default canvas (BratsConfig.canvas_size): 240 x 240 BraTS slices padded
# by 8 on each side. `tests/test_synthesize.py` checks it still equals the builder's default.
BRATS_CANVAS_SIZE = 256
# Tolerance when comparing the canonical affines of a subject's files (mm), as tfds_brats.
AFFINE_TOLERANCE = subjects.AFFINE_TOLERANCE


@dataclasses.dataclass(frozen=True)
class LoadedVolumes:
    """Volumes read by `load_volumes`.

    Attributes:
        subject_id: str. name used in messages.
        volumes: dict contrast -> float32 `[X, Y, Z]` in canonical (RAS+) orientation.
        paths: dict contrast -> pathlib.Path it was read from.
        reference: nibabel image of the first file (voxel order, affine and header of outputs).
        reference_path: pathlib.Path of that file.
        affine: float64 `[4, 4]` canonical voxel -> world affine.
    """

    subject_id: str
    volumes: dict
    paths: dict
    reference: object
    reference_path: pathlib.Path
    affine: np.ndarray

    @property
    def shape(self):
        """Canonical `(X, Y, Z)`."""
        return next(iter(self.volumes.values())).shape


def load_volumes(paths: Mapping[str, os.PathLike | str], subject_id: str | None = None) -> LoadedVolumes:
    """Loads some contrasts of one subject in canonical orientation, checking every file.

    Args:
        paths: dict contrast name -> NIfTI path (any non-empty set; the order is kept and the
            first file is the reference for outputs).
        subject_id: str or None. Name used in errors (default: the first file's folder name).

    Returns:
        `LoadedVolumes`.

    Raises:
        tfds_brats.subjects.SubjectError: naming the file: missing or unreadable, not 3-D, NaN or
            infinite voxels, all zero, or a shape / affine differing from the first file's.
        ValueError: no paths.

    Example:

    ```python
    loaded = load_volumes({"t1": "s_t1.nii.gz", "t1ce": "s_t1ce.nii.gz"}, "s")
    loaded.volumes["t1"].shape  # canonical (X, Y, Z)
    ```
    """
    if not paths:
        raise ValueError("load_volumes: no contrast files given")
    paths = {name: pathlib.Path(os.path.expanduser(os.fspath(path))) for name, path in paths.items()}
    if subject_id is None:
        subject_id = next(iter(paths.values())).parent.name or "?"
    loaded, reference = {}, None
    for name, path in paths.items():
        if not path.is_file():
            raise subjects.SubjectError(subject_id, path, f"no such file (given for '{name}')")
        try:
            image = nib.load(os.fspath(path))
            canonical = nib.as_closest_canonical(image)
            data = np.asarray(canonical.get_fdata(dtype=np.float32))
        except Exception as error:  # nibabel raises many types for bad files
            raise subjects.SubjectError(
                subject_id, path, f"cannot read '{name}' ({type(error).__name__}: {error})"
            ) from error
        if data.ndim > 3 and all(n == 1 for n in data.shape[3:]):
            data = data.reshape(data.shape[:3])
        if data.ndim != 3:
            raise subjects.SubjectError(subject_id, path, f"'{name}' is not a 3-D volume: shape {data.shape}")
        finite = np.isfinite(data)
        if not finite.all():
            raise subjects.SubjectError(
                subject_id, path, f"'{name}' has {int(data.size - finite.sum())} NaN or infinite voxels"
            )
        if not data.any():
            raise subjects.SubjectError(subject_id, path, f"'{name}' is all zero")
        affine = np.asarray(canonical.affine, np.float64)
        if reference is None:
            reference = (path, image, affine, data.shape)
        else:
            ref_path, _, ref_affine, ref_shape = reference
            if data.shape != ref_shape:
                raise subjects.SubjectError(
                    subject_id, path,
                    f"'{name}' has shape {data.shape} (canonical) but {ref_path.name} has {ref_shape}",
                )
            if not np.allclose(affine, ref_affine, atol=AFFINE_TOLERANCE):
                raise subjects.SubjectError(
                    subject_id, path,
                    f"'{name}' is on another voxel grid than {ref_path.name} (affines differ):\n"
                    f"{affine}\nvs\n{ref_affine}",
                )
        loaded[name] = np.ascontiguousarray(data)
    ref_path, ref_image, ref_affine, _ = reference
    return LoadedVolumes(subject_id, loaded, paths, ref_image, ref_path, ref_affine)


def brain_mask_of(volumes: Mapping[str, np.ndarray]) -> np.ndarray:
    """The brain: voxels non-zero in any of the given (skull-stripped) volumes.

    Example:

    ```python
    mask = brain_mask_of(loaded.volumes)
    ```
    """
    return intensity.brain_mask(volumes.values())


def normalise_inputs(
    loaded: LoadedVolumes, modalities, brain_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The training normalisation of each loaded contrast, stacked in the model's order.

    Args:
        loaded: `LoadedVolumes` (contrasts not in `modalities` are an error).
        modalities: the model's contrast names in channel order (M of them).
        brain_mask: bool `[X, Y, Z]`; percentiles are taken inside it.

    Returns:
        `(images, available)`: float32 `[X, Y, Z, M]` in [-1, 1] (background -1), zero-filled for
        contrasts not loaded, and float32 `[M]` (1.0 where loaded).

    Raises:
        tfds_brats.subjects.SubjectError: a contrast is constant inside the brain (names the file).

    Example:

    ```python
    images, available = normalise_inputs(loaded, ("t1", "t1ce", "t2", "flair"), mask)
    ```
    """
    images = np.zeros(brain_mask.shape + (len(modalities),), np.float32)
    available = np.zeros(len(modalities), np.float32)
    modalities = tuple(modalities)
    for name, volume in loaded.volumes.items():
        if name not in modalities:
            raise subjects.SubjectError(
                loaded.subject_id, loaded.paths[name], f"the model has no input for '{name}' ({modalities})"
            )
        channel = modalities.index(name)
        try:
            images[..., channel], _, _ = intensity.normalise_volume(volume, brain_mask)
        except intensity.ConstantImageError as error:
            raise subjects.SubjectError(loaded.subject_id, loaded.paths[name], f"'{name}': {error}") from error
        available[channel] = 1.0
    return images, available


def resolve_canvas_size(canvas_size, in_plane_shape, image_size) -> int:
    """The canvas slices are padded / cropped to before resizing to `image_size`.

    Args:
        canvas_size: int, or None / "auto": `image_size` when the volume's in-plane shape is
            already `(image_size, image_size)` (how `brats_phantom` slices are made: no
            resampling), else `BRATS_CANVAS_SIZE` (the `brats` builder's 256).
        in_plane_shape: `(X, Y)` of the canonical volume.
        image_size: int. The model's input size.

    Example:

    ```python
    resolve_canvas_size(None, (240, 240), 128)  # 256
    resolve_canvas_size(None, (64, 64), 64)     # 64
    ```
    """
    if canvas_size in (None, "auto"):
        if tuple(in_plane_shape) == (image_size, image_size):
            return int(image_size)
        return BRATS_CANVAS_SIZE
    canvas_size = int(canvas_size)
    if canvas_size < 1:
        raise ValueError(f"canvas_size must be a positive int, got {canvas_size}")
    return canvas_size


def slices_with_brain(brain_mask: np.ndarray) -> np.ndarray:
    """Indices `k` of the axial slices `[:, :, k]` holding at least one brain voxel."""
    return np.flatnonzero(np.asarray(brain_mask, bool).any(axis=(0, 1)))


def to_model_slices(
    images: np.ndarray, brain_mask: np.ndarray, *, image_size: int, canvas_size: int, indices=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Axial slices of a normalised volume as the builder made the training slices.

    Args:
        images: float32 `[X, Y, Z, C]` in [-1, 1], background -1 (zero-filled channels allowed).
        brain_mask: bool `[X, Y, Z]`.
        image_size: int. The model's size S.
        canvas_size: int. Square canvas of the pad / crop before resizing (see
            `resolve_canvas_size`).
        indices: slice indices to take (default: those with brain).

    Returns:
        `(slices, slice_masks, indices)`: float32 `[K, S, S, C]` (exactly -1 outside the
        resized mask, as the builder writes them, zero-filled channels included: multiply by
        `available` again), bool `[K, S, S]`, int `[K]`.

    Example:

    ```python
    slices, masks, kept = to_model_slices(images, mask, image_size=128, canvas_size=256)
    ```
    """
    indices = slices_with_brain(brain_mask) if indices is None else np.asarray(indices, int)
    stack = np.moveaxis(images[:, :, indices], 2, 0)
    masks = np.moveaxis(np.asarray(brain_mask, bool)[:, :, indices], 2, 0)
    stack = examples.fit_to_canvas(stack, canvas_size, -1.0).astype(np.float32)
    masks = examples.fit_to_canvas(masks, canvas_size, False)
    seg = np.zeros(masks.shape, np.uint8)
    stack, masks, _ = examples.resize_slices(stack, masks, seg, image_size)
    return np.asarray(stack, np.float32), np.asarray(masks, bool), indices


def from_canvas(stack: np.ndarray, in_plane_shape, fill) -> np.ndarray:
    """Inverse of `tfds_brats.examples.fit_to_canvas` on axes 1 and 2.

    A padded axis is cropped back to its size; a cropped axis is padded back with `fill` (what
    the crop cut away is lost).

    Args:
        stack: `[K, C, C, ...]`.
        in_plane_shape: `(X, Y)` before `fit_to_canvas`.
        fill: value for regions a crop removed.

    Example:

    ```python
    from_canvas(fit_to_canvas(a, 256, -1.0), a.shape[1:3], -1.0)  # == a when a is <= 256 px
    ```
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


def from_model_slices(
    slices: np.ndarray, indices, volume_shape, *, canvas_size: int, fill: float = -1.0
) -> np.ndarray:
    """Puts model-size slices back into a volume: the inverse of `to_model_slices`.

    Args:
        slices: float32 `[K, S, S]` model outputs.
        indices: int `[K]` axial positions they came from.
        volume_shape: `(X, Y, Z)` of the volume.
        canvas_size: int. The canvas `to_model_slices` used.
        fill: value of the slices not given and of regions a crop removed.

    Returns:
        float32 `[X, Y, Z]`.

    Example:

    ```python
    volume = from_model_slices(predictions, kept, mask.shape, canvas_size=256)
    ```
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


def save_like(canonical: np.ndarray, reference, path: os.PathLike | str, *, description: str = "",
              cal_range=None) -> pathlib.Path:
    """Writes a canonical float32 array in the voxel order, affine and header of `reference`.

    The array is turned back from canonical (RAS+) to the reference file's own orientation; the
    header is the reference's (zooms, units, qform / sform and their codes) with the data type
    float32, no intensity scaling (slope 1, intercept 0), `cal_min` / `cal_max` set to
    `cal_range` and `descrip` set to `description`. The file is written under a temporary name
    and renamed, so an interrupted run leaves no partial output.

    Args:
        canonical: `[X, Y, Z]` in canonical orientation (as `load_volumes` returns).
        reference: nibabel image (`LoadedVolumes.reference`).
        path: output path (`.nii.gz` or `.nii`).
        description: str. at most 79 characters (NIfTI `descrip`).
        cal_range: `(min, max)` display range, or None to leave the header's.

    Returns:
        the path written.

    Example:

    ```python
    save_like(synthesis, loaded.reference, "out/s_flair_synthetic.nii.gz", cal_range=(0, 1))
    ```
    """
    path = pathlib.Path(path)
    data = subjects.to_original_orientation(np.asarray(canonical, np.float32), reference.affine)
    header = reference.header.copy()
    image = type(reference)(np.ascontiguousarray(data, np.float32), reference.affine, header)
    image.set_data_dtype(np.float32)
    image.header.set_slope_inter(1.0, 0.0)
    if cal_range is not None:
        image.header["cal_min"], image.header["cal_max"] = cal_range
    image.header["descrip"] = description.encode("ascii", "replace")[:79]
    suffix = ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(handle)
    try:
        nib.save(image, temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path
