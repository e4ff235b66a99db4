"""The conditional 70x70 PatchGAN discriminator."""

import keras
from keras import ops

from magan_keras.layers import ConvBlock
from magan_keras.models.precision import sublayers_follow


@keras.saving.register_keras_serializable(package="magan_keras")
class PatchDiscriminator(keras.Model):
    """pix2pix's 70x70 PatchGAN, conditioned on the available contrasts and the target.

    `C64-C128-C256-C512` (4x4 convs, strides 2, 2, 2, 1; no norm on the first,
    instance norm after the others, LeakyReLU 0.2) then a 1-channel 4x4 conv:
    each output logit sees a 70x70 input patch. It sees
    `concat(images * available, candidate, broadcast(target))`.

    Args:
        num_modalities: int. `M`, the number of contrast channels.
        base_filters: int. Width of the first layer (64 in pix2pix).
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: dict with `images` `[B, H, W, M]`, `available` `[B, M]`,
            `target` `[B, M]` and `candidate` `[B, H, W, 1]` (real or synthesised).

    Returns:
        `[B, H/8, W/8, 1]` patch logits (real > 0).

    Example:
    >>> import numpy as np
    >>> d = PatchDiscriminator(num_modalities=4, base_filters=8)
    >>> tuple(d({"images": np.zeros((1, 32, 32, 4), "float32"),
    ...    "available": np.ones((1, 4), "float32"), "target": np.eye(4)[:1].astype("float32"),
    ...    "candidate": np.zeros((1, 32, 32, 1), "float32")}).shape)
    (1, 4, 4, 1)
    """

    def __init__(self, num_modalities=4, base_filters=64, **kwargs):
        super().__init__(**kwargs)
        with sublayers_follow(self):
            self.num_modalities = int(num_modalities)
            self.base_filters = int(base_filters)
            f = self.base_filters
            self.blocks = [
                ConvBlock(f, 4, strides=2, normalize=False, activation="leaky_relu", name="c1"),
                ConvBlock(2 * f, 4, strides=2, activation="leaky_relu", name="c2"),
                ConvBlock(4 * f, 4, strides=2, activation="leaky_relu", name="c3"),
                ConvBlock(8 * f, 4, strides=1, activation="leaky_relu", name="c4"),
            ]
            self.to_logits = keras.layers.Conv2D(
                1,
                4,
                padding="same",
                name="logits",
                kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            )

    def call(self, inputs, training=None):
        images = ops.convert_to_tensor(inputs["images"])
        available = ops.cast(ops.convert_to_tensor(inputs["available"]), images.dtype)
        target = ops.cast(ops.convert_to_tensor(inputs["target"]), images.dtype)
        candidate = ops.cast(ops.convert_to_tensor(inputs["candidate"]), images.dtype)
        target_planes = ops.broadcast_to(target[:, None, None, :], ops.shape(images))
        x = ops.concatenate([images * available[:, None, None, :], candidate, target_planes], axis=-1)
        for block in self.blocks:
            x = block(x, training=training)
        return ops.cast(self.to_logits(x), "float32")  # float32 logits under mixed precision too

    def build_on_zeros(self, image_size, batch_size=1):
        """Builds every weight by calling the model on zeros of the given size."""
        m = self.num_modalities
        self(
            {
                "images": ops.zeros((batch_size, image_size, image_size, m)),
                "available": ops.ones((batch_size, m)),
                "target": ops.zeros((batch_size, m)),
                "candidate": ops.zeros((batch_size, image_size, image_size, 1)),
            }
        )

    def get_config(self):
        config = super().get_config()
        config.update(num_modalities=self.num_modalities, base_filters=self.base_filters)
        return config
