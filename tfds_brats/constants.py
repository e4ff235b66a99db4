"""Names shared by the BraTS readers, the phantom and the TFDS builders.

Kept free of TensorFlow imports so that light modules (the phantom, the
intensity transforms) can use them cheaply.

Example:

```python
from tfds_brats.constants import MODALITIES
channel = MODALITIES.index("flair")  # 3
```
"""

# Contrast order everywhere (the last axis of every `images` tensor).
MODALITIES = ("t1", "t1ce", "t2", "flair")

# Segmentation labels as stored by the builders. BraTS 2018-2021 use
# 1 necrosis / non-enhancing core, 2 edema, 4 enhancing tumour; BraTS 2023+
# writes enhancing tumour as 3, which the reader maps to 4 so that every
# prepared dataset uses the same labels.
SEG_LABELS = {0: "background", 1: "necrosis", 2: "edema", 4: "enhancing"}

# Split names, in the order their fractions are given.
SPLIT_NAMES = ("train", "validation", "test")
