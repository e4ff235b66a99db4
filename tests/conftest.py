"""Shared fixtures: tiny, structured batches made on the fly (no data sets needed)."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_tiny_batch(batch_size=4, image_size=32, num_modalities=4, seed=0):
    """A batch `(inputs, y)` of smooth blob images whose contrasts are related.

    Each contrast is a different non-linear function of the same two random
    smooth "tissue" maps, so the missing target is predictable from the others.
    The targets cycle through the contrasts.
    """
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, image_size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    maps = []
    for _ in range(batch_size):
        tissue = np.zeros((2, image_size, image_size))
        for channel in range(2):
            for _ in range(3):
                cy, cx = rng.uniform(-0.6, 0.6, 2)
                width = rng.uniform(0.15, 0.4)
                tissue[channel] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2))
        maps.append(np.clip(tissue, 0, 1))
    maps = np.stack(maps)  # [B, 2, H, W]
    a, b = maps[:, 0], maps[:, 1]
    contrasts = [a, b, np.sqrt(a * b + 1e-6), np.abs(a - b), a**2, 1 - b]
    images = np.stack(contrasts[:num_modalities], axis=-1) * 2 - 1  # [-1, 1]
    target_index = np.arange(batch_size) % num_modalities
    target = np.eye(num_modalities, dtype="float32")[target_index]
    available = 1.0 - target
    y = images[np.arange(batch_size), :, :, target_index][..., None]
    inputs = {
        "images": (images * available[:, None, None, :]).astype("float32"),
        "available": available.astype("float32"),
        "target": target,
    }
    return inputs, y.astype("float32")


@pytest.fixture
def tiny_batch():
    return make_tiny_batch()


@pytest.fixture
def tiny_model_kwargs():
    """The smallest MAGAN that still has every part: 32 px, width 4, one residual block."""
    return dict(image_size=32, base_filters=4, res_blocks=1)
