"""BraTS as TensorFlow Datasets: readers, intensity transforms, builders.

Light on import: TensorFlow / TFDS are only imported by the builder
sub-packages (`tfds_brats.brats`, `tfds_brats.brats_phantom`) and by
`tfds_brats.prepare`.

Example:
>>> import tfds_brats
>>> tfds_brats.MODALITIES, tfds_brats.SPLIT_NAMES
(('t1', 't1ce', 't2', 'flair'), ('train', 'validation', 'test'))

Preparing and reading a dataset (`tfds_brats.prepare`):

```python
from tfds_brats.prepare import prepare
builder = prepare(phantom=True, image_size=32, num_subjects=8, data_dir="/tmp/tfds")
train = builder.as_dataset(split="train")
```
"""

from tfds_brats.constants import MODALITIES, SEG_LABELS, SPLIT_NAMES

__all__ = ["MODALITIES", "SEG_LABELS", "SPLIT_NAMES"]
