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

# Registers the training command's learning-rate schedule, so that `import magan_keras` is
# all `keras.saving.load_model` needs for a model the training command saved.
from magan_keras.training.schedules import HoldThenLinearDecay

__version__ = "0.1.0"

__all__ = [
    "BRATS_MODALITIES",
    "HoldThenLinearDecay",
    "MAGAN",
    "MultiBranchGenerator",
    "PatchDiscriminator",
    "SelfRepresentationNetwork",
    "SingleInputGenerator",
]
