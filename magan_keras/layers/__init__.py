"""Custom Keras layers of MA-GAN: modal attention (MA), intra-modal attention (RA), blocks."""

from magan_keras.layers.blocks import ConvBlock, ResidualBlock, instance_norm
from magan_keras.layers.instance_norm import InstanceNormalization
from magan_keras.layers.intra_attention import IntraModalAttention
from magan_keras.layers.modal_attention import ModalAttention, masked_softmax

__all__ = [
    "ConvBlock",
    "InstanceNormalization",
    "IntraModalAttention",
    "ModalAttention",
    "ResidualBlock",
    "instance_norm",
    "masked_softmax",
]
