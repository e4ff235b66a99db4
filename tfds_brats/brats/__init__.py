"""The `brats` TFDS dataset (BraTS from local NIfTI files); importing registers it.

Example:

```python
import tensorflow_datasets as tfds
import tfds_brats.brats

builder = tfds.builder("brats/volumes", data_dir="/tmp/tfds")
```
"""

from tfds_brats.brats.brats_dataset_builder import Builder

__all__ = ["Builder"]
