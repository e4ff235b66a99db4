"""brats dataset builder test, on the fake subjects of `dummy_data/`.

`dummy_data/` (made by `make_dummy_data.py`) holds 5 subjects of 24 x 24 x 12
voxels with 11 axial slices of >= 5 % brain each; the default 80/10/10 split
gives 3 / 1 / 1 subjects.

Run with `python -m pytest tests/tfds_brats` (a wrapper there imports these
classes) or directly: `python -m tfds_brats.brats.brats_dataset_builder_test`.

Example:

```bash
python -m pytest tests/tfds_brats/test_brats_builder.py -q
```
"""

import tensorflow_datasets as tfds

from tfds_brats.brats import brats_dataset_builder

SLICES_PER_SUBJECT = 11


class _BuilderTestCase(tfds.testing.DatasetBuilderTestCase):
    """Shared settings of the brats builder tests."""

    def test_session(self, *args, **kwargs):  # pylint: disable=useless-parent-delegation
        return super().test_session(*args, **kwargs)

    # tf.test.TestCase's `test_session` is a helper the graph-mode run calls,
    # not a test; without this pytest reports it as a skipped test.
    test_session.__test__ = False
    SKIP_CHECKSUMS = True  # manual download: nothing to checksum


class BratsSlicesTest(_BuilderTestCase):
    """Slice configs: one example per usable slice."""

    DATASET_CLASS = brats_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["slices_64", "slices_128", "slices_256"]
    SPLITS = {
        "train": 3 * SLICES_PER_SUBJECT,
        "validation": 1 * SLICES_PER_SUBJECT,
        "test": 1 * SLICES_PER_SUBJECT,
    }


class BratsVolumesTest(_BuilderTestCase):
    """Volumes config: one example per subject."""

    DATASET_CLASS = brats_dataset_builder.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["volumes"]
    SPLITS = {"train": 3, "validation": 1, "test": 1}


if __name__ == "__main__":
    tfds.testing.test_main()
