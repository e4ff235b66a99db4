"""MA-GAN's networks: generator, PatchGAN discriminator, self-representation net, and MAGAN."""

from magan_keras.models.discriminator import PatchDiscriminator
from magan_keras.models.generator import MultiBranchGenerator, example_inputs
from magan_keras.models.magan import MAGAN
from magan_keras.models.parts import Decoder, Encoder
from magan_keras.models.self_representation import SelfRepresentationNetwork
from magan_keras.models.single_input_generator import SingleInputGenerator

__all__ = [
    "MAGAN",
    "Decoder",
    "Encoder",
    "MultiBranchGenerator",
    "PatchDiscriminator",
    "SelfRepresentationNetwork",
    "SingleInputGenerator",
    "example_inputs",
]
