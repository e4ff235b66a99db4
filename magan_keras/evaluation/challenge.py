"""The BraSyn challenge's own SSIM scores, reproduced in numpy/scipy.

Reproduces `compute_metrics` of the organisers' `ssim.py` (repository hongweilibran/BraSyn,
commit ecdaf00), which runs torchmetrics' `StructuralSimilarityIndexMeasure` with its defaults:

- each volume is clipped to its own 0.5 / 99.5 percentiles over the whole volume (the lower one
  raised to 0 when negative) and scaled to [0, 1] (`protocols.brasyn_normalise`);
- tumour = seg > 0; for a region R (the tumour, or everything that is not tumour, background
  included) prediction and truth are both multiplied by R's mask;
- the 3-D SSIM map of the two masked volumes, as torchmetrics computes it: 11 x 11 x 11 Gaussian
  window (sigma 1.5), k1 0.01, k2 0.03, the volumes reflect-padded by 5 voxels at every face so
  the map has the volume's shape, local variances clamped at 0, and the data range taken from
  the masked inputs, `max(pred.max() - pred.min(), truth.max() - truth.min())`;
- the score is the mean of that map over R's voxels.

The organisers' script indexes the map with an integer mask (which torchmetrics' tuple return
does not allow as written); the intended boolean selection of R's voxels is what is reproduced.
`tests/evaluation/test_challenge.py` checks this module against torchmetrics to 1e-4.

Columns of `per_subject.csv` / `summary.csv`, side by side (older tables named the `brain_*`
columns `brasyn_*`; they were never the challenge's metric):

========================= ================================================ =====================
column                    what it is                                       reported by
========================= ================================================ =====================
challenge_ssim_tumour     organisers' SSIM: whole-volume 3-D SSIM map of   BraSyn leaderboard,
                          the tumour-masked volumes, mean over seg > 0     papers citing it
challenge_ssim_non_tumour the same over every non-tumour voxel, background BraSyn leaderboard,
                          included                                         papers citing it
brain_ssim                3-D SSIM (data range 1) of the brain-masked      this project only
                          volumes, mean over the brain
brain_ssim_tumour         the same, tumour-masked, mean over seg > 0       this project only
brain_ssim_non_tumour     the same over the brain without the tumour       this project only
brain_psnr                PSNR over the brain voxels of the normalised     this project only
                          volumes
slice_psnr / ssim / mae   per axial slice on [0, 1], mean over slices      most 2-D papers
========================= ================================================ =====================

Example:
>>> import numpy as np
>>> from magan_keras.evaluation import challenge
>>> rng = np.random.default_rng(0)
>>> truth = rng.uniform(0, 100, (16, 16, 16))
>>> seg = np.zeros(truth.shape, np.uint8)
>>> seg[5:9, 5:9, 5:9] = 1
>>> scores = challenge.challenge_metrics(truth, truth, seg)
>>> [round(scores[k], 6) for k in challenge.CHALLENGE_METRICS]
[1.0, 1.0]
"""

from __future__ import annotations

import math

import numpy as np

from magan_keras.evaluation.protocols import K1, K2, WINDOW_SIGMA, WINDOW_SIZE, _blur, brasyn_normalise, gaussian_window

CHALLENGE_COMMIT = "ecdaf00"
CHALLENGE_METRICS = ("challenge_ssim_tumour", "challenge_ssim_non_tumour")


def torchmetrics_ssim_map(preds, target, data_range=None) -> np.ndarray:
    """torchmetrics' 3-D SSIM map (`return_full_image=True`, default settings) in numpy.

    Args:
        preds, target: arrays of one 3-D shape (each side > 5 voxels, as reflect padding needs).
        data_range: float or None. None takes torchmetrics' default: the larger of the two
            inputs' max - min.

    Returns:
        float64 array of the inputs' shape.

    Example:
    >>> import numpy as np
    >>> from magan_keras.evaluation.challenge import torchmetrics_ssim_map
    >>> a = np.random.default_rng(1).uniform(size=(12, 12, 12))
    >>> round(float(torchmetrics_ssim_map(a, a).mean()), 9)
    1.0
    """
    x = np.asarray(preds, np.float64)
    y = np.asarray(target, np.float64)
    if x.shape != y.shape or x.ndim != 3:
        raise ValueError(f"torchmetrics_ssim_map: need two 3-D arrays of one shape: {x.shape} vs {y.shape}")
    if data_range is None:
        data_range = max(float(x.max() - x.min()), float(y.max() - y.min()))
    taps = gaussian_window(WINDOW_SIZE, WINDOW_SIGMA)
    axes = (0, 1, 2)
    mu_x, mu_y = _blur(x, axes, taps), _blur(y, axes, taps)
    var_x = np.maximum(_blur(x * x, axes, taps) - mu_x**2, 0.0)
    var_y = np.maximum(_blur(y * y, axes, taps) - mu_y**2, 0.0)
    cov = _blur(x * y, axes, taps) - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def _region_score(prediction, truth, region):
    if not region.any():
        return math.nan
    values = torchmetrics_ssim_map(prediction * region, truth * region)
    return float(values[region].mean())


def challenge_metrics(prediction, truth, seg) -> dict:
    """The organisers' tumour and non-tumour SSIM of one synthesised volume (module docstring).

    Args:
        prediction: `[X, Y, Z]` synthesis on any scale (normalised here as the challenge does).
        truth: `[X, Y, Z]` ground truth in scanner units.
        seg: `[X, Y, Z]` labels (tumour = seg > 0) or None (no tumour: tumour score NaN).

    Returns:
        dict with `challenge_ssim_tumour` (NaN without tumour voxels) and `challenge_ssim_non_tumour`.

    Example:
    >>> import numpy as np
    >>> from magan_keras.evaluation.challenge import challenge_metrics
    >>> truth = np.random.default_rng(2).uniform(0, 10, (12, 12, 12))
    >>> scores = challenge_metrics(0.5 * truth, truth, None)    # scale does not matter
    >>> scores["challenge_ssim_tumour"], round(scores["challenge_ssim_non_tumour"], 6)
    (nan, 1.0)
    """
    prediction = brasyn_normalise(prediction)
    truth = brasyn_normalise(truth)
    if prediction.shape != truth.shape:
        raise ValueError(f"challenge_metrics: shapes differ: prediction {prediction.shape}, truth {truth.shape}")
    tumour = np.zeros(truth.shape, bool) if seg is None else np.asarray(seg) > 0
    if tumour.shape != truth.shape:
        raise ValueError(f"challenge_metrics: seg shape {tumour.shape} differs from truth {truth.shape}")
    return {
        "challenge_ssim_tumour": _region_score(prediction, truth, tumour),
        "challenge_ssim_non_tumour": _region_score(prediction, truth, ~tumour),
    }


DROPOUT_SEED = 123456
DROPOUT_MODALITIES = ("t1c", "t1n", "t2f", "t2w")


def brasyn_dropped_contrasts(subject_folders) -> dict:
    """The contrast the organisers' `dropout_modality.py` drops for each subject folder.

    Reproduces the script of hongweilibran/BraSyn: `np.random.seed(123456)`, then one
    `np.random.randint(0, 4, size=len(folders))` call indexing `['t1c', 't1n', 't2f', 't2w']`,
    the k-th draw for the k-th folder. The script takes its folders in `os.listdir` order
    (filesystem dependent); pass them in the order the scoring run used (sorted, for a
    reproducible run). The global NumPy RNG is left untouched (a `RandomState` of the same seed
    draws the same values).

    Args:
        subject_folders: sequence of subject folder names, in order.

    Returns:
        dict folder name -> dropped contrast (`t1c`, `t1n`, `t2f` or `t2w`).

    Example:
    >>> from magan_keras.evaluation.challenge import brasyn_dropped_contrasts
    >>> dropped = brasyn_dropped_contrasts(["BraTS-GLI-00001-000", "BraTS-GLI-00002-000"])
    >>> sorted(dropped) == ["BraTS-GLI-00001-000", "BraTS-GLI-00002-000"]
    True
    >>> set(dropped.values()) <= {"t1c", "t1n", "t2f", "t2w"}
    True
    """
    folders = list(subject_folders)
    if len(set(folders)) != len(folders):
        raise ValueError("brasyn_dropped_contrasts: subject folder names repeat")
    draws = np.random.RandomState(DROPOUT_SEED).randint(0, 4, size=len(folders))
    return {folder: DROPOUT_MODALITIES[int(k)] for folder, k in zip(folders, draws)}
