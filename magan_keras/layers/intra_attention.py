"""Intra-modal attention (RA) inside one encoder branch."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="magan_keras")
class IntraModalAttention(keras.layers.Layer):
    """Residual squeeze-and-excitation inside one contrast's branch (RA).

    The paper names an intra-modal attention ("RA") but does not define it; we
    read it, as the authors' code does, as `f + f * sigmoid(W2 relu(W1 avgpool(f)))`
    with `W1: C -> C / reduction`. It re-weights channels within a contrast; the
    residual form means an untrained RA never removes information.

    Args:
        reduction: int. Bottleneck ratio of the squeeze step (16 in SE-Net).
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> tuple(IntraModalAttention()(np.ones((1, 8, 8, 32), "float32")).shape)
    (1, 8, 8, 32)
    """

    def __init__(self, reduction=16, **kwargs):
        super().__init__(**kwargs)
        if int(reduction) < 1:
            raise ValueError(f"IntraModalAttention: reduction must be >= 1, got {reduction!r}")
        self.reduction = int(reduction)

    def build(self, input_shape):
        channels = input_shape[-1]
        hidden = max(1, channels // self.reduction)
        self.squeeze = keras.layers.Dense(hidden, activation="relu", name="squeeze")
        self.excite = keras.layers.Dense(channels, activation="sigmoid", name="excite")
        self.squeeze.build((input_shape[0], channels))
        self.excite.build((input_shape[0], hidden))

    def call(self, inputs):
        pooled = ops.mean(inputs, axis=(1, 2))
        scale = self.excite(self.squeeze(pooled))
        return inputs + inputs * scale[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(reduction=self.reduction)
        return config
