"""The self-representation network (SR) that teaches the generator's encoders."""

import keras

from magan_keras.models.generator import validate_image_size
from magan_keras.models.parts import Decoder, Encoder
from magan_keras.models.precision import sublayers_follow


@keras.saving.register_keras_serializable(package="magan_keras")
class SelfRepresentationNetwork(keras.Model):
    """Auto-encoder of the target contrast: the generator with one branch, no mask, no attention.

    Its encoder output (Conv3 features, `[B, H/4, W/4, 4F]`) is the teacher of the
    generator's branch features (`L_intra`) and fused features (`L_inter`); it is
    trained on its own L1 reconstruction loss only, never by the generator's losses.

    Args:
        image_size: int. Height and width of the images.
        base_filters: int. Width `F`, the same as the generator's so features match.
        res_blocks: int. Residual blocks of the decoder.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: `[B, H, W, 1]` ground-truth target images in [-1, 1].

    Returns:
        `[B, H, W, 1]` reconstruction in [-1, 1].

    Example:
    >>> import numpy as np
    >>> sr = SelfRepresentationNetwork(image_size=32, base_filters=8, res_blocks=1)
    >>> tuple(sr(np.zeros((2, 32, 32, 1), "float32")).shape)
    (2, 32, 32, 1)
    """

    def __init__(self, image_size=256, base_filters=64, res_blocks=6, **kwargs):
        super().__init__(**kwargs)
        with sublayers_follow(self):
            self.image_size = validate_image_size(image_size)
            self.base_filters = int(base_filters)
            self.res_blocks = int(res_blocks)
            self.encoder = Encoder(base_filters, intra_attention=False, name="encoder")
            self.decoder = Decoder(base_filters, res_blocks, name="decoder")

    def call_with_features(self, inputs, training=None):
        """Returns `(reconstruction, encoder_features)` for `inputs` `[B, H, W, 1]`."""
        features = self.encoder(inputs, training=training)
        reconstruction = self.decoder(features, training=training)
        # float32 outputs whatever the compute dtype (mixed precision): the losses run in float32.
        return keras.ops.cast(reconstruction, "float32"), keras.ops.cast(features, "float32")

    def call(self, inputs, training=None):
        return self.call_with_features(inputs, training=training)[0]

    def build_on_zeros(self, batch_size=1):
        """Builds every weight by calling the model on zeros of the configured size."""
        self(keras.ops.zeros((batch_size, self.image_size, self.image_size, 1)))

    def get_config(self):
        config = super().get_config()
        config.update(image_size=self.image_size, base_filters=self.base_filters, res_blocks=self.res_blocks)
        return config
