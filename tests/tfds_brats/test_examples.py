"""Slices and volumes from a subject: slice selection, padding, resizing, background."""

import numpy as np
import pytest

from tfds_brats import examples
from tfds_brats.brats.make_dummy_data import fake_canonical_subject
from tfds_brats.constants import MODALITIES


def test_usable_slices_threshold():
    mask = np.zeros((10, 10, 5), bool)
    mask[:5, :1, 1] = True  # 5 % -> kept
    mask[:4, :1, 2] = True  # 4 % -> dropped
    mask[:, :, 3] = True  # 100 %
    np.testing.assert_allclose(examples.brain_fraction_per_slice(mask), [0, 0.05, 0.04, 1, 0])
    np.testing.assert_array_equal(examples.usable_slice_indices(mask, 0.05), [1, 3])
    np.testing.assert_array_equal(examples.usable_slice_indices(mask, 0.0), [1, 2, 3])


@pytest.mark.parametrize("size, canvas, before", [(240, 256, 8), (5, 8, 1), (10, 8, None)])
def test_fit_to_canvas_centres(size, canvas, before):
    array = np.arange(size * size, dtype=np.float32).reshape(1, size, size)
    out = examples.fit_to_canvas(array, canvas, -1.0)
    assert out.shape == (1, canvas, canvas)
    if before is None:  # cropped: the centre 8 of 10
        np.testing.assert_array_equal(out[0], array[0, 1:9, 1:9])
    else:
        np.testing.assert_array_equal(out[0, before : before + size, before : before + size], array[0])
        assert out[0, 0, 0] == -1.0 and out[0, -1, -1] == -1.0


def test_fit_to_canvas_pads_one_axis_and_crops_the_other():
    array = np.arange(5 * 10 * 2, dtype=np.int16).reshape(1, 5, 10, 2)
    out = examples.fit_to_canvas(array, 8, 0)
    assert out.shape == (1, 8, 8, 2) and out.dtype == np.int16
    np.testing.assert_array_equal(out[0, 1:6], array[0, :, 1:9])
    assert not out[0, 0].any() and not out[0, 6:].any()


def test_resize_keeps_labels_and_background():
    rng = np.random.default_rng(0)
    mask = np.zeros((2, 16, 16), bool)
    mask[:, 4:12, 4:12] = True
    images = np.where(mask[..., None], rng.uniform(-1, 1, (2, 16, 16, 4)), -1.0).astype(np.float32)
    seg = np.where(mask, rng.choice([0, 1, 2, 4], (2, 16, 16)), 0).astype(np.uint8)
    out_images, out_mask, out_seg = examples.resize_slices(images, mask, seg, 8)
    assert out_images.shape == (2, 8, 8, 4) and out_mask.shape == (2, 8, 8)
    assert out_images.dtype == np.float32 and out_mask.dtype == bool and out_seg.dtype == np.uint8
    assert set(np.unique(out_seg)) <= {0, 1, 2, 4}  # nearest: no blended labels
    np.testing.assert_array_equal(out_images[~out_mask], -1.0)
    assert out_images.min() >= -1.0 and out_images.max() <= 1.0
    assert out_mask.sum() == 2 * 16  # the 8x8 square becomes 4x4


def test_slice_examples_fields_and_keys():
    volumes, seg = fake_canonical_subject(seed=2)
    volumes = {m: v.astype(np.float32) for m, v in volumes.items()}
    mask = np.any([v != 0 for v in volumes.values()], axis=0)
    produced = list(
        examples.subject_examples(
            "s9", volumes, mask, seg, np.eye(4), layout="slices", image_size=16,
            canvas_size=32, min_brain_fraction=0.05,
        )
    )
    kept = examples.usable_slice_indices(mask, 0.05)
    assert [key for key, _ in produced] == [f"s9/{k:04d}" for k in kept]
    key, example = produced[len(produced) // 2]
    assert example["images"].shape == (16, 16, 4) and example["images"].dtype == np.float32
    assert example["brain_mask"].shape == (16, 16) and example["seg"].shape == (16, 16)
    assert example["has_seg"] is True and example["subject_id"] == "s9"
    assert example["slice_index"] == int(key.split("/")[1])
    np.testing.assert_array_equal(example["images"][~example["brain_mask"]], -1.0)
    assert example["norm_low"].shape == (len(MODALITIES),)
    assert np.all(example["norm_high"] > example["norm_low"])


def test_slice_examples_without_seg_store_zeros():
    volumes, _ = fake_canonical_subject(seed=3)
    mask = np.any([v != 0 for v in volumes.values()], axis=0)
    _, example = next(
        examples.subject_examples(
            "s", volumes, mask, None, np.eye(4), layout="slices", image_size=24,
            canvas_size=24, min_brain_fraction=0.05,
        )
    )
    assert example["has_seg"] is False and not example["seg"].any()


def test_volume_example_holds_the_whole_subject():
    volumes, seg = fake_canonical_subject(seed=4)
    mask = np.any([v != 0 for v in volumes.values()], axis=0)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    (key, example), = examples.subject_examples(
        "v", volumes, mask, seg, affine, layout="volumes", image_size=0, canvas_size=0,
        min_brain_fraction=0.0,
    )
    assert key == "v" and example["images"].shape == (24, 24, 12, 4)
    np.testing.assert_array_equal(example["affine"], affine.astype(np.float32))
    np.testing.assert_array_equal(example["brain_mask"], mask)


def test_constant_contrast_is_named():
    volumes = {m: np.ones((4, 4, 4), np.float32) for m in MODALITIES}
    volumes["t1"][0] = 2.0
    mask = np.ones((4, 4, 4), bool)
    with pytest.raises(ValueError, match="contrast 't1ce'"):
        examples.normalise_subject(volumes, mask)


def test_unknown_layout_rejected():
    with pytest.raises(ValueError, match="layout"):
        list(examples.subject_examples("s", {}, np.ones((2, 2, 2), bool), None, np.eye(4),
                                       layout="cubes", image_size=2, canvas_size=2,
                                       min_brain_fraction=0.0))
