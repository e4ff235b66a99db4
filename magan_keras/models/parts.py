"""Encoder and decoder stages shared by the generator and the self-representation network."""

import keras
from keras import ops

from magan_keras.layers import ConvBlock, IntraModalAttention, ResidualBlock


@keras.saving.register_keras_serializable(package="magan_keras")
class Encoder(keras.layers.Layer):
    """One encoder branch: `c7s1-F, d2F, [RA], d4F, [RA]` (Conv1-Conv3 of the paper).

    DESIGN.md reads the paper's "RA to Conv2 and Conv2" as RA after Conv2 and after
    Conv3, which is where the authors' code puts it.

    Args:
        base_filters: int. Width `F` of Conv1 (64 in the paper).
        intra_attention: bool. Insert RA after Conv2 and Conv3.
        attention_reduction: int. RA's squeeze ratio.
        return_skip: bool. Also return Conv1's full-resolution features `[B, H, W, F]`
            (for `Decoder(skip_connection=True)`): the call then returns `(features, skip)`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(Encoder(8)(np.ones((1, 32, 32, 5), "float32")).shape)
    (1, 8, 8, 32)
    """

    def __init__(self, base_filters=64, intra_attention=True, attention_reduction=16, return_skip=False, **kwargs):
        super().__init__(**kwargs)
        self.base_filters = int(base_filters)
        self.intra_attention = bool(intra_attention)
        self.attention_reduction = int(attention_reduction)
        self.return_skip = bool(return_skip)
        f = self.base_filters
        self.conv1 = ConvBlock(f, 7, name="conv1")
        self.conv2 = ConvBlock(2 * f, 3, strides=2, name="conv2")
        self.conv3 = ConvBlock(4 * f, 3, strides=2, name="conv3")
        self.ra2 = IntraModalAttention(self.attention_reduction, name="ra2") if intra_attention else None
        self.ra3 = IntraModalAttention(self.attention_reduction, name="ra3") if intra_attention else None

    def call(self, inputs):
        skip = self.conv1(inputs)
        x = self.conv2(skip)
        if self.ra2 is not None:
            x = self.ra2(x)
        x = self.conv3(x)
        if self.ra3 is not None:
            x = self.ra3(x)
        return (x, skip) if self.return_skip else x

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        quarter = lambda s: None if s is None else (s + 3) // 4  # noqa: E731
        features = (batch, quarter(h), quarter(w), 4 * self.base_filters)
        return (features, (batch, h, w, self.base_filters)) if self.return_skip else features

    def get_config(self):
        config = super().get_config()
        config.update(
            base_filters=self.base_filters,
            intra_attention=self.intra_attention,
            attention_reduction=self.attention_reduction,
            return_skip=self.return_skip,
        )
        return config


@keras.saving.register_keras_serializable(package="magan_keras")
class Decoder(keras.layers.Layer):
    """Residual blocks then `u2F, uF, c7s1-1, tanh` (Johnson et al.).

    Args:
        base_filters: int. Width `F`; the residual blocks run at `4F`.
        res_blocks: int. Number of residual blocks (6 in the authors' code).
        skip_connection: bool. Take `[features, skip]` and concatenate `skip`
            (`[B, 4h, 4w, C]`, full resolution) to `uF`'s output before `c7s1-1`: a U-Net-style
            path for fine texture, not in Johnson et al. or the paper.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(Decoder(8, res_blocks=2)(np.ones((1, 8, 8, 32), "float32")).shape)
    (1, 32, 32, 1)
    """

    def __init__(self, base_filters=64, res_blocks=6, skip_connection=False, **kwargs):
        super().__init__(**kwargs)
        self.base_filters = int(base_filters)
        self.res_blocks = int(res_blocks)
        self.skip_connection = bool(skip_connection)
        f = self.base_filters
        self.blocks = [ResidualBlock(4 * f, name=f"res{i}") for i in range(self.res_blocks)]
        self.up1 = ConvBlock(2 * f, 3, strides=2, transpose=True, name="up1")
        self.up2 = ConvBlock(f, 3, strides=2, transpose=True, name="up2")
        self.to_image = ConvBlock(1, 7, normalize=False, activation="tanh", name="to_image")

    def call(self, inputs):
        x, skip = inputs if self.skip_connection else (inputs, None)
        for block in self.blocks:
            x = block(x)
        x = self.up2(self.up1(x))
        if skip is not None:
            x = ops.concatenate([x, ops.cast(skip, x.dtype)], axis=-1)
        return self.to_image(x)

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape[0] if self.skip_connection else input_shape
        quad = lambda s: None if s is None else 4 * s  # noqa: E731
        return (batch, quad(h), quad(w), 1)

    def get_config(self):
        config = super().get_config()
        config.update(base_filters=self.base_filters, res_blocks=self.res_blocks, skip_connection=self.skip_connection)
        return config
