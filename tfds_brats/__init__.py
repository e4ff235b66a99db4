"""BraTS as TensorFlow Datasets: readers, intensity transforms, builders.

Light on import: TensorFlow / TFDS are only imported by the builder
sub-packages (`tfds_brats.brats`, `tfds_brats.brats_phantom`) and by
`tfds_brats.prepare`.

Example:

```python
from tfds_brats.prepare import prepare
builder = prepare(phantom=True, image_size=32, num_subjects=8,
                  data_dir="/tmp/tfds")
train = builder.as_dataset(split="train")
```
"""

from tfds_brats.constants import MODALITIES, SEG_LABELS, SPLIT_NAMES

__all__ = ["MODALITIES", "SEG_LABELS", "SPLIT_NAMES"]
