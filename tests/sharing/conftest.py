"""Shared fixtures of the sharing tests: one tiny trained-looking MAGAN and its preset."""

import numpy as np
import pytest

from magan_keras import MAGAN
from magan_keras.sharing import preset as presets

SIZE = 16


def tiny_model(seed=0, **kwargs):
    """A tiny MAGAN with a preprocessing record and non-trivial (seeded random) weights."""
    import keras

    keras.utils.set_random_seed(seed)
    model = MAGAN(image_size=SIZE, base_filters=4, res_blocks=1, preprocessing={"canvas_size": 24}, **kwargs)
    return model


def tiny_inputs(seed=1, batch=2):
    rng = np.random.default_rng(seed)
    return {
        "images": rng.uniform(-1, 1, (batch, SIZE, SIZE, 4)).astype("float32") * np.float32([1, 1, 1, 0]),
        "available": np.float32([[1, 1, 1, 0]] * batch),
        "target": np.float32([[0, 0, 0, 1]] * batch),
    }


@pytest.fixture(scope="session")
def saved_preset(tmp_path_factory):
    """`(model, folder)`: a tiny MAGAN and the preset it was saved to (do not modify; copy it)."""
    model = tiny_model()
    folder = presets.save_to_preset(model, tmp_path_factory.mktemp("presets") / "tiny")
    return model, folder


@pytest.fixture
def preset_copy(saved_preset, tmp_path):
    """A fresh copy of the session preset, free to damage."""
    import shutil

    return shutil.copytree(saved_preset[1], tmp_path / "copy")
