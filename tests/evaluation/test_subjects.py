"""Subjects to score (`magan_keras.evaluation.subjects`): a prepared split, a BraTS folder."""

import numpy as np
import pytest
import tensorflow as tf

from magan_keras.evaluation import subjects
from tfds_brats import examples
from tfds_brats.brats.make_dummy_data import write_fake_subject
from tfds_brats.constants import MIN_BRAIN_FRACTION

SIZE = 16


def test_split_slices_are_grouped_by_subject_in_slice_order(fake_split):
    grouped = subjects.subjects_from_split(fake_split())
    assert [g.subject_id for g in grouped] == ["subject0", "subject1", "subject2"]
    first = grouped[0]
    assert first.images.shape == (SIZE, SIZE, 6, 4) and first.seg is not None and first.model_size
    # Slices ordered by slice_index: the brain radius cycles 5, 6, 7, 5, 6, 7.
    areas = first.brain_mask.sum(axis=(0, 1))
    assert list(np.argsort(areas[:3])) == [0, 1, 2] and areas[0] == areas[3]
    assert [g.subject_id for g in subjects.subjects_from_split(fake_split(), max_subjects=2)] == [
        "subject0",
        "subject1",
    ]


def test_a_split_without_the_features_or_examples_is_named(fake_split):
    bare = tf.data.Dataset.from_tensor_slices({"images": np.zeros((2, 4, 4, 4), np.float32)})
    with pytest.raises(ValueError, match="lacks the features"):
        subjects.subjects_from_split(bare)
    with pytest.raises(ValueError, match="no example"):
        subjects.subjects_from_split(fake_split().take(0))
    with pytest.raises(ValueError, match="4 contrasts, expected 2"):
        subjects.subjects_from_split(fake_split(), modalities=("t1", "t2"))


def test_folder_subjects_keep_the_slices_with_enough_brain(tmp_path):
    write_fake_subject(tmp_path / "case0", "case0", seed=0, shape=(20, 20, 10))
    write_fake_subject(tmp_path / "case1", "case1", seed=1, shape=(20, 20, 10))
    default = list(subjects.subjects_from_folder(tmp_path))
    assert [s.subject_id for s in default] == ["case0", "case1"] and not default[0].model_size
    mask = default[0].brain_mask
    np.testing.assert_array_equal(default[0].slice_indices, examples.usable_slice_indices(mask, MIN_BRAIN_FRACTION))
    strict = next(subjects.subjects_from_folder(tmp_path, min_brain_fraction=0.3))
    np.testing.assert_array_equal(strict.slice_indices, examples.usable_slice_indices(mask, 0.3))
    assert set(default[0].scanner) == {"t1", "t1ce", "t2", "flair"}
    assert len(list(subjects.subjects_from_folder(tmp_path, max_subjects=1))) == 1


def test_load_split_names_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="tfds_brats.prepare"):
        subjects.load_split("brats_phantom/slices_32", "test", data_dir=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="no_such_config"):
        subjects.load_split("brats_phantom/no_such_config", "test")
