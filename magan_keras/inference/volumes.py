"""A subject's NIfTI volumes for inference: reading, brain mask, normalisation, canvas, writing back.

Reading is `tfds_brats.subjects.load_subject` (the builders' reader, with any non-empty set of
contrasts: canonical RAS+ orientation, one voxel grid, finite and non-zero volumes, errors naming
the file); slicing to the model's size and back is `tfds_brats.slicing` (the builders' own
functions and their inverse). This module adds what only inference needs:

- `load_volumes`: the reader's result with the reference image outputs are written like;
- `normalise_inputs`: the training normalisation (`tfds_brats.intensity.normalise_volume` with
  the model's percentiles) of each given contrast, stacked in the model's channel order;
- `resolve_canvas_size`: the canvas from the model's saved `Preprocessing` (or, for a model
  saved without one, the old rule);
- `save_like`: an array written in the voxel order, affine and header of an input file, through
  `magan_keras.atomic` (an interrupted run leaves no partial file).

Example:
>>> import numpy as np
>>> from magan_keras.inference import volumes
>>> from tfds_brats.brats.make_dummy_data import write_fake_subject
>>> files = write_fake_subject("s", "s", axcodes=("L", "P", "S"))
>>> loaded = volumes.load_volumes({"t1": files["t1"], "t2": files["t2"]})
>>> mask = volumes.brain_mask_of(loaded.volumes)
>>> images, available = volumes.normalise_inputs(loaded, ("t1", "t1ce", "t2", "flair"), mask)
>>> images.shape, available.tolist()
((24, 24, 12, 4), [1.0, 0.0, 1.0, 0.0])
>>> volumes.save_like(images[..., 0], loaded.reference, "s_copy.nii.gz").name
's_copy.nii.gz'
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Mapping

import nibabel as nib
import numpy as np

from magan_keras import atomic
from tfds_brats import intensity, subjects
from tfds_brats.constants import BRATS_CANVAS_SIZE, LOWER_PERCENTILE, UPPER_PERCENTILE


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

    A thin view of `tfds_brats.subjects.load_subject(paths, subject_id, required=())`: the one
    NIfTI reader of the project.

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
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> files = write_fake_subject("s", "s")
    >>> loaded = load_volumes({"t1ce": files["t1ce"], "t1": files["t1"]}, "s")
    >>> list(loaded.volumes), loaded.shape, loaded.reference_path.name
    (['t1ce', 't1'], (24, 24, 12), 's_t1ce.nii.gz')
    """
    if not paths:
        raise ValueError("load_volumes: no contrast files given")
    volumes, _, geometry = subjects.load_subject(dict(paths), subject_id, required=())
    paths = {name: geometry.paths[name] for name in volumes}
    subject_id = subject_id or next(iter(paths.values())).parent.name or "?"
    return LoadedVolumes(subject_id, volumes, paths, geometry.reference, next(iter(paths.values())), geometry.affine)


def brain_mask_of(volumes: Mapping[str, np.ndarray]) -> np.ndarray:
    """The brain: voxels non-zero in any of the given (skull-stripped) volumes.

    Args:
        volumes: dict contrast -> `[X, Y, Z]` (e.g. `LoadedVolumes.volumes`).

    Returns:
        bool `[X, Y, Z]`.

    Example:
    >>> import numpy as np
    >>> a, b = np.zeros((2, 2, 1)), np.zeros((2, 2, 1))
    >>> a[0, 0], b[1, 1] = 3.0, 1.0
    >>> int(brain_mask_of({"t1": a, "t2": b}).sum())
    2
    """
    return intensity.brain_mask(volumes.values())


def normalise_inputs(
    loaded: LoadedVolumes,
    modalities,
    brain_mask: np.ndarray,
    *,
    lower_percentile: float = LOWER_PERCENTILE,
    upper_percentile: float = UPPER_PERCENTILE,
) -> tuple[np.ndarray, np.ndarray]:
    """The training normalisation of each loaded contrast, stacked in the model's order.

    Args:
        loaded: `LoadedVolumes` (contrasts not in `modalities` are an error).
        modalities: the model's contrast names in channel order (M of them).
        brain_mask: bool `[X, Y, Z]`; percentiles are taken inside it.
        lower_percentile: float. Brain percentile mapped to -1 (the model's
            `Preprocessing.lower_percentile`; default the builders').
        upper_percentile: float. Brain percentile mapped to +1.

    Returns:
        `(images, available)`: float32 `[X, Y, Z, M]` in [-1, 1] (background -1), zero-filled for
        contrasts not loaded, and float32 `[M]` (1.0 where loaded).

    Raises:
        tfds_brats.subjects.SubjectError: a contrast is constant inside the brain, or not one of
            the model's (names the file).

    Example:
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> files = write_fake_subject("s", "s")
    >>> loaded = load_volumes({"t2": files["t2"]})
    >>> images, available = normalise_inputs(loaded, ("t1", "t2"), brain_mask_of(loaded.volumes))
    >>> float(images[..., 1].min()), float(images[..., 1].max()), available.tolist()
    (-1.0, 1.0, [0.0, 1.0])
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
            images[..., channel], _, _ = intensity.normalise_volume(
                volume, brain_mask, lower_percentile, upper_percentile
            )
        except intensity.ConstantImageError as error:
            raise subjects.SubjectError(loaded.subject_id, loaded.paths[name], f"'{name}': {error}") from error
        available[channel] = 1.0
    return images, available


def resolve_canvas_size(canvas_size, in_plane_shape, image_size, preprocessing=None) -> int:
    """The canvas slices are padded / cropped to before resizing to `image_size`.

    Args:
        canvas_size: int (an explicit override, e.g. `--canvas-size`), or None / "auto".
        in_plane_shape: `(X, Y)` of the canonical volume.
        image_size: int. The model's input size.
        preprocessing: the model's `tfds_brats.preprocessing.Preprocessing`, or None. With a
            record (not `assumed`), None / "auto" give its `canvas_size`. Without one (a model
            saved before records existed), the old rule: `image_size` when the volume's in-plane
            shape is already `(image_size, image_size)` (how `brats_phantom` slices are made: no
            resampling), else `tfds_brats.constants.BRATS_CANVAS_SIZE` (the `brats` builder's 256).

    Returns:
        int >= 1.

    Example:
    >>> from tfds_brats.preprocessing import Preprocessing
    >>> resolve_canvas_size(None, (240, 240), 128), resolve_canvas_size(None, (64, 64), 64)
    (256, 64)
    >>> resolve_canvas_size(None, (64, 64), 64, Preprocessing(canvas_size=96))
    96
    >>> resolve_canvas_size(48, (64, 64), 64, Preprocessing(canvas_size=96))
    48
    """
    if canvas_size in (None, "auto"):
        if preprocessing is not None and not preprocessing.assumed:
            return int(preprocessing.canvas_size)
        if tuple(in_plane_shape) == (image_size, image_size):
            return int(image_size)
        return BRATS_CANVAS_SIZE
    if isinstance(canvas_size, bool) or int(canvas_size) != canvas_size or int(canvas_size) < 1:
        raise ValueError(f"canvas_size must be a positive int, got {canvas_size!r}")
    return int(canvas_size)


def save_like(
    canonical: np.ndarray, reference, path: os.PathLike | str, *, description: str = "", cal_range=None
) -> pathlib.Path:
    """Writes a canonical float32 array in the voxel order, affine and header of `reference`.

    The array is turned back from canonical (RAS+) to the reference file's own orientation; the
    header is the reference's (zooms, units, qform / sform and their codes) with the data type
    float32, no intensity scaling (slope 1, intercept 0), `cal_min` / `cal_max` set to
    `cal_range` and `descrip` set to `description`. Written with `magan_keras.atomic.replacing`
    (a temporary name ending in the same `.nii.gz` / `.nii`, renamed when complete).

    Args:
        canonical: `[X, Y, Z]` in canonical orientation (as `load_volumes` returns).
        reference: nibabel image (`LoadedVolumes.reference`).
        path: output path (`.nii.gz` or `.nii`).
        description: str. at most 79 characters (NIfTI `descrip`).
        cal_range: `(min, max)` display range, or None to leave the header's.

    Returns:
        the path written.

    Example:
    >>> import nibabel as nib, numpy as np
    >>> reference = nib.Nifti1Image(np.zeros((4, 4, 2), np.int16), np.diag([-1.0, -1.0, 1.0, 1.0]))
    >>> path = save_like(np.ones((4, 4, 2), np.float32), reference, "out.nii.gz", cal_range=(0, 1))
    >>> written = nib.load(path)
    >>> written.get_data_dtype().name, nib.aff2axcodes(written.affine), float(written.header["cal_max"])
    ('float32', ('L', 'P', 'S'), 1.0)
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
    with atomic.replacing(path) as temporary:
        nib.save(image, os.fspath(temporary))
    return path
