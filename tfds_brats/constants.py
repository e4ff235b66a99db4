"""Names shared by the BraTS readers, the phantom and the TFDS builders.

Kept free of TensorFlow imports so that light modules (the phantom, the
intensity transforms) can use them cheaply.

Example:
>>> from tfds_brats.constants import BRATS_CANVAS_SIZE, MODALITIES
>>> MODALITIES.index("flair"), BRATS_CANVAS_SIZE
(3, 256)
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

# How the builders turn a volume into model slices (one constant per fact; the
# `Preprocessing` record of `tfds_brats.preprocessing` carries them with a model).
BRATS_CANVAS_SIZE = 256  # BraTS's 240 x 240 with 8 voxels to spare on each side
MIN_BRAIN_FRACTION = 0.05  # axial slices with less brain are left out
LOWER_PERCENTILE = 0.5  # each contrast is clipped to these brain percentiles -> [-1, 1]
UPPER_PERCENTILE = 99.5
TRAINED_SPACING_MM = 1.0  # voxel size of BraTS (SRI24, 1 mm isotropic), which the models are trained on
MAX_CONTEXT_SLICES = 8  # 2.5-D context: at most this many neighbours on each side of a slice
ORIENTATION = "RAS"  # canonical voxel axes every volume is brought to; axial slices are [:, :, k]
