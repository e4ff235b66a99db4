"""Intensity transforms: values against hand-computed tables, loud failures."""

import numpy as np
import pytest

from tfds_brats import intensity


def test_brain_mask_is_nonzero_in_any_volume():
    a = np.array([[0, 1], [0, 0]], np.float32)
    b = np.array([[0, 0], [-2, 0]], np.float32)
    np.testing.assert_array_equal(intensity.brain_mask([a, b]), [[False, True], [True, False]])


def test_brain_mask_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        intensity.brain_mask([np.ones((2, 2)), np.ones((3, 2))])


@pytest.mark.parametrize(
    "lower, upper, expected",
    [(0.0, 100.0, (1.0, 101.0)), (50.0, 100.0, (51.0, 101.0)), (0.5, 99.5, (1.5, 100.5))],
)
def test_percentile_range_inside_mask(lower, upper, expected):
    volume = np.concatenate([np.arange(1, 102, dtype=np.float32), np.full(50, 1000.0)])
    mask = volume < 1000  # the 1000s are outside the brain and must not count
    assert intensity.percentile_range(volume, mask, lower, upper) == pytest.approx(expected)


def test_normalise_volume_maps_percentiles_to_minus_one_and_one():
    volume = np.zeros((4, 4, 8), np.float32)
    volume[1:3, 1:3] = np.linspace(10, 20, 32, dtype=np.float32).reshape(2, 2, 8)
    mask = volume != 0
    scaled, low, high = intensity.normalise_volume(volume, mask)
    brain = volume[mask]
    assert low == pytest.approx(np.percentile(brain, 0.5))
    assert high == pytest.approx(np.percentile(brain, 99.5))
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled[~mask], -1.0)  # background exactly -1
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    expected = np.clip((brain - low) / (high - low) * 2 - 1, -1, 1)
    np.testing.assert_allclose(scaled[mask], expected, rtol=1e-5, atol=1e-6)


def test_rescale_table():
    values = np.array([0.0, 5.0, 10.0], np.float32)
    np.testing.assert_allclose(intensity.rescale(values, 0.0, 10.0), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(intensity.rescale(values, 0.0, 10.0, (0.0, 1.0)), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(
        intensity.rescale(values, 0.0, 10.0, mask=np.array([True, False, True])), [-1.0, -1.0, 1.0]
    )


def test_clip_bounds():
    np.testing.assert_array_equal(intensity.clip(np.array([-5, 0, 5, 50]), 0, 10), [0, 0, 5, 10])


def test_denormalise_inverts_normalise_inside_clip_range():
    rng = np.random.default_rng(0)
    volume = rng.uniform(100, 200, (6, 6, 6)).astype(np.float32)
    scaled, low, high = intensity.normalise_volume(volume)
    inside = (volume >= low) & (volume <= high)
    np.testing.assert_allclose(intensity.denormalise(scaled, low, high)[inside], volume[inside], rtol=1e-5)


def test_denormalise_broadcasts_per_contrast():
    scaled = np.full((2, 2, 4), 1.0, np.float32)
    out = intensity.denormalise(scaled, np.array([0, 1, 2, 3]), np.array([10, 11, 12, 13]))
    np.testing.assert_allclose(out[0, 0], [10, 11, 12, 13])


@pytest.mark.parametrize("volume", [np.full((4, 4), 7.0), np.zeros((4, 4))])
def test_constant_image_fails_loudly(volume):
    with pytest.raises(intensity.ConstantImageError, match="constant"):
        intensity.normalise_volume(volume)


def test_empty_mask_fails_loudly():
    with pytest.raises(intensity.ConstantImageError, match="no voxel"):
        intensity.normalise_volume(np.ones((3, 3)), np.zeros((3, 3), bool))


def test_bad_percentiles_rejected():
    with pytest.raises(ValueError, match="lower < upper"):
        intensity.percentile_range(np.arange(10.0), None, 60, 40)
