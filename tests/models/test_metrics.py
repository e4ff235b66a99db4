import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras.models import metrics

# TensorFlow is only the reference implementation of SSIM and PSNR here (it is
# installed on every backend); the code under test runs on KERAS_BACKEND.
pytestmark = pytest.mark.multibackend


def pair(seed=0, shape=(3, 24, 24, 1)):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 1, shape).astype("float32")
    b = np.clip(a + rng.normal(0, 0.1, shape), 0, 1).astype("float32")
    return a, b


def test_ssim_matches_tensorflow():
    a, b = pair()
    ours = keras.ops.convert_to_numpy(metrics.ssim(a, b))
    np.testing.assert_allclose(ours, tf.image.ssim(a, b, max_val=1.0).numpy(), atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(metrics.ssim(a, a)), 1.0, atol=1e-6)


def test_psnr_matches_tensorflow():
    a, b = pair(1)
    ours = keras.ops.convert_to_numpy(metrics.psnr(a, b))
    np.testing.assert_allclose(ours, tf.image.psnr(a, b, max_val=1.0).numpy(), rtol=1e-5)


def test_mae_and_unit_range():
    a, b = pair(2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(metrics.mae(a, b)), np.abs(a - b).mean(axis=(1, 2, 3)), rtol=1e-6
    )
    unit = keras.ops.convert_to_numpy(metrics.to_unit_range(np.array([-1.0, 0.0, 1.0, 3.0])))
    np.testing.assert_allclose(unit, [0.0, 0.5, 1.0, 1.0])
