"""Convolution, residual and instance-norm blocks of the Johnson et al. ResNet generator."""

import keras

from magan_keras.layers import kernels
from magan_keras.layers.instance_norm import InstanceNormalization


def instance_norm(name=None):
    """Instance normalisation: `GroupNormalization` with one group per channel (fused on TensorFlow).

    Args:
        name: optional layer name.

    Example:
    >>> import numpy as np
    >>> tuple(instance_norm()(np.ones((1, 4, 4, 8), "float32")).shape)
    (1, 4, 4, 8)
    """
    return InstanceNormalization(epsilon=1e-5, name=name)


@keras.saving.register_keras_serializable(package="magan_keras")
class ConvBlock(keras.layers.Layer):
    """Convolution, optional instance norm, activation (`c7s1-k`, `dk`, `uk`, `Ck`).

    Args:
        filters: int. Output channels.
        kernel_size: int. Square kernel size.
        strides: int. 2 halves the size (`dk`); with `transpose=True` it doubles it (`uk`).
        transpose: bool. Use a transposed convolution (decoder up-sampling).
        normalize: bool. Apply instance normalisation after the convolution.
        activation: str or None. Keras activation name (`"relu"`, `"leaky_relu"`,
            `"tanh"`, ...); `"leaky_relu"` uses slope 0.2 as in pix2pix.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(ConvBlock(16, 3, strides=2)(np.ones((1, 8, 8, 3), "float32")).shape)
    (1, 4, 4, 16)
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        transpose=False,
        normalize=True,
        activation="relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.transpose = bool(transpose)
        self.normalize = bool(normalize)
        self.activation = activation
        conv_class = keras.layers.Conv2DTranspose if self.transpose else keras.layers.Conv2D
        self.conv = conv_class(
            self.filters,
            self.kernel_size,
            strides=self.strides,
            padding="same",
            use_bias=not self.normalize,
            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            name="conv",
        )
        self.norm = instance_norm("norm") if self.normalize else None
        if activation == "leaky_relu":
            self.act = keras.layers.LeakyReLU(negative_slope=0.2, name="act")
        elif activation is None:
            self.act = None
        else:
            self.act = keras.layers.Activation(activation, name="act")

    def build(self, input_shape):
        self.conv.build(input_shape)
        out_shape = self.conv.compute_output_shape(input_shape)
        if self.norm is not None:
            self.norm.build(out_shape)

    def call(self, inputs):
        x = self._convolve(inputs)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x

    def _convolve(self, inputs):
        # Same maths as `self.conv(inputs)`, faster kernels on TensorFlow (see
        # magan_keras.layers.kernels); the weights stay those of `self.conv`.
        conv, shape = self.conv, inputs.shape
        kernel_shape = conv.kernel.shape
        if self.transpose:
            if kernels.use_patch_filter_grad(kernel_shape, self.strides, conv.padding, shape[-1], shape):
                x = kernels.strided_conv2d_transpose(inputs, conv.kernel, self.strides)
            else:
                return conv(inputs)
        elif kernels.use_patch_filter_grad(kernel_shape, self.strides, conv.padding, self.filters, shape):
            x = kernels.strided_conv2d(inputs, conv.kernel, self.strides)
        elif kernels.use_narrow_conv2d(shape, kernel_shape, self.strides, conv.padding):
            x = kernels.narrow_conv2d(inputs, conv.kernel)  # the generator's last 7x7 -> 1 layer
        else:
            return conv(inputs)
        if conv.use_bias:
            x = x + conv.bias
        return x

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            transpose=self.transpose,
            normalize=self.normalize,
            activation=self.activation,
        )
        return config


@keras.saving.register_keras_serializable(package="magan_keras")
class ResidualBlock(keras.layers.Layer):
    """Johnson et al. residual block: `x + norm(conv(relu(norm(conv(x)))))`, 3x3 convs.

    Args:
        filters: int. Channels in and out.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(ResidualBlock(8)(np.ones((1, 4, 4, 8), "float32")).shape)
    (1, 4, 4, 8)
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.first = ConvBlock(self.filters, 3, name="first")
        self.second = ConvBlock(self.filters, 3, activation=None, name="second")

    def build(self, input_shape):
        self.first.build(input_shape)
        self.second.build(input_shape)

    def call(self, inputs):
        return inputs + self.second(self.first(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters)
        return config
