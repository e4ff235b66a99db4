"""The `brats` TFDS dataset (BraTS from local NIfTI files); importing registers it.

Example:
>>> import tensorflow_datasets as tfds
>>> import tfds_brats.brats
>>> builder = tfds.builder("brats/volumes", data_dir="tfds")
>>> builder.builder_config.layout, builder.is_prepared()
('volumes', False)
"""

from tfds_brats.brats.brats_dataset_builder import Builder

__all__ = ["Builder"]
