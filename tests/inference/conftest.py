"""Shared fakes of the inference tests: a stand-in generator, tiny saved models, a fake subject."""

import keras
import pytest

from magan_keras import MAGAN, MultiBranchGenerator
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats.brats.make_dummy_data import write_fake_subject

SIZE = 32  # model size; the fake subjects are 24 x 24 x 12


class ChannelCopy(keras.Model):
    """A stand-in generator whose synthesis is one input channel: makes alignment checkable.

    `preprocessing` is kept as given (None: no record, as a model saved before records existed).
    """

    def __init__(self, channel, image_size=SIZE, modalities=BRATS_MODALITIES, preprocessing=None, **kwargs):
        super().__init__(**kwargs)
        self.channel, self.image_size, self.modalities = channel, image_size, tuple(modalities)
        self.preprocessing = preprocessing

    def call(self, inputs):
        return inputs["images"][..., self.channel : self.channel + 1]


@pytest.fixture
def channel_copy():
    """`ChannelCopy` (the class)."""
    return ChannelCopy


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """A tiny untrained MAGAN saved without a preprocessing record (an old model)."""
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    MAGAN(image_size=SIZE, base_filters=4, res_blocks=1).save(path)
    return path


@pytest.fixture(scope="session")
def other_contrasts_model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("other") / "t1_t2_pd.keras"
    generator = MultiBranchGenerator(("t1", "t2", "pd"), image_size=SIZE, base_filters=4, res_blocks=1)
    generator.build_on_zeros()
    generator.save(path)
    return path


@pytest.fixture
def subject(tmp_path):
    """A fake BraTS 2018-style subject stored LPS (not canonical), with seg."""
    return write_fake_subject(tmp_path / "in" / "s1", "s1", axcodes=("L", "P", "S"), seed=3)
