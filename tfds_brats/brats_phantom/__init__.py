"""The `brats_phantom` TFDS dataset (simulated BraTS-like subjects); importing registers it.

Example:
>>> from tfds_brats.brats_phantom import Builder
>>> from tfds_brats.configs import PhantomConfig
>>> builder = Builder(config=PhantomConfig(name="slices_48_n100", image_size=48, num_subjects=100), data_dir="tfds")
>>> builder.info.features["images"].shape  # builder.download_and_prepare() simulates and writes them
(48, 48, 4)
"""

from tfds_brats.brats_phantom.brats_phantom_dataset_builder import Builder

__all__ = ["Builder"]
