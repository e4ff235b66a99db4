"""Slicing orientations: a canonical volume seen from another plane, so the axial code slices it.

Everything that cuts volumes into slices (`tfds_brats.slicing`, the builders, inference) takes
axial slices `[:, :, k]` of a canonical (RAS+) volume `[X, Y, Z, ...]`. Another orientation is
the same code run on a transposed volume (`to_axial`), whose result is transposed back
(`from_axial`):

| plane | slice of the canonical volume | transposed volume | in-plane (rows, columns) |
|---|---|---|---|
| `axial` | `[:, :, k]` | `[X, Y, Z]` (unchanged) | x (to Right), y (to Anterior) |
| `coronal` | `[:, k, :]` | `[X, Z, Y]` | x (to Right), z (to Superior) |
| `sagittal` | `[k, :, :]` | `[Y, Z, X]` | y (to Anterior), z (to Superior) |

Coronal and sagittal slices are not square (a BraTS volume's are 240 x 155): the canvas step
(`slicing.fit_to_canvas`) centre-pads them with background to the square canvas (256 for BraTS,
the image size for the phantom, whose depth is half its side), so nothing is cropped as long as
the depth fits the canvas. Axes beyond the first three (contrasts) stay where they are.

Example:
>>> import numpy as np
>>> from tfds_brats import planes
>>> volume = np.arange(2 * 3 * 4).reshape(2, 3, 4)
>>> planes.to_axial(volume, "coronal").shape, planes.to_axial(volume, "sagittal").shape
((2, 4, 3), (3, 4, 2))
>>> bool(np.array_equal(planes.to_axial(volume, "coronal")[:, :, 1], volume[:, 1, :]))
True
>>> all(np.array_equal(planes.from_axial(planes.to_axial(volume, p), p), volume) for p in planes.PLANES)
True
>>> planes.parse_planes("axial,coronal")
('axial', 'coronal')
"""

from __future__ import annotations

import numpy as np

PLANES = ("axial", "coronal", "sagittal")
DEFAULT_PLANES = ("axial",)
# The canonical axes that become (rows, columns, slice axis) of the transposed volume.
AXES = {"axial": (0, 1, 2), "coronal": (0, 2, 1), "sagittal": (1, 2, 0)}


def parse_planes(value) -> tuple:
    """Validated plane names, in the order given, each once.

    Args:
        value: a comma-separated str (`"axial,coronal"`), an iterable of names, or None (the
            default, `DEFAULT_PLANES`).

    Returns:
        tuple of names of `PLANES`.

    Raises:
        ValueError: an unknown or empty name (one line, naming it and the choices).

    Example:
    >>> parse_planes(["sagittal", "axial", "sagittal"]), parse_planes(None)
    (('sagittal', 'axial'), ('axial',))
    >>> parse_planes("axial,coronl")
    Traceback (most recent call last):
    ...
    ValueError: unknown plane 'coronl'; choose from axial, coronal, sagittal (comma-separated)
    """
    if value is None:
        return DEFAULT_PLANES
    names = value.split(",") if isinstance(value, str) else list(value)
    result = []
    for name in names:
        name = str(name).strip().lower()
        if name not in PLANES:
            raise ValueError(f"unknown plane {name!r}; choose from {', '.join(PLANES)} (comma-separated)")
        if name not in result:
            result.append(name)
    if not result:
        raise ValueError(f"no plane given; choose from {', '.join(PLANES)}")
    return tuple(result)


def _axes(plane, ndim):
    if plane not in AXES:
        raise ValueError(f"unknown plane {plane!r}; choose from {', '.join(PLANES)}")
    if ndim < 3:
        raise ValueError(f"a volume needs three spatial axes, got {ndim} dimensions")
    return AXES[plane] + tuple(range(3, ndim))


def to_axial(volume, plane) -> np.ndarray:
    """The volume transposed so that its axial slices `[:, :, k]` are the `plane` slices.

    Args:
        volume: array `[X, Y, Z, ...]` in canonical orientation.
        plane: str. One of `PLANES`.

    Returns:
        a transposed view (axes after the third unchanged).

    Example:
    >>> import numpy as np
    >>> to_axial(np.zeros((240, 240, 155, 4)), "sagittal").shape
    (240, 155, 240, 4)
    """
    volume = np.asarray(volume)
    return np.transpose(volume, _axes(plane, volume.ndim))


def from_axial(volume, plane) -> np.ndarray:
    """Inverse of `to_axial`: back to the canonical `[X, Y, Z, ...]`.

    Args:
        volume: array as `to_axial` returned it (or of that layout).
        plane: str. The plane `to_axial` was given.

    Example:
    >>> import numpy as np
    >>> from_axial(np.zeros((240, 155, 240)), "sagittal").shape
    (240, 240, 155)
    """
    volume = np.asarray(volume)
    return np.transpose(volume, np.argsort(_axes(plane, volume.ndim)))


def in_plane_shape(volume_shape, plane) -> tuple:
    """`(rows, columns)` of a `plane` slice of a canonical volume of `volume_shape`.

    Args:
        volume_shape: `(X, Y, Z, ...)`.
        plane: str. One of `PLANES`.

    Example:
    >>> in_plane_shape((240, 240, 155), "coronal")
    (240, 155)
    """
    axes = _axes(plane, len(volume_shape))
    return (int(volume_shape[axes[0]]), int(volume_shape[axes[1]]))


def plane_examples(subject_id, volumes, brain_mask, seg, affine, *, planes=DEFAULT_PLANES, **slice_options):
    """`tfds_brats.examples.subject_examples` of each plane's transposed subject, one after another.

    The axial examples are exactly `subject_examples`' (same keys, `"<id>/<k:04d>"`); another
    plane's keys are `"<id>/<plane>/<k:04d>"` and their `slice_index` is the position along that
    plane's slice axis. Normalisation is per volume, so transposing does not change it; the
    minimum brain fraction is measured on each plane's slice as stored (before padding).

    Args:
        subject_id: str.
        volumes: dict modality -> `[X, Y, Z]` canonical arrays.
        brain_mask: bool `[X, Y, Z]`.
        seg: uint8 `[X, Y, Z]` or None.
        affine: `[4, 4]`.
        planes: names of `PLANES` (or a comma-separated str).
        **slice_options: `layout` ("slices"), `image_size`, `canvas_size`, `min_brain_fraction`
            and the other options of `subject_examples`.

    Example:
    >>> import numpy as np
    >>> from tfds_brats.brats.make_dummy_data import fake_canonical_subject
    >>> volumes, seg = fake_canonical_subject(0)
    >>> mask = np.any([v != 0 for v in volumes.values()], axis=0)
    >>> keys = [key for key, _ in plane_examples("s1", volumes, mask, seg, np.eye(4), planes="axial,coronal",
    ...         layout="slices", image_size=16, canvas_size=32, min_brain_fraction=0.05)]
    >>> keys[0], [k for k in keys if "coronal" in k][0]
    ('s1/0001', 's1/coronal/0003')
    """
    from tfds_brats import examples  # pylint: disable=import-outside-toplevel

    for plane in parse_planes(planes):
        cut = {name: np.ascontiguousarray(to_axial(volume, plane)) for name, volume in volumes.items()}
        mask = np.ascontiguousarray(to_axial(brain_mask, plane))
        labels = None if seg is None else np.ascontiguousarray(to_axial(seg, plane))
        for key, example in examples.subject_examples(subject_id, cut, mask, labels, affine, **slice_options):
            if plane != "axial":
                key = f"{subject_id}/{plane}/{key.rsplit('/', 1)[1]}"
            yield key, example
