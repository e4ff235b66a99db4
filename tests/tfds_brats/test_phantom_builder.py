"""brats_phantom: the same features and processing as brats slices, any size and count."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_brats.brats import Builder as BratsBuilder
from tfds_brats.brats_phantom import Builder as PhantomBuilder
from tfds_brats.brats_phantom.brats_phantom_dataset_builder import subject_seed
from tfds_brats.configs import BratsConfig, PhantomConfig
from tfds_brats.prepare import prepare


@pytest.mark.parametrize("size", [32, 64, 128])
def test_feature_spec_matches_brats_slices(size, tmp_path):
    name = f"slices_{size}"
    config = name if name in BratsBuilder.builder_configs else BratsConfig(name=name, image_size=size)
    brats = BratsBuilder(config=config, data_dir=tmp_path)
    phantom = PhantomBuilder(config=f"slices_{size}", data_dir=tmp_path)
    assert phantom.info.features.to_json() == brats.info.features.to_json()


def test_prepared_phantom_has_the_brats_element_spec(dummy_dir, tmp_path, phantom_module):
    phantom = prepare(phantom=True, image_size=16, num_subjects=5, data_dir=tmp_path)
    brats = prepare(dummy_dir, config=BratsConfig(name="slices_16", image_size=16), data_dir=tmp_path)
    for split in ("train", "validation", "test"):
        assert phantom.as_dataset(split=split).element_spec == brats.as_dataset(split=split).element_spec


def test_phantom_examples_follow_the_contract(tmp_path, phantom_module):
    builder = prepare(phantom=True, image_size=16, num_subjects=5, seed=3, data_dir=tmp_path)
    assert builder.builder_config.name == "slices_16_num_subjects5_seed3"
    split_subjects = builder.info.metadata["split_subjects"]
    assert {k: len(v) for k, v in split_subjects.items()} == {"train": 3, "validation": 1, "test": 1}
    seen = {}
    for split in split_subjects:
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            seen.setdefault(split, set()).add(example["subject_id"].decode())
            images, mask = example["images"], example["brain_mask"]
            assert images.shape == (16, 16, 4) and images.min() >= -1.0 and images.max() <= 1.0
            np.testing.assert_array_equal(images[~mask], -1.0)
            assert example["has_seg"] and set(np.unique(example["seg"])) <= {0, 1, 2, 4}
            assert mask.mean() >= 0.05  # no resizing: the kept fraction as measured
    assert {k: sorted(v) for k, v in seen.items()} == split_subjects  # disjoint, as recorded


def test_phantom_subjects_come_from_make_subject(tmp_path, phantom_module, monkeypatch):
    calls = []
    real = phantom_module.make_subject

    def spy(seed, shape):
        calls.append((seed, shape))
        return real(seed, shape)

    monkeypatch.setattr(phantom_module, "make_subject", spy)
    config = PhantomConfig(name="spy_16", image_size=16, num_subjects=3, seed=9, depth=8)
    PhantomBuilder(config=config, data_dir=tmp_path).download_and_prepare()
    assert sorted(calls) == sorted((subject_seed(9, i), (16, 16, 8)) for i in range(3))


def test_phantom_depth_follows_image_size():
    assert PhantomConfig(name="a", image_size=64).volume_shape == (64, 64, 32)
    assert PhantomConfig(name="b", image_size=8).volume_shape == (8, 8, 8)
    assert PhantomConfig(name="c", image_size=32, depth=10).volume_shape == (32, 32, 10)
    with pytest.raises(ValueError, match="num_subjects"):
        PhantomConfig(name="d", num_subjects=0)
