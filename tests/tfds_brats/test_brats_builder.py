"""Runs the `brats` DatasetBuilderTestCase classes kept beside the builder.

pytest only searches `tests/`, so the test module that `tfds new` places
beside the builder is imported here to be collected.
"""

from tfds_brats.brats.brats_dataset_builder_test import BratsSlicesTest, BratsVolumesTest

__all__ = ["BratsSlicesTest", "BratsVolumesTest"]
