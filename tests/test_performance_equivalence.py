"""The faster kernels (magan_keras.layers.kernels) compute the same maths as the plain Keras ops.

Each restructured operation is run twice on the same weights and inputs: traced with the
fast kernels and inside `kernels.reference_kernels()` (the plain Keras layers), comparing
outputs and the gradients with respect to inputs and weights. Only the TensorFlow backend
has fast kernels; elsewhere both runs are the plain ops and the tests pass trivially.
"""

import keras
import numpy as np
import pytest

from magan_keras import MAGAN
from magan_keras.layers import ConvBlock, InstanceNormalization, ModalAttention, kernels
from magan_keras.models import MultiBranchGenerator

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="fast kernels exist on TensorFlow only")
# float32 sums in another order: relative differences of a few 1e-7 per op, measured
# up to 2e-6 on these sizes.
RTOL = 1e-4


def outputs_and_gradients(layer, inputs):
    """`(output, d loss / d inputs, d loss / d weights)` for a fixed random projection loss."""
    inputs = [tf.convert_to_tensor(x) for x in inputs]

    @tf.function
    def run(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs[0])
            out = layer(*inputs)
            projection = tf.random.stateless_normal(tf.shape(out), seed=[1, 2], dtype=out.dtype)
            loss = tf.reduce_sum(out * projection)
        grads = tape.gradient(loss, [inputs[0]] + layer.trainable_variables)
        return [out] + grads

    fast = [g.numpy() for g in run(inputs)]
    with kernels.reference_kernels():
        run_reference = tf.function(run.python_function)
        reference = [g.numpy() for g in run_reference(inputs)]
    return fast, reference


def assert_close(fast, reference):
    for got, want in zip(fast, reference):
        scale = max(float(np.abs(want).max()), 1e-6)
        np.testing.assert_allclose(got / scale, want / scale, atol=RTOL)


def random(shape, seed=0, mean=0.0, std=1.0):
    return np.random.default_rng(seed).normal(mean, std, size=shape).astype("float32")


def batch_64px():
    """Two 64 px examples of four noise contrasts, one missing and targeted each."""
    available = np.array([[1, 1, 1, 0], [0, 1, 1, 1]], "float32")
    images = np.tanh(random((2, 64, 64, 4), 5)) * available[:, None, None, :]
    y = np.tanh(random((2, 64, 64, 1), 6))
    return {"images": images, "available": available, "target": 1.0 - available}, y


@pytest.mark.parametrize("shape", [(1, 64, 64, 16), (3, 32, 32, 64)])  # >= 64K values per image
def test_instance_norm_matches_group_normalization(shape):
    layer = InstanceNormalization()
    layer.build(shape)
    layer.gamma.assign(random(shape[-1:], 1) + 1.0)
    layer.beta.assign(random(shape[-1:], 2))
    fast, reference = outputs_and_gradients(layer, [random(shape, mean=3.0, std=5.0)])
    assert_close(fast, reference)
    plain = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    plain.build(shape)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(fast[0], keras.ops.convert_to_numpy(plain(random(shape, mean=3.0, std=5.0))), atol=1e-4)


def test_instance_norm_with_unknown_batch_size():
    layer = InstanceNormalization()
    layer.build((None, 64, 64, 16))
    run = tf.function(layer.call, input_signature=[tf.TensorSpec((None, 64, 64, 16), tf.float32)])
    x = random((3, 64, 64, 16), mean=2.0)
    with kernels.reference_kernels():
        reference = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(run(x).numpy(), reference, atol=1e-5)


def test_instance_norm_keeps_group_normalization_weights_and_config():
    layer = InstanceNormalization(name="norm")
    layer.build((None, 4, 4, 6))
    assert [w.name for w in layer.weights] == ["gamma", "beta"]
    clone = InstanceNormalization.from_config(layer.get_config())
    assert clone.groups == -1 and clone.epsilon == layer.epsilon
    with pytest.raises(ValueError, match="groups"):
        InstanceNormalization(groups=2)


# No ReLU here: a ReLU input within rounding of 0 can fall on either side of the
# kink, and the gradient behind it then differs by that element's whole gradient
# (seen in whole generators: one element of 131072 moved the gradients by 1e-2).
@pytest.mark.parametrize(
    "block, in_shape",
    [
        (ConvBlock(128, 3, strides=2, activation=None), (2, 16, 16, 16)),  # encoder down-sampling
        (ConvBlock(128, 3, strides=2, normalize=False, activation=None), (2, 16, 16, 16)),
        (ConvBlock(16, 3, strides=2, transpose=True, activation=None), (2, 8, 8, 128)),  # decoder up-sampling
        (ConvBlock(16, 3, strides=2, transpose=True, normalize=False, activation=None), (2, 8, 8, 128)),
        (ConvBlock(1, 7, normalize=False, activation="tanh"), (2, 16, 16, 8)),  # to_image
        (ConvBlock(1, 5, normalize=False, activation=None), (1, 12, 12, 4)),
    ],
)
def test_conv_blocks_match_the_keras_layers(block, in_shape):
    fast, reference = outputs_and_gradients(block, [random(in_shape, 3)])
    assert_close(fast, reference)


def test_fast_kernels_are_used_where_they_apply():
    down = ConvBlock(128, 3, strides=2)
    down.build((2, 16, 16, 16))
    assert kernels.use_patch_filter_grad(down.conv.kernel.shape, 2, "same", 128, (2, 16, 16, 16))
    assert kernels.use_narrow_conv2d((2, 16, 16, 8), (7, 7, 8, 1), 1, "same")
    assert kernels.use_narrow_conv2d((2, 16, 16, 4), (5, 5, 4, 1), 1, "same")
    # Several outputs: oneDNN's own kernel is the faster one there (benchmarks.narrow_conv).
    assert not kernels.use_narrow_conv2d((2, 16, 16, 8), (7, 7, 8, 4), 1, "same")
    assert kernels.use_fused_instance_norm((2, 64, 64, 16))
    assert not kernels.use_fused_instance_norm((2, 8, 8, 16))  # small: the plain ops
    with kernels.reference_kernels():
        assert not kernels.fast_kernels_enabled()
    assert kernels.fast_kernels_enabled()


def test_modal_attention_matches_the_einsum_form():
    layer = ModalAttention(gamma=0.3)
    features = random((2, 4, 4, 4, 8), 4)
    available = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], "float32")
    out = keras.ops.convert_to_numpy(layer(features, available))
    weights = keras.ops.convert_to_numpy(layer.attention_weights(features, available))
    masked = features * available[:, :, None, None, None]
    complement = np.einsum("bcm,bmhwc->bhwc", weights, masked)
    expected = (0.3 * masked + 0.7 * complement[:, None]) * available[:, :, None, None, None]
    np.testing.assert_allclose(out, expected, atol=1e-6)


# 64 px, width 32: every fast kernel runs (fused norm on the 64x64x32 maps, the patch
# gradients at 128 channels, the 7x7 -> 1 output layer).
def test_generator_matches_with_reference_kernels():
    # Forward values only: gradients through a whole network differ wherever a ReLU
    # input sits within rounding of 0 (see above); each kernel's gradient is tested alone.
    inputs, _ = batch_64px()
    keras.utils.set_random_seed(1)
    generator = MultiBranchGenerator(image_size=64, base_filters=32, res_blocks=1)
    generator.build_on_zeros()
    run = tf.function(generator.call_with_features)
    fast = run(inputs)
    with kernels.reference_kernels():
        reference = tf.function(generator.call_with_features)(inputs)
    for name, value in reference.items():
        assert_close([fast[name].numpy()], [value.numpy()])


def test_training_step_losses_match_with_reference_kernels():
    inputs, y = batch_64px()
    keras.utils.set_random_seed(3)
    model = MAGAN(image_size=64, base_filters=32, res_blocks=1)
    model.compile()
    losses = tf.function(lambda: model.compute_step_losses(inputs, y, training=True))
    fast = losses()
    with kernels.reference_kernels():
        reference = tf.function(losses.python_function)()
    for name, value in reference.items():
        np.testing.assert_allclose(fast[name].numpy(), value.numpy(), rtol=RTOL, err_msg=name)
