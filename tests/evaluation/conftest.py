"""Shared fakes of the evaluation tests: a stand-in generator, a prepared split, a tiny saved MAGAN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras import MAGAN
from magan_keras.modalities import BRATS_MODALITIES

SIZE = 16


class ChannelCopy(keras.Model):
    """A stand-in generator whose synthesis is one input channel."""

    def __init__(self, channel, image_size=SIZE, modalities=BRATS_MODALITIES, **kwargs):
        super().__init__(**kwargs)
        self.channel, self.image_size, self.modalities = channel, image_size, tuple(modalities)

    def call(self, inputs):
        return inputs["images"][..., self.channel : self.channel + 1]


def make_fake_split(num_subjects=3, slices=6, seed=0, size=SIZE):
    """Slice features of a prepared split, shuffled across subjects as TFDS writes them."""
    rng = np.random.default_rng(seed)
    grid = np.indices((size, size)).astype(np.float32)
    records = []
    for s in range(num_subjects):
        for k in range(slices):
            radius = 5 + (k % 3)
            mask = ((grid - size / 2) ** 2).sum(0) <= radius**2
            base = rng.uniform(-0.5, 0.5, (size, size)).astype(np.float32)
            images = np.stack([base, 0.5 * base, -base, np.abs(base)], axis=-1)
            seg = np.where(mask & (grid[0] > size / 2 + 2), 2, 0).astype(np.uint8)
            records.append(
                {
                    "images": np.where(mask[..., None], images, -1.0).astype(np.float32),
                    "brain_mask": mask,
                    "seg": seg,
                    "has_seg": True,
                    "subject_id": f"subject{s}",
                    "slice_index": np.int32(10 + k),
                }
            )
    order = rng.permutation(len(records))
    stacked = {key: np.stack([records[i][key] for i in order]) for key in records[0]}
    return tf.data.Dataset.from_tensor_slices(stacked)


@pytest.fixture
def channel_copy():
    """`ChannelCopy` (the class): `channel_copy(0)` copies t1."""
    return ChannelCopy


@pytest.fixture
def fake_split():
    """`make_fake_split` (the function)."""
    return make_fake_split


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """A tiny untrained MAGAN saved as a `.keras` file (16 px, the `brats` defaults assumed)."""
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    MAGAN(image_size=SIZE, base_filters=4, res_blocks=1).save(path)
    return path
