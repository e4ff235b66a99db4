"""The `brats` builder under TFDS's `DatasetBuilderTestCase`, on the fake subjects of `dummy_data/`.

`tfds_brats/brats/dummy_data/` (made by `tfds_brats/brats/make_dummy_data.py`) holds 5 subjects
of 24 x 24 x 12 voxels with 11 axial slices of >= 5 % brain each; the default 80/10/10 split
gives 3 / 1 / 1 subjects. (`tfds new` puts this test beside the builder; here it lives with the
other tests, so the installed package holds no tests.)
"""

import tensorflow_datasets as tfds

from tfds_brats.brats import brats_dataset_builder

SLICES_PER_SUBJECT = 11


class _Settings:
    """Shared settings of the brats builder tests (a mixin, so it is not collected itself)."""

    def test_session(self, *args, **kwargs):  # pylint: disable=useless-parent-delegation
        return super().test_session(*args, **kwargs)

    # tf.test.TestCase's `test_session` is a helper the graph-mode run calls,
    # not a test; without this pytest reports it as a skipped test.
    test_session.__test__ = False
    SKIP_CHECKSUMS = True  # manual download: nothing to checksum


class BratsSlicesTest(_Settings, tfds.testing.DatasetBuilderTestCase):
    """Slice configs: one example per usable slice."""

    DATASET_CLASS = brats_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["slices_64", "slices_128", "slices_256"]
    SPLITS = {
        "train": 3 * SLICES_PER_SUBJECT,
        "validation": 1 * SLICES_PER_SUBJECT,
        "test": 1 * SLICES_PER_SUBJECT,
    }


class BratsVolumesTest(_Settings, tfds.testing.DatasetBuilderTestCase):
    """Volumes config: one example per subject."""

    DATASET_CLASS = brats_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["volumes"]
    SPLITS = {"train": 3, "validation": 1, "test": 1}


def test_each_config_declares_its_image_shape(tmp_path):
    """`slices_<S>` examples are S x S x 4 (t1, t1ce, t2, flair) with an S x S mask; `volumes` keeps the scan's grid."""
    for size in (64, 128, 256):
        features = brats_dataset_builder.Builder(config=f"slices_{size}", data_dir=str(tmp_path)).info.features
        assert features["images"].shape == (size, size, 4)
        assert features["brain_mask"].shape == features["seg"].shape == (size, size)
    volumes = brats_dataset_builder.Builder(config="volumes", data_dir=str(tmp_path)).info.features
    assert volumes["images"].shape == (None, None, None, 4) and volumes["affine"].shape == (4, 4)
