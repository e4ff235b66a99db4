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
brain_psnr, brain_mae      PSNR and MAE over the brain voxels of the        this project only
                          normalised volumes (`_tumour`, `_non_tumour`:
                          over the tumour, the brain without it)
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
import os
import pathlib

import numpy as np

from magan_keras.evaluation.protocols import K1, K2, WINDOW_SIGMA, WINDOW_SIZE, _blur, brasyn_normalise, gaussian_window
from tfds_brats.subjects import NAMINGS

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


DROPOUT_COMMIT = "8908040"
DROPOUT_SEED = 123456
DROPOUT_MODALITIES = ("t1c", "t1n", "t2f", "t2w")
# The challenge's file tags (BraTS 2023 naming) <-> this project's contrast names.
CONTRAST_OF_TAG = {tag: role for (sep, tag), role in NAMINGS["brats2023"].items() if role != "seg"}
CHALLENGE_TAGS = {role: tag for tag, role in CONTRAST_OF_TAG.items()}


def brasyn_dropped_contrasts(subject_folders) -> dict:
    """The contrast the organisers' `dropout_modality.py` drops for each subject folder.

    Reproduces the script of hongweilibran/BraSyn (commit 8908040, `DROPOUT_COMMIT`):
    `np.random.seed(123456)`, `folder_list = os.listdir(...)`, `folder_list.sort()`, then one
    `np.random.randint(0, 4, size=len(folder_list))` call indexing `['t1c', 't1n', 't2f', 't2w']`,
    the k-th draw for the k-th folder. (An earlier version, commit 1f9529d, did not sort: its
    picks depended on the filesystem's listing order.) This function takes the folders in the
    order given; `brasyn_dropout_for_folder` sorts them as the script does. NumPy's legacy
    global RNG is a `RandomState` (MT19937), so a `RandomState(123456)` draws the same values;
    the global RNG is left untouched. (Python's `random` module is imported by the script but
    never called.)

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


def brasyn_dropout_for_folder(data_dir) -> dict:
    """The contrast the organisers' `dropout_modality.py` drops for each subject of a BraTS folder.

    Like the script (commit `DROPOUT_COMMIT`), the draws index the sorted names of every folder
    directly in `data_dir` (one folder per subject, as the challenge's data come; the script
    would stop on a plain file there, which is left out here), so a folder that is not a subject
    still takes its draw. Each subject found under a folder (`tfds_brats.subjects.find_subjects`)
    gets that folder's pick, in this project's contrast names.

    Args:
        data_dir: str or path-like. The validation (or test) folder of subject folders.

    Returns:
        dict subject id -> dropped contrast (`t1`, `t1ce`, `t2` or `flair`), in subject order.

    Raises:
        ValueError: a subject's files lie directly in `data_dir` (no folder to draw for).
        tfds_brats.subjects.NoSubjectsError: no BraTS-named file under `data_dir`.

    Example:
    >>> from magan_keras.evaluation.challenge import CHALLENGE_TAGS, brasyn_dropout_for_folder, brasyn_dropped_contrasts
    >>> from tfds_brats.brats.make_dummy_data import write_fake_subject
    >>> for k in (2, 1):
    ...     _ = write_fake_subject(f"val/BraTS-GLI-0000{k}-000", f"BraTS-GLI-0000{k}-000", naming="brats2023")
    >>> picks = brasyn_dropout_for_folder("val")
    >>> list(picks)
    ['BraTS-GLI-00001-000', 'BraTS-GLI-00002-000']
    >>> tags = brasyn_dropped_contrasts(["BraTS-GLI-00001-000", "BraTS-GLI-00002-000"])
    >>> [CHALLENGE_TAGS[picks[s]] for s in picks] == list(tags.values())
    True
    """
    from tfds_brats import subjects  # pylint: disable=import-outside-toplevel

    root = pathlib.Path(os.path.expanduser(os.fspath(data_dir)))
    found = subjects.find_subjects(root)
    folders = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    tags = brasyn_dropped_contrasts(folders)
    picks = {}
    for files in found:
        relative = files.folder.relative_to(root)  # os.walk's paths under root (symlinks kept)
        if not relative.parts:
            raise ValueError(
                f"--brasyn-dropout: subject {files.subject_id} lies directly in {root}; the "
                "challenge's protocol draws one pick per subject folder"
            )
        picks[files.subject_id] = CONTRAST_OF_TAG[tags[relative.parts[0]]]
    return picks
