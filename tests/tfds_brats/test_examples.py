"""Examples from a subject: fields, keys, normalisation and layouts (the slicing is test_slicing.py)."""

import numpy as np
import pytest

from tfds_brats import examples, slicing
from tfds_brats.brats.make_dummy_data import fake_canonical_subject
from tfds_brats.constants import MODALITIES


def test_slice_examples_are_the_shared_slicing():
    volumes, seg = fake_canonical_subject(seed=5)
    volumes = {m: v.astype(np.float32) for m, v in volumes.items()}
    mask = np.any([v != 0 for v in volumes.values()], axis=0)
    produced = dict(
        examples.subject_examples(
            "s", volumes, mask, seg, np.eye(4), layout="slices", image_size=16, canvas_size=32, min_brain_fraction=0.05
        )
    )
    images, _, _ = examples.normalise_subject(volumes, mask)
    kept = slicing.usable_slice_indices(mask, 0.05)
    cut = slicing.to_model_slices(images, mask, image_size=16, canvas_size=32, indices=kept, seg=seg)
    for position, index in enumerate(kept):
        example = produced[f"s/{index:04d}"]
        np.testing.assert_array_equal(example["images"], cut.images[position])
        np.testing.assert_array_equal(example["brain_mask"], cut.brain_mask[position])
        np.testing.assert_array_equal(example["seg"], cut.seg[position])
    assert examples.usable_slice_indices is slicing.usable_slice_indices  # one rule, re-exported


def test_slice_examples_fields_and_keys():
    volumes, seg = fake_canonical_subject(seed=2)
    volumes = {m: v.astype(np.float32) for m, v in volumes.items()}
    mask = np.any([v != 0 for v in volumes.values()], axis=0)
    produced = list(
        examples.subject_examples(
            "s9",
            volumes,
            mask,
            seg,
            np.eye(4),
            layout="slices",
            image_size=16,
            canvas_size=32,
            min_brain_fraction=0.05,
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
            "s",
            volumes,
            mask,
            None,
            np.eye(4),
            layout="slices",
            image_size=24,
            canvas_size=24,
            min_brain_fraction=0.05,
        )
    )
    assert example["has_seg"] is False and not example["seg"].any()


def test_volume_example_holds_the_whole_subject():
    volumes, seg = fake_canonical_subject(seed=4)
    mask = np.any([v != 0 for v in volumes.values()], axis=0)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    ((key, example),) = examples.subject_examples(
        "v",
        volumes,
        mask,
        seg,
        affine,
        layout="volumes",
        image_size=0,
        canvas_size=0,
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
        list(
            examples.subject_examples(
                "s",
                {},
                np.ones((2, 2, 2), bool),
                None,
                np.eye(4),
                layout="cubes",
                image_size=2,
                canvas_size=2,
                min_brain_fraction=0.0,
            )
        )
