"""The two evaluation protocols of DESIGN.md ("Metrics"), on numpy volumes.

Volumes are `[X, Y, Z]` with axial slices `[:, :, k]` (the canonical layout of `tfds_brats`;
a prepared split's slices of one subject are stacked the same way).

Brain-restricted, BraSyn-style (`brasyn_metrics`, columns `brain_*`; the challenge's own scores are `challenge`):
- prediction and ground truth are each clipped to their own 0.5 / 99.5 percentiles, taken over
  the whole volume with the lower one raised to 0 when negative (the challenge's
  `strictlyPositive`), and min-max scaled to [0, 1] (`brasyn_normalise`);
- 3-D SSIM map: 11 x 11 x 11 Gaussian window, sigma 1.5, k1 0.01, k2 0.03, data range 1, the
  volume extended by mirror reflection at its faces so the map has the volume's size (the
  torchmetrics settings the challenge code uses);
- for a region R both volumes are multiplied by R's mask, the map computed, and its mean over
  R's voxels reported: `brain_ssim` (R = brain), `brain_ssim_tumour` (R = seg > 0),
  `brain_ssim_non_tumour` (R = brain without the tumour). The challenge's code averages its
  non-tumour map over the background too; here it is the non-tumour brain, as DESIGN.md asks.
  Tumour scores are NaN without a segmentation or without tumour voxels;
- `brain_psnr`, `brain_mae`: PSNR in dB (data range 1) and mean absolute error over the brain
  voxels of the two normalised volumes; `*_tumour` and `*_non_tumour` the same over the tumour
  and over the brain without the tumour (NaN as the tumour SSIMs are).

Per slice (`slice_metrics`), what most 2-D papers (MM-GAN among them) report:
- both images on the model's scale [-1, 1] mapped to [0, 1], everything outside the brain mask
  set to 0;
- per axial slice: MAE and PSNR (data range 1) over the brain pixels, and SSIM as the mean over
  the brain pixels of the 2-D SSIM map (11 x 11 Gaussian window, sigma 1.5, as
  `tf.image.ssim`, mirror-extended at the slice's border);
- the subject's value is the mean over its slices. PSNR is capped at 100 dB (MSE floor 1e-10)
  so that a perfect slice does not make the mean infinite.

Example:
>>> import numpy as np
>>> from magan_keras.evaluation import protocols
>>> rng = np.random.default_rng(0)
>>> brain = np.zeros((16, 16, 8), bool)
>>> brain[3:13, 3:13, 1:7] = True
>>> truth = np.where(brain, rng.uniform(-0.5, 0.5, brain.shape), -1.0)      # model scale
>>> prediction = np.where(brain, truth + 0.1, -1.0)
>>> seg = np.zeros(brain.shape, np.uint8)
>>> seg[6:9, 6:9, 3:5] = 2
>>> scores = protocols.brasyn_metrics(prediction + 1, truth + 1, brain, seg)  # non-negative scale
>>> sorted(scores) == sorted(protocols.BRASYN_METRICS)
True
>>> round(protocols.slice_metrics(prediction, truth, brain)["slice_mae"], 6)    # 0.1 / 2 on [0, 1]
0.05
"""

from __future__ import annotations

import math

import numpy as np

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1 = 0.01
K2 = 0.03
MSE_FLOOR = 1e-10  # PSNR cap: 100 dB at data range 1
BRASYN_METRICS = (
    "brain_ssim",
    "brain_ssim_tumour",
    "brain_ssim_non_tumour",
    "brain_psnr",
    "brain_psnr_tumour",
    "brain_psnr_non_tumour",
    "brain_mae",
    "brain_mae_tumour",
    "brain_mae_non_tumour",
)
SLICE_METRICS = ("slice_psnr", "slice_ssim", "slice_mae")


def gaussian_window(size=WINDOW_SIZE, sigma=WINDOW_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian taps (float64), as `tf.image.ssim` and torchmetrics build them.

    Args:
        size: int. Number of taps.
        sigma: float. Standard deviation in taps.

    Example:
    >>> from magan_keras.evaluation.protocols import gaussian_window
    >>> taps = gaussian_window(5, 1.0)
    >>> taps.shape, round(float(taps.sum()), 12), bool(taps[2] == taps.max())
    ((5,), 1.0, True)
    """
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    taps = np.exp(-(coords**2) / (2.0 * sigma**2))
    return taps / taps.sum()


def _blur(volume, axes, taps):
    from scipy import ndimage  # pylint: disable=import-outside-toplevel

    for axis in axes:
        volume = ndimage.correlate1d(volume, taps, axis=axis, mode="mirror")
    return volume


def ssim_map(x, y, axes, data_range=1.0, size=WINDOW_SIZE, sigma=WINDOW_SIGMA, k1=K1, k2=K2):
    """SSIM at every voxel, with a separable Gaussian window along `axes`.

    The window is applied along `axes` only (`(0, 1)` gives 2-D SSIM of each axial slice of a
    volume, `(0, 1, 2)` 3-D SSIM); arrays are mirror-extended at their borders, so the map has
    the input's shape. Cropping `size // 2` from each border of a 2-D map and averaging gives
    `tf.image.ssim` (VALID filtering).

    Args:
        x, y: arrays of one shape.
        axes: tuple of axes to filter along.
        data_range: float. Dynamic range (1.0 for [0, 1] data).
        size, sigma: window size and width.
        k1, k2: stabilisers.

    Returns:
        float64 array of the shape of `x`.

    Example:
    >>> from magan_keras.evaluation.protocols import ssim_map
    >>> import numpy as np
    >>> a = np.random.default_rng(0).uniform(size=(12, 12, 12))
    >>> round(float(ssim_map(a, a, axes=(0, 1, 2)).mean()), 9)
    1.0
    >>> bool(ssim_map(a, 0.5 * a, axes=(0, 1)).mean() < 1.0)
    True
    """
    mu_x, mu_y, var_x, var_y, cov = _local_moments(x, y, axes, size, sigma, "ssim_map")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def _local_moments(x, y, axes, size, sigma, caller):
    """Gaussian-windowed local means, variances and covariance of `x` and `y` (float64)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"{caller}: shapes differ: {x.shape} vs {y.shape}")
    taps = gaussian_window(size, sigma)
    mu_x, mu_y = _blur(x, axes, taps), _blur(y, axes, taps)
    var_x = _blur(x * x, axes, taps) - mu_x**2
    var_y = _blur(y * y, axes, taps) - mu_y**2
    cov = _blur(x * y, axes, taps) - mu_x * mu_y
    return mu_x, mu_y, var_x, var_y, cov


def ssim_terms(x, y, axes, data_range=1.0, size=WINDOW_SIZE, sigma=WINDOW_SIGMA, k1=K1, k2=K2):
    """SSIM's three factors at every voxel: luminance, contrast and structure.

    Wang et al. (2004), Eq. 6-9, with `c3 = c2 / 2`, so that their product is `ssim_map`'s value
    (up to rounding). Luminance compares local means, contrast local standard deviations, and
    structure is the local correlation: a smoothed copy loses contrast, a wrong pattern with the
    right spread loses structure.

    Args:
        x, y: arrays of one shape.
        axes: tuple of axes to filter along (as `ssim_map`).
        data_range, size, sigma, k1, k2: as `ssim_map`.

    Returns:
        dict of float64 arrays of the shape of `x`: `luminance`, `contrast`, `structure`.

    Example:
    >>> from magan_keras.evaluation.protocols import ssim_terms
    >>> import numpy as np
    >>> truth = np.random.default_rng(0).uniform(size=(16, 16))
    >>> terms = ssim_terms(0.5 * truth + 0.25, truth, axes=(0, 1))    # flattened, same pattern
    >>> round(float(terms["structure"].mean()), 3), bool(terms["contrast"].mean() < 0.9)
    (1.0, True)
    """
    mu_x, mu_y, var_x, var_y, cov = _local_moments(x, y, axes, size, sigma, "ssim_terms")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    std_x, std_y = np.sqrt(np.maximum(var_x, 0.0)), np.sqrt(np.maximum(var_y, 0.0))
    return {
        "luminance": (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1),
        "contrast": (2 * std_x * std_y + c2) / (std_x**2 + std_y**2 + c2),
        "structure": (cov + c2 / 2) / (std_x * std_y + c2 / 2),
    }


def brasyn_normalise(volume, lower=0.5, upper=99.5) -> np.ndarray:
    """BraSyn's normalisation: clip to the volume's own percentiles (lower >= 0), scale to [0, 1].

    Percentiles are over the whole volume (background included), as the challenge computes them.
    A volume without range inside the percentiles maps to zeros.

    Args:
        volume: array in scanner units (any shape).
        lower: float. Lower percentile (raised to 0 when negative).
        upper: float. Upper percentile.

    Example:
    >>> from magan_keras.evaluation.protocols import brasyn_normalise
    >>> import numpy as np
    >>> normalised = brasyn_normalise(np.arange(-100.0, 900.0))
    >>> float(normalised.min()), float(normalised.max())
    (0.0, 1.0)
    """
    volume = np.asarray(volume, np.float64)
    low, high = np.percentile(volume, [lower, upper])
    low = max(float(low), 0.0)
    if not high > low:
        return np.zeros(volume.shape, np.float64)
    return (np.clip(volume, low, high) - low) / (high - low)


def _region_ssim(prediction, truth, region):
    """Mean over `region` of the 3-D SSIM map of both volumes multiplied by `region`."""
    if not region.any():
        return math.nan
    # The map at a region voxel depends only on voxels within half a window: crop to the
    # region's bounding box plus that margin (exact, and much faster for small tumours).
    half = WINDOW_SIZE // 2
    where = np.nonzero(region)
    box = tuple(
        slice(max(int(w.min()) - half, 0), min(int(w.max()) + half + 1, n)) for w, n in zip(where, region.shape)
    )
    # Mirror extension at a face of the crop that is not a face of the volume could differ from
    # the full volume's values; the margin keeps every region voxel's window inside the crop.
    mask = region[box]
    values = ssim_map(prediction[box] * mask, truth[box] * mask, axes=(0, 1, 2))
    return float(values[mask].mean())


def brasyn_metrics(prediction, truth, brain_mask, seg=None) -> dict:
    """BraSyn scores of one synthesised volume (see the module docstring).

    Args:
        prediction: `[X, Y, Z]` synthesis on any non-negative scale, 0 outside the brain (e.g.
            the unit scale `magan_keras.synthesize` writes).
        truth: `[X, Y, Z]` ground truth in scanner units (or any scale), 0 outside the brain.
        brain_mask: bool `[X, Y, Z]`.
        seg: `[X, Y, Z]` labels (tumour = seg > 0) or None.

    Returns:
        dict with every name of `BRASYN_METRICS`: SSIM, PSNR and MAE over the brain, the tumour
        and the non-tumour brain.

    Example:
    >>> from magan_keras.evaluation.protocols import brasyn_metrics
    >>> import numpy as np
    >>> mask = np.zeros((16, 16, 16), bool)
    >>> mask[2:14, 2:14, 2:14] = True
    >>> volume = np.where(mask, np.random.default_rng(0).uniform(50, 150, mask.shape), 0.0)
    >>> scores = brasyn_metrics(volume, volume, mask)
    >>> round(scores["brain_ssim"], 9), scores["brain_psnr"], scores["brain_mae"], scores["brain_ssim_tumour"]
    (1.0, 100.0, 0.0, nan)
    """
    prediction = brasyn_normalise(prediction)
    truth = brasyn_normalise(truth)
    brain = np.asarray(brain_mask, bool)
    if prediction.shape != truth.shape or brain.shape != truth.shape:
        raise ValueError(
            f"brasyn_metrics: shapes differ: prediction {prediction.shape}, truth {truth.shape}, mask {brain.shape}"
        )
    scores = {"brain_ssim": _region_ssim(prediction, truth, brain)}
    tumour = None if seg is None else (np.asarray(seg) > 0)
    if tumour is None or not tumour.any():
        scores["brain_ssim_tumour"] = math.nan
        scores["brain_ssim_non_tumour"] = math.nan
    else:
        scores["brain_ssim_tumour"] = _region_ssim(prediction, truth, tumour)
        scores["brain_ssim_non_tumour"] = _region_ssim(prediction, truth, brain & ~tumour)
    regions = {"": brain, "_tumour": tumour, "_non_tumour": None if tumour is None else brain & ~tumour}
    for suffix, region in regions.items():
        if region is None or not region.any() or (suffix and not tumour.any()):
            scores[f"brain_psnr{suffix}"] = scores[f"brain_mae{suffix}"] = math.nan
            continue
        difference = prediction[region] - truth[region]
        scores[f"brain_psnr{suffix}"] = psnr_from_mse(float(np.mean(difference**2)))
        scores[f"brain_mae{suffix}"] = float(np.mean(np.abs(difference)))
    return {name: scores[name] for name in BRASYN_METRICS}


def psnr_from_mse(mse, data_range=1.0) -> float:
    """PSNR in dB, with the MSE floored at `MSE_FLOOR` (100 dB cap at range 1).

    Args:
        mse: float. Mean squared error (NaN gives NaN).
        data_range: float. Dynamic range of the data.

    Example:
    >>> from magan_keras.evaluation.protocols import psnr_from_mse
    >>> psnr_from_mse(0.01), psnr_from_mse(0.0)
    (20.0, 100.0)
    """
    if not np.isfinite(mse):
        return math.nan
    return float(10.0 * np.log10(data_range**2 / max(float(mse), MSE_FLOOR)))


def slice_metrics(prediction, truth, brain_mask, indices=None) -> dict:
    """Per-slice PSNR, SSIM and MAE inside the brain on the [-1, 1] -> [0, 1] scale.

    Args:
        prediction: `[X, Y, Z]` synthesis on the model's scale [-1, 1].
        truth: `[X, Y, Z]` normalised ground truth on the same scale.
        brain_mask: bool `[X, Y, Z]`.
        indices: axial slices to score (default: every slice with brain).

    Returns:
        dict: `slice_psnr`, `slice_ssim`, `slice_mae` (means over the slices, floats) and
        `per_slice` (dict of float arrays `[K]` and `indices`).

    Example:
    >>> from magan_keras.evaluation.protocols import slice_metrics
    >>> import numpy as np
    >>> mask = np.zeros((16, 16, 3), bool)
    >>> mask[4:12, 4:12] = True
    >>> truth = np.where(mask, np.random.default_rng(0).uniform(-0.5, 0.5, mask.shape), -1.0)
    >>> scores = slice_metrics(truth, truth, mask)
    >>> round(scores["slice_ssim"], 9), scores["slice_mae"], scores["per_slice"]["indices"].tolist()
    (1.0, 0.0, [0, 1, 2])
    """
    brain = np.asarray(brain_mask, bool)
    if indices is None:
        indices = np.flatnonzero(brain.any(axis=(0, 1)))
    indices = np.asarray(indices, int)
    if indices.size == 0:
        nan = {name: math.nan for name in SLICE_METRICS}
        return {**nan, "per_slice": {"indices": indices}}
    mask = brain[:, :, indices]
    if not mask.any(axis=(0, 1)).all():
        raise ValueError("slice_metrics: a selected slice has no brain voxel")
    pred = np.where(mask, np.clip((np.asarray(prediction, np.float64)[:, :, indices] + 1) / 2, 0, 1), 0.0)
    true = np.where(mask, np.clip((np.asarray(truth, np.float64)[:, :, indices] + 1) / 2, 0, 1), 0.0)
    counts = mask.sum(axis=(0, 1))
    error = pred - true
    mae = np.abs(error).sum(axis=(0, 1)) / counts
    mse = (error**2).sum(axis=(0, 1)) / counts
    psnr = np.array([psnr_from_mse(value) for value in mse])
    ssim = (ssim_map(pred, true, axes=(0, 1)) * mask).sum(axis=(0, 1)) / counts
    return {
        "slice_psnr": float(psnr.mean()),
        "slice_ssim": float(ssim.mean()),
        "slice_mae": float(mae.mean()),
        "per_slice": {"indices": indices, "psnr": psnr, "ssim": ssim, "mae": mae},
    }
