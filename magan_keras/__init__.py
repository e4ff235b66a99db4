"""magan_keras: MA-GAN missing MRI contrast synthesis in Keras 3.

Example:
>>> import magan_keras
>>> model = magan_keras.MAGAN(image_size=64, base_filters=16, res_blocks=2)
>>> model.compile()
"""

from magan_keras.modalities import BRATS_MODALITIES
from magan_keras.models import (
    MAGAN,
    MultiBranchGenerator,
    PatchDiscriminator,
    SelfRepresentationNetwork,
    SingleInputGenerator,
)

__version__ = "0.1.0"

__all__ = [
    "BRATS_MODALITIES",
    "MAGAN",
    "MultiBranchGenerator",
    "PatchDiscriminator",
    "SelfRepresentationNetwork",
    "SingleInputGenerator",
]
