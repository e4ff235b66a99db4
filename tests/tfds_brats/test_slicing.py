"""`tfds_brats.slicing`: volume -> canvas -> model-size slices, and back (a round trip)."""

import numpy as np
import pytest

from tfds_brats import slicing


def test_usable_slices_threshold():
    mask = np.zeros((10, 10, 5), bool)
    mask[:5, :1, 1] = True  # 5 % -> kept
    mask[:4, :1, 2] = True  # 4 % -> dropped
    mask[:, :, 3] = True  # 100 %
    np.testing.assert_allclose(slicing.brain_fraction_per_slice(mask), [0, 0.05, 0.04, 1, 0])
    np.testing.assert_array_equal(slicing.usable_slice_indices(mask, 0.05), [1, 3])
    np.testing.assert_array_equal(slicing.usable_slice_indices(mask, 0.0), [1, 2, 3])


@pytest.mark.parametrize("size, canvas, before", [(240, 256, 8), (5, 8, 1), (10, 8, None)])
def test_fit_to_canvas_centres(size, canvas, before):
    array = np.arange(size * size, dtype=np.float32).reshape(1, size, size)
    out = slicing.fit_to_canvas(array, canvas, -1.0)
    assert out.shape == (1, canvas, canvas)
    if before is None:  # cropped: the centre 8 of 10
        np.testing.assert_array_equal(out[0], array[0, 1:9, 1:9])
    else:
        np.testing.assert_array_equal(out[0, before : before + size, before : before + size], array[0])
        assert out[0, 0, 0] == -1.0 and out[0, -1, -1] == -1.0


def test_fit_to_canvas_pads_one_axis_and_crops_the_other():
    array = np.arange(5 * 10 * 2, dtype=np.int16).reshape(1, 5, 10, 2)
    out = slicing.fit_to_canvas(array, 8, 0)
    assert out.shape == (1, 8, 8, 2) and out.dtype == np.int16
    np.testing.assert_array_equal(out[0, 1:6], array[0, :, 1:9])
    assert not out[0, 0].any() and not out[0, 6:].any()


@pytest.mark.parametrize("shape", [(5, 10), (10, 5), (7, 7), (8, 8), (9, 6), (3, 12)])
def test_from_canvas_inverts_fit_to_canvas(shape):
    array = np.arange(2 * shape[0] * shape[1], dtype=np.float32).reshape((2,) + shape) + 1
    back = slicing.from_canvas(slicing.fit_to_canvas(array, 8, -1.0), shape, -1.0)
    assert back.shape == array.shape
    kept = np.zeros(shape, bool)  # what a centre crop to 8 keeps
    x0, y0 = max((shape[0] - 8) // 2, 0), max((shape[1] - 8) // 2, 0)
    kept[x0 : x0 + 8, y0 : y0 + 8] = True
    np.testing.assert_array_equal(back[:, kept], array[:, kept])
    assert np.all(back[:, ~kept] == -1.0)


def test_resize_keeps_labels_and_background():
    rng = np.random.default_rng(0)
    mask = np.zeros((2, 16, 16), bool)
    mask[:, 4:12, 4:12] = True
    images = np.where(mask[..., None], rng.uniform(-1, 1, (2, 16, 16, 4)), -1.0).astype(np.float32)
    seg = np.where(mask, rng.choice([0, 1, 2, 4], (2, 16, 16)), 0).astype(np.uint8)
    out_images, out_mask, out_seg = slicing.resize_slices(images, mask, seg, 8)
    assert out_images.shape == (2, 8, 8, 4) and out_mask.shape == (2, 8, 8)
    assert out_images.dtype == np.float32 and out_mask.dtype == bool and out_seg.dtype == np.uint8
    assert set(np.unique(out_seg)) <= {0, 1, 2, 4}  # nearest: no blended labels
    np.testing.assert_array_equal(out_images[~out_mask], -1.0)
    assert out_images.min() >= -1.0 and out_images.max() <= 1.0
    assert out_mask.sum() == 2 * 16  # the 8x8 square becomes 4x4


def test_to_model_slices_carries_seg_and_picks_slices_with_brain():
    mask = np.zeros((12, 12, 5), bool)
    mask[2:10, 3:9, 1:4] = True
    seg = np.where(mask, 2, 0).astype(np.uint8)
    images = np.where(mask[..., None], 0.25, -1.0).astype(np.float32)
    cut = slicing.to_model_slices(images, mask, image_size=16, canvas_size=16, seg=seg)
    assert cut.indices.tolist() == [1, 2, 3] and cut.images.shape == (3, 16, 16, 1)
    np.testing.assert_array_equal(cut.seg == 2, cut.brain_mask)
    np.testing.assert_array_equal(cut.images[..., 0][~cut.brain_mask], -1.0)
    chosen = slicing.to_model_slices(images, mask, image_size=16, canvas_size=16, indices=[0, 2])
    assert chosen.indices.tolist() == [0, 2] and not chosen.seg.any()


@pytest.mark.parametrize("canvas_size", [32, 24, 16])
def test_round_trip_is_exact_where_nothing_is_resampled(canvas_size):
    rng = np.random.default_rng(0)
    mask = np.zeros((24, 20, 5), bool)
    mask[3:21, 2:18, 1:4] = True
    images = np.where(mask[..., None], rng.uniform(-1, 1, mask.shape + (2,)), -1.0).astype(np.float32)
    slices, _, _, kept = slicing.to_model_slices(images, mask, image_size=canvas_size, canvas_size=canvas_size)
    assert list(kept) == [1, 2, 3] and slices.shape == (3, canvas_size, canvas_size, 2)
    back = slicing.from_model_slices(slices[..., 1], kept, mask.shape, canvas_size=canvas_size)
    inside = np.zeros(mask.shape, bool)  # what survives a centre crop to the canvas
    x0, y0 = max((24 - canvas_size) // 2, 0), max((20 - canvas_size) // 2, 0)
    inside[x0 : x0 + canvas_size, y0 : y0 + canvas_size] = True
    np.testing.assert_array_equal(back[inside], images[..., 1][inside])
    assert np.all(back[~inside] == -1.0)  # cropped away or slices without brain: background


def test_round_trip_through_a_resize_comes_back_aligned():
    """Pad 24 -> 32, resize 32 -> 16 and back: an off-centre blob returns where it was."""
    x, y = np.meshgrid(np.arange(24), np.arange(24), indexing="ij")
    blob = (1.6 * np.exp(-((x - 9.0) ** 2 + (y - 14.0) ** 2) / (2 * 3.0**2)) - 0.8).astype(np.float32)
    images = np.repeat(blob[:, :, None, None], 3, axis=2)
    mask = np.ones((24, 24, 3), bool)
    slices, _, _, kept = slicing.to_model_slices(images, mask, image_size=16, canvas_size=32)
    back = slicing.from_model_slices(slices[..., 0], kept, mask.shape, canvas_size=32)
    centre = (slice(3, 21), slice(3, 21), slice(None))

    def error(dx, dy):
        shifted = np.roll(back, (dx, dy), axis=(0, 1))
        return np.abs(shifted[centre] - images[..., 0][centre]).mean()

    errors = {(dx, dy): error(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    assert min(errors, key=errors.get) == (0, 0)
    assert errors[(0, 0)] < 0.05
