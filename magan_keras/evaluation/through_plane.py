"""Through-plane consistency of a synthesised volume: SSIM per orientation, roughness along z.

A model applied slice by slice along the axial axis can be good in every axial slice and still
show stripes in coronal and sagittal cuts: nothing ties neighbouring slices together. The
challenge's 3-D SSIM mixes both; these scores separate them (`through_plane_metrics`, columns
`THROUGH_PLANE_METRICS`), on the per-slice protocol's scale: the model's [-1, 1] mapped to
[0, 1], everything outside the brain mask set to 0.

- `plane_ssim_axial`, `plane_ssim_coronal`, `plane_ssim_sagittal`: the 2-D SSIM map of every
  slice of that orientation (11 x 11 Gaussian window, sigma 1.5, mirror-extended, as the
  per-slice protocol's `protocols.ssim_map`) averaged over all brain voxels of the volume
  (voxel-weighted, so small edge slices count little). Axial slices are `[:, :, k]`, coronal
  `[:, j, :]`, sagittal `[i, :, :]` of the canonical (RAS+) volume (`tfds_brats.planes`). 1 for
  the truth itself.
- `roughness_z`: mean absolute second difference along z (`v[k+1] - 2 v[k] + v[k-1]`) of the
  synthesis over the brain voxels whose two z-neighbours are brain too, divided by the same for
  the truth: 1 is as smooth along z as the truth, above 1 stripes (slice-to-slice jumps the
  truth does not have), below 1 smoother than the truth. NaN when the truth has no such voxel
  or no second difference.
- `roughness_inplane`: the same ratio for the two in-plane axes (x and y, averaged): how smooth
  the synthesis is within a slice. A model that blurs in-plane scores below 1 there; stripes
  show as `roughness_z` well above `roughness_inplane`. On noisy scans the truth's noise counts
  in both denominators.

`roughness_z` is relative to the truth, so read it beside the truth's own anisotropy
(`z_anisotropy`: its second difference along z over its in-plane one). A scan acquired in thick
axial slices and interpolated to 1 mm (common for T1 in BraTS and TCGA) is far smoother along z
than within a slice (0.2-0.3 against about 1 for an isotropic 3-D acquisition); a slice-by-slice
synthesis of it carries its inputs' in-plane texture from slice to slice, so its `roughness_z`
is high even without stripes.

Example:
>>> import numpy as np
>>> from magan_keras.evaluation.through_plane import through_plane_metrics
>>> z = np.arange(16)
>>> brain = np.zeros((16, 16, 16), bool)
>>> brain[2:14, 2:14, 2:14] = True
>>> truth = np.where(brain, np.sin(z / 3.0)[None, None, :] * 0.5, -1.0)     # smooth along z
>>> stripes = np.where(brain, truth + 0.2 * (z % 2)[None, None, :], -1.0)   # every other slice off
>>> scores = through_plane_metrics(truth, truth, brain)
>>> [round(scores[k], 6) for k in ("plane_ssim_axial", "plane_ssim_coronal", "plane_ssim_sagittal", "roughness_z")]
[1.0, 1.0, 1.0, 1.0]
>>> rough = through_plane_metrics(stripes, truth, brain)
>>> bool(rough["roughness_z"] > 2), round(rough["plane_ssim_axial"], 3) > round(rough["plane_ssim_coronal"], 3)
(True, True)
"""

from __future__ import annotations

import math

import numpy as np

from magan_keras.evaluation.protocols import WINDOW_SIZE, ssim_map
from tfds_brats.planes import PLANES

THROUGH_PLANE_METRICS = (
    "plane_ssim_axial",
    "plane_ssim_coronal",
    "plane_ssim_sagittal",
    "roughness_z",
    "roughness_inplane",
)
# The two canonical axes each orientation's slices span (the 2-D SSIM window runs along them).
PLANE_AXES = {"axial": (0, 1), "coronal": (0, 2), "sagittal": (1, 2)}


def second_difference(volume, mask, axis) -> float:
    """Mean absolute second difference along `axis` over the voxels of `mask` whose neighbours along it are in `mask`.

    Args:
        volume: float array.
        mask: bool array of its shape.
        axis: int.

    Returns:
        float (NaN when no voxel has both neighbours in `mask`).

    Example:
    >>> import numpy as np
    >>> second_difference(np.arange(5.0) ** 2, np.ones(5, bool), 0)   # d2 of k^2 is 2
    2.0
    """
    volume = np.asarray(volume, np.float64)
    mask = np.asarray(mask, bool)
    n = volume.shape[axis]
    if n < 3:
        return math.nan

    def cut(array, start, stop):
        return np.take(array, np.arange(start, n - 2 + stop), axis=axis)

    inside = cut(mask, 0, 0) & cut(mask, 1, 1) & cut(mask, 2, 2)
    if not inside.any():
        return math.nan
    d2 = cut(volume, 2, 2) - 2.0 * cut(volume, 1, 1) + cut(volume, 0, 0)
    return float(np.abs(d2[inside]).mean())


def z_anisotropy(volume, mask) -> float:
    """A volume's mean absolute second difference along z over the same in-plane (x and y averaged).

    About 1 for an isotropic acquisition; well below 1 for thick axial slices interpolated to a
    finer grid (`roughness_z`'s reference is then smooth along z: see the module docstring).

    Args:
        volume: float `[X, Y, Z]`.
        mask: bool `[X, Y, Z]`: the voxels counted (the brain).

    Returns:
        float (NaN where a second difference is undefined or the in-plane one is 0).

    Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mask = np.ones((24, 24, 24), bool)
    >>> isotropic = rng.standard_normal((24, 24, 24))
    >>> thick = np.repeat(isotropic[:, :, ::4], 4, axis=2)      # 4 mm slices on a 1 mm grid
    >>> round(z_anisotropy(isotropic, mask), 1), z_anisotropy(thick, mask) < 0.5
    (1.0, True)
    """
    along = second_difference(volume, mask, 2)
    within = float(np.mean([second_difference(volume, mask, axis) for axis in (0, 1)]))
    if not (np.isfinite(along) and np.isfinite(within)) or within <= 0.0:
        return math.nan
    return along / within


def _ratio(prediction, truth, mask, axes) -> float:
    ours = [second_difference(prediction, mask, axis) for axis in axes]
    theirs = [second_difference(truth, mask, axis) for axis in axes]
    ours, theirs = float(np.mean(ours)), float(np.mean(theirs))
    if not (np.isfinite(ours) and np.isfinite(theirs)) or theirs <= 0.0:
        return math.nan
    return ours / theirs


def plane_ssim(prediction, truth, brain_mask, plane) -> float:
    """Mean over the brain voxels of the 2-D SSIM map of every `plane` slice (unit-scale inputs).

    The volumes are cropped to the brain's bounding box plus half a window first (exact: every
    brain voxel's window stays inside the crop).

    Args:
        prediction, truth: float `[X, Y, Z]` on [0, 1], 0 outside the brain.
        brain_mask: bool `[X, Y, Z]`.
        plane: str. One of `tfds_brats.planes.PLANES`.

    Returns:
        float (NaN without brain voxels).

    Example:
    >>> import numpy as np
    >>> mask = np.ones((12, 12, 12), bool)
    >>> volume = np.random.default_rng(0).uniform(size=mask.shape)
    >>> round(plane_ssim(volume, volume, mask, "sagittal"), 9)
    1.0
    """
    if plane not in PLANE_AXES:
        raise ValueError(f"unknown plane {plane!r}; choose from {', '.join(PLANES)}")
    brain = np.asarray(brain_mask, bool)
    if not brain.any():
        return math.nan
    half = WINDOW_SIZE // 2
    where = np.nonzero(brain)
    box = tuple(slice(max(int(w.min()) - half, 0), min(int(w.max()) + half + 1, n)) for w, n in zip(where, brain.shape))
    values = ssim_map(np.asarray(prediction)[box], np.asarray(truth)[box], axes=PLANE_AXES[plane])
    return float(values[brain[box]].mean())


def through_plane_metrics(prediction, truth, brain_mask) -> dict:
    """The scores of `THROUGH_PLANE_METRICS` for one volume (see the module docstring).

    Args:
        prediction: `[X, Y, Z]` synthesis on the model's scale [-1, 1] (canonical orientation).
        truth: `[X, Y, Z]` normalised ground truth on the same scale.
        brain_mask: bool `[X, Y, Z]`.

    Returns:
        dict with every name of `THROUGH_PLANE_METRICS` (floats; NaN where undefined).

    Raises:
        ValueError: shapes differ.

    Example: see the module docstring.
    """
    brain = np.asarray(brain_mask, bool)
    prediction = np.asarray(prediction, np.float64)
    truth = np.asarray(truth, np.float64)
    if prediction.shape != truth.shape or brain.shape != truth.shape or truth.ndim != 3:
        raise ValueError(
            f"through_plane_metrics: shapes differ or are not 3-D: prediction {prediction.shape}, "
            f"truth {truth.shape}, mask {brain.shape}"
        )
    pred = np.where(brain, np.clip((prediction + 1.0) / 2.0, 0.0, 1.0), 0.0)
    true = np.where(brain, np.clip((truth + 1.0) / 2.0, 0.0, 1.0), 0.0)
    scores = {f"plane_ssim_{plane}": plane_ssim(pred, true, brain, plane) for plane in PLANES}
    scores["roughness_z"] = _ratio(pred, true, brain, (2,))
    scores["roughness_inplane"] = _ratio(pred, true, brain, (0, 1))
    return {name: scores[name] for name in THROUGH_PLANE_METRICS}
