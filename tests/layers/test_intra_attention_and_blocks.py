import keras
import numpy as np
import pytest

from magan_keras.layers import ConvBlock, IntraModalAttention, ResidualBlock

pytestmark = pytest.mark.multibackend


def test_intra_attention_is_a_residual_channel_rescaling():
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 32)).astype("float32")
    layer = IntraModalAttention(reduction=16)
    out = keras.ops.convert_to_numpy(layer(x))
    ratio = out / x  # 1 + sigmoid(...) per (example, channel), constant over space
    assert np.all(ratio > 1.0 - 1e-5) and np.all(ratio < 2.0 + 1e-5)
    np.testing.assert_allclose(ratio, ratio[:, :1, :1, :] * np.ones_like(ratio), rtol=1e-4)
    assert layer.squeeze.units == 2


@pytest.mark.parametrize(
    "layer, in_shape, out_shape",
    [
        (ConvBlock(8, 7), (1, 16, 16, 3), (1, 16, 16, 8)),
        (ConvBlock(8, 3, strides=2), (1, 16, 16, 3), (1, 8, 8, 8)),
        (ConvBlock(8, 3, strides=2, transpose=True), (1, 8, 8, 3), (1, 16, 16, 8)),
        (ConvBlock(1, 7, normalize=False, activation="tanh"), (1, 16, 16, 3), (1, 16, 16, 1)),
        (ResidualBlock(8), (1, 8, 8, 8), (1, 8, 8, 8)),
        (IntraModalAttention(4), (1, 8, 8, 8), (1, 8, 8, 8)),
    ],
)
def test_shapes_and_config_round_trip(layer, in_shape, out_shape):
    x = np.random.default_rng(0).normal(size=in_shape).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == out_shape
    clone = layer.__class__.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone(x)), out, atol=1e-6)


def test_instance_norm_normalises_each_channel_of_each_image():
    x = np.random.default_rng(1).normal(3.0, 5.0, size=(2, 8, 8, 4)).astype("float32")
    block = ConvBlock(4, 3, activation=None)
    out = keras.ops.convert_to_numpy(block(x))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1.0, atol=1e-2)


def test_tanh_output_range():
    x = np.random.default_rng(2).normal(0, 100, size=(1, 8, 8, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(ConvBlock(1, 7, normalize=False, activation="tanh")(x))
    assert out.min() >= -1.0 and out.max() <= 1.0
