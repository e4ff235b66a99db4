"""A pix2pix-style single-input generator: the baseline MA-GAN's branches are measured against."""

import keras
from keras import ops

from magan_keras.modalities import validate_modalities
from magan_keras.models.generator import example_inputs, masked_inputs, validate_image_size
from magan_keras.models.parts import Decoder, Encoder
from magan_keras.models.precision import sublayers_follow
from magan_keras.models.presets import DEFAULT, with_saved_defaults
from tfds_brats.preprocessing import Preprocessing


@keras.saving.register_keras_serializable(package="magan_keras")
class SingleInputGenerator(keras.Model):
    """One encoder over all contrasts stacked as channels (early fusion, as pix2pix).

    The paper compares MA-GAN with pix2pix, which sees every input contrast as one
    multi-channel image. This generator is that baseline at MA-GAN's budget: the
    same encoder stages (`c7s1-F, d2F, [RA], d4F, [RA]`), fusion conv, residual
    blocks and decoder as `MultiBranchGenerator`, but one encoder fed
    `concat(images * available, broadcast(target))` (`2M` channels) instead of one
    encoder per contrast, and therefore no modal attention. It has about `1/M` of
    the multi-branch encoder weights. Missing contrasts are zeroed inside the
    model, as in the multi-branch generator.

    It returns the same features as `MultiBranchGenerator.call_with_features`, its
    single encoder as the one "branch" (`branch_available` all ones), so MAGAN's
    SR supervision works with it too.

    Args:
        modalities: sequence of str. Contrast names in channel order.
        image_size: int. Height and width of the input.
        base_filters: int. Width `F`.
        res_blocks: int. Residual blocks after fusion.
        intra_attention: bool. Use RA in the encoder.
        attention_reduction: int. RA's squeeze ratio.
        preprocessing: dict or None. As `MultiBranchGenerator`'s.
        **kwargs: base `keras.Model` arguments.

    Example:
    >>> import numpy as np
    >>> g = SingleInputGenerator(image_size=32, base_filters=8, res_blocks=1)
    >>> batch = {"images": np.zeros((1, 32, 32, 4), "float32"),
    ...          "available": np.array([[1, 1, 1, 0]], "float32"),
    ...          "target": np.array([[0, 0, 0, 1]], "float32")}
    >>> tuple(g(batch).shape)
    (1, 32, 32, 1)
    """

    def __init__(
        self,
        modalities=DEFAULT["modalities"],
        image_size=DEFAULT["image_size"],
        base_filters=DEFAULT["base_filters"],
        res_blocks=DEFAULT["res_blocks"],
        intra_attention=False,
        attention_reduction=16,
        preprocessing=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        with sublayers_follow(self):
            self.modalities = validate_modalities(modalities)
            self.image_size = validate_image_size(image_size)
            self.base_filters = int(base_filters)
            self.preprocessing = Preprocessing.from_config(preprocessing, self.modalities)
            self.res_blocks = int(res_blocks)
            self.intra_attention = bool(intra_attention)
            self.attention_reduction = int(attention_reduction)
            self.encoder = Encoder(base_filters, intra_attention, attention_reduction, name="encoder")
            self.fusion = keras.layers.Conv2D(
                4 * self.base_filters,
                1,
                activation="relu",
                name="fusion",
                kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            )
            self.decoder = Decoder(base_filters, res_blocks, name="decoder")

    @property
    def num_modalities(self):
        return len(self.modalities)

    def call_with_features(self, inputs, training=None):
        """Runs the generator; returns the same dict as `MultiBranchGenerator`.

        Returns:
            dict with `synthesis` `[B, H, W, 1]`, `branch_features` `[B, 1, h, w, 4F]`
            (the encoder's output), `branch_available` `[B, 1]` (ones) and
            `fused_features` `[B, h, w, 4F]`.
        """
        images, available, target_planes = masked_inputs(inputs)
        encoded = self.encoder(ops.concatenate([images, target_planes], axis=-1), training=training)
        fused = self.fusion(encoded)
        synthesis = self.decoder(fused, training=training)
        return {
            "synthesis": ops.cast(synthesis, "float32"),
            "branch_features": ops.cast(encoded, "float32")[:, None],
            "branch_available": ops.ones_like(available[:, :1]),
            "fused_features": ops.cast(fused, "float32"),
        }

    def call(self, inputs, training=None):
        return self.call_with_features(inputs, training=training)["synthesis"]

    def build_on_zeros(self, batch_size=1):
        """Builds every weight by calling the model on zeros of the configured size."""
        self(example_inputs(batch_size, self.image_size, self.num_modalities))

    @classmethod
    def from_config(cls, config):
        # A file written before an option existed was built with that option's old default.
        return cls(**with_saved_defaults(config, ("modalities", "image_size", "base_filters", "res_blocks")))

    def get_config(self):
        config = super().get_config()
        config.update(
            modalities=list(self.modalities),
            image_size=self.image_size,
            base_filters=self.base_filters,
            res_blocks=self.res_blocks,
            intra_attention=self.intra_attention,
            attention_reduction=self.attention_reduction,
            preprocessing=self.preprocessing.to_config(stored=True),
        )
        return config
