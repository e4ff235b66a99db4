"""The evaluation protocols (`magan_keras.evaluation.protocols`) on hand-made cases."""

import math

import numpy as np
import pytest
import tensorflow as tf

from magan_keras.evaluation import protocols
from magan_keras.models import metrics


def blob_volume(shape=(20, 22, 14), seed=0):
    """Positive values inside an ellipsoid brain, 0 outside; a brighter 'tumour'; its seg."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float64)
    centre = (np.array(shape) / 2.0)[:, None, None, None]
    brain = ((((grid - centre) / (0.4 * np.array(shape))[:, None, None, None]) ** 2).sum(0)) <= 1
    tumour = brain & ((((grid - centre - 2) / 3.0) ** 2).sum(0) <= 1)
    volume = np.where(brain, 100 + 20 * rng.standard_normal(shape), 0.0)
    volume[tumour] += 150
    return volume, brain, np.where(tumour, 2, 0).astype(np.uint8)


def test_identical_volumes_score_perfectly():
    volume, brain, seg = blob_volume()
    scores = protocols.brasyn_metrics(volume, volume, brain, seg)
    for name in ("brain_ssim", "brain_ssim_tumour", "brain_ssim_non_tumour"):
        assert scores[name] == pytest.approx(1.0, abs=1e-9)
    assert scores["brain_psnr"] == pytest.approx(100.0)
    model_scale = np.where(brain, volume / volume.max() * 2 - 1, -1.0)
    per_slice = protocols.slice_metrics(model_scale, model_scale, brain)
    assert per_slice["slice_ssim"] == pytest.approx(1.0) and per_slice["slice_mae"] == 0.0
    assert per_slice["slice_psnr"] == pytest.approx(100.0)


def test_brasyn_is_invariant_to_the_predictions_linear_scale_but_not_to_noise():
    volume, brain, seg = blob_volume()
    rescaled = protocols.brasyn_metrics(3.0 * volume, volume, brain, seg)
    assert rescaled["brain_ssim"] == pytest.approx(1.0, abs=1e-9)
    noisy = volume + np.where(brain, 30 * np.random.default_rng(1).standard_normal(volume.shape), 0)
    worse = protocols.brasyn_metrics(noisy, volume, brain, seg)
    assert worse["brain_ssim"] < 0.95 and worse["brain_psnr"] < 40


def test_brasyn_normalise_clips_to_own_percentiles_with_a_non_negative_floor():
    volume = np.arange(-100, 900, dtype=np.float64).reshape(10, 10, 10)
    normalised = protocols.brasyn_normalise(volume)
    high = np.percentile(volume, 99.5)
    assert normalised.min() == 0.0 and normalised.max() == 1.0
    assert normalised[volume <= 0].max() == 0.0  # the lower bound is raised to 0
    assert normalised.flat[500] == pytest.approx(400 / high)
    assert np.all(protocols.brasyn_normalise(np.full((4, 4, 4), 7.0)) == 0)


def test_tumour_scores_are_nan_without_a_tumour():
    volume, brain, _ = blob_volume()
    for seg in (None, np.zeros(volume.shape, np.uint8)):
        scores = protocols.brasyn_metrics(volume, volume, brain, seg)
        assert math.isnan(scores["brain_ssim_tumour"]) and math.isnan(scores["brain_ssim_non_tumour"])
        assert scores["brain_ssim"] == pytest.approx(1.0)


def test_region_ssim_on_a_crop_equals_the_full_map():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0, 1, (2, 30, 28, 26))
    region = np.zeros(a.shape, bool)
    region[10:15, 4:9, 18:22] = True
    full = protocols.ssim_map(a * region, b * region, axes=(0, 1, 2))[region].mean()
    assert protocols._region_ssim(a, b, region) == pytest.approx(full, rel=1e-12)


def test_slice_ssim_map_matches_tf_image_ssim():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 1, (2, 24, 24))
    y = 0.6 * x + 0.4 * y
    ours = protocols.ssim_map(x, y, axes=(0, 1))[5:-5, 5:-5].mean()
    reference = float(metrics.ssim(x[None, :, :, None], y[None, :, :, None])[0])
    assert ours == pytest.approx(reference, abs=1e-5)
    assert float(tf.image.ssim(x[..., None], y[..., None], max_val=1.0)) == pytest.approx(ours, abs=1e-5)


def test_slice_metrics_on_a_known_offset_inside_the_brain_only():
    brain = np.zeros((16, 16, 3), bool)
    brain[4:12, 4:12, :] = True
    truth = np.where(brain, 0.0, -1.0)
    prediction = np.where(brain, 0.2, 0.7)  # +0.1 on the unit scale inside; junk outside is ignored
    scores = protocols.slice_metrics(prediction, truth, brain)
    assert scores["slice_mae"] == pytest.approx(0.1)
    assert scores["slice_psnr"] == pytest.approx(20.0)
    assert len(scores["per_slice"]["mae"]) == 3


def test_ssim_terms_multiply_to_the_ssim_map():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 1, (2, 20, 18))
    terms = protocols.ssim_terms(x, 0.7 * x + 0.3 * y, axes=(0, 1))
    product = terms["luminance"] * terms["contrast"] * terms["structure"]
    np.testing.assert_allclose(product, protocols.ssim_map(x, 0.7 * x + 0.3 * y, axes=(0, 1)), atol=1e-9)
