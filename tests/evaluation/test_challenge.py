"""`challenge` against torchmetrics' SSIM, used as the BraSyn organisers' `ssim.py` uses it."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")
from torchmetrics.image import StructuralSimilarityIndexMeasure  # noqa: E402

from magan_keras.evaluation import challenge  # noqa: E402
from tfds_brats.phantom import make_subject  # noqa: E402

pytestmark = pytest.mark.backends
TOLERANCE = 1e-4


def _clip(volume):
    low, high = np.percentile(volume, [0.5, 99.5])
    low = 0 if low < 0 else low
    return (np.clip(volume, low, high) - low) / (high - low)


def organisers(truth, prediction, seg):
    """The organisers' `compute_metrics` (BraSyn ecdaf00), boolean region selection, float64."""
    ssim = StructuralSimilarityIndexMeasure(return_full_image=True)
    truth = torch.tensor(_clip(truth)[None, None])
    prediction = torch.tensor(_clip(prediction)[None, None])
    mask = torch.tensor((np.asarray(seg) > 0)[None, None]).to(torch.int64)
    scores = []
    for region in (mask, 1 - mask):
        _, full = ssim(preds=prediction * region, target=truth * region)
        ssim.reset()
        selected = full[region.bool()]
        scores.append(float(selected.mean()) if selected.numel() else math.nan)
    return scores


def _compare(truth, prediction, seg):
    ours = challenge.challenge_metrics(prediction, truth, seg)
    theirs = organisers(truth, prediction, seg)
    for name, value in zip(challenge.CHALLENGE_METRICS, theirs):
        if math.isnan(value):
            assert math.isnan(ours[name]), name
        else:
            assert abs(ours[name] - value) < TOLERANCE, (name, ours[name], value)
    return ours, theirs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_volumes(seed):
    rng = np.random.default_rng(seed)
    truth = rng.normal(100, 30, (20, 18, 16))
    prediction = truth + rng.normal(0, 20, truth.shape)
    seg = np.zeros(truth.shape, np.uint8)
    seg[6:12, 5:11, 4:9] = rng.choice([1, 2, 3], size=(6, 6, 5))
    _compare(truth, prediction, seg)


def test_empty_tumour():
    rng = np.random.default_rng(3)
    truth = rng.uniform(0, 50, (16, 16, 16))
    ours, _ = _compare(truth, 0.8 * truth + rng.uniform(0, 5, truth.shape), np.zeros(truth.shape, np.uint8))
    assert math.isnan(ours["challenge_ssim_tumour"])


def test_phantom_subject():
    subject = make_subject(4, (48, 48, 20), tumour_probability=1.0)
    truth = subject.volumes["t1"] if "t1" in subject.volumes else next(iter(subject.volumes.values()))
    from scipy import ndimage

    noisy = ndimage.gaussian_filter(truth, 1.0) + np.random.default_rng(5).normal(0, 20, truth.shape)
    assert (subject.seg > 0).any()
    _compare(truth, noisy, subject.seg)
