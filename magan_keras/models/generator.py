"""The multi-branch MA-GAN generator."""

import keras
from keras import ops

from magan_keras.layers import ModalAttention
from magan_keras.modalities import validate_modalities
from magan_keras.models.parts import Decoder, Encoder
from magan_keras.models.precision import sublayers_follow
from magan_keras.models.presets import DEFAULT, validate_options, with_saved_defaults
from tfds_brats.preprocessing import Preprocessing


def validate_image_size(image_size):
    """Returns `image_size` as an int divisible by 4 (two stride-2 stages), or raises."""
    size = int(image_size)
    if size < 16 or size % 4:
        raise ValueError(f"image_size must be a multiple of 4 and at least 16, got {image_size!r}")
    return size


@keras.saving.register_keras_serializable(package="magan_keras")
class MultiBranchGenerator(keras.Model):
    """MA-GAN's generator: one encoder per contrast, modal attention, fusion, decoder.

    Branch `k` sees `concat(images[..., k], broadcast(target))` (the CollaGAN /
    StarGAN target mask) and runs `c7s1-F, d2F, RA, d4F, RA`. With `context_slices=K > 0`
    (2.5-D) branch `k` sees its contrast's `2K + 1` axial slices instead of one:
    `context[..., k, :K], images[..., k], context[..., k, K:]` (offsets -K..K), so only the
    branches' first convolution grows (by `2K * 7 * 7 * F` weights per branch); the output is
    still the centre slice's target. Modal attention (MA,
    Eq. 1-2) complements each branch with the others; the `M` maps (missing ones
    zero) are concatenated and fused by a 1x1 convolution to `4F` channels with
    ReLU, then `res_blocks` residual blocks and the decoder `u2F, uF, c7s1-1, tanh`.
    Inputs of missing contrasts are zeroed again inside the model, so a missing
    contrast's pixels can never reach the output.

    `decoder_skip=True` (off here, so the class builds the paper's generator; on in
    `TrainConfig`, the CLI's and tuner's default; not in the paper) adds a full-resolution
    path: each branch's Conv1 features (missing ones zero) are concatenated, fused by
    a 1x1 convolution to `F` channels with ReLU and concatenated to `uF`'s output
    before `c7s1-1`, as a U-Net skip does. It exists because, on the phantom, the
    4x-downsampled ResNet generator loses fine texture that SSIM rewards
    (docs/results.md); it adds `M*F*F + F` fusion weights and `7*7*F` in `c7s1-1`, and leaves MA, RA and the SR
    features unchanged.

    Args:
        modalities: sequence of str. Contrast names in channel order.
        image_size: int. Height and width of the input (the dense MA depends on it).
        base_filters: int. Width `F` (64 in the paper).
        res_blocks: int. Residual blocks after fusion (6 in the authors' code).
        modal_attention: bool. Use MA; off gives CollaGAN-style fusion.
        intra_attention: bool. Use RA in each branch.
        gamma: float in [0, 1]. MA's Eq. 2 trade-off.
        attention_reduction: int. Bottleneck ratio of MA's `W1` and RA's squeeze.
        pooled_attention: bool. Size-free pooled MA variant.
        decoder_skip: bool. Full-resolution skip from the branches' Conv1 to the decoder.
        context_slices: int K in [0, 8]. Axial neighbours on each side each branch also sees
            (0: the paper's single slice; `inputs` then needs no `context`).
        preprocessing: dict or None. How the training slices were made
            (`tfds_brats.preprocessing.Preprocessing`); saved with the model and used by
            `magan_keras.inference`. None assumes the `brats` builder's defaults.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: dict with `images` `[B, H, W, M]`, `available` `[B, M]`,
            `target` `[B, M]` (one-hot) and, when `context_slices` K > 0, `context`
            `[B, H, W, M, 2K]`: each contrast's neighbours at offsets -K..-1, 1..K
            (`tfds_brats.slicing.to_context_slices`; missing contrasts are zeroed here in every
            context slice too).

    Returns:
        `[B, H, W, 1]` synthesised target in [-1, 1].

    Example:
    >>> import numpy as np
    >>> g = MultiBranchGenerator(image_size=32, base_filters=8, res_blocks=1)
    >>> batch = {"images": np.zeros((1, 32, 32, 4), "float32"),
    ...          "available": np.array([[1, 1, 1, 0]], "float32"),
    ...          "target": np.array([[0, 0, 0, 1]], "float32")}
    >>> tuple(g(batch).shape)
    (1, 32, 32, 1)
    >>> g25 = MultiBranchGenerator(image_size=32, base_filters=8, res_blocks=1, context_slices=1)
    >>> tuple(g25(dict(batch, context=np.zeros((1, 32, 32, 4, 2), "float32"))).shape)
    (1, 32, 32, 1)
    """

    def __init__(
        self,
        modalities=DEFAULT["modalities"],
        image_size=DEFAULT["image_size"],
        base_filters=DEFAULT["base_filters"],
        res_blocks=DEFAULT["res_blocks"],
        modal_attention=True,
        intra_attention=True,
        gamma=0.5,
        attention_reduction=16,
        pooled_attention=False,
        decoder_skip=DEFAULT["decoder_skip"],
        context_slices=DEFAULT["context_slices"],
        preprocessing=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        with sublayers_follow(self):
            # === Config ===
            self.modalities = validate_modalities(modalities)
            self.image_size = validate_image_size(image_size)
            self.base_filters = int(base_filters)
            self.res_blocks = int(res_blocks)
            self.modal_attention = bool(modal_attention)
            self.intra_attention = bool(intra_attention)
            self.gamma = float(gamma)
            self.attention_reduction = int(attention_reduction)
            self.pooled_attention = bool(pooled_attention)
            self.decoder_skip = bool(decoder_skip)
            self.context_slices = validate_options({"context_slices": context_slices})["context_slices"]
            self.preprocessing = Preprocessing.from_config(preprocessing, self.modalities)
            # === Layers ===
            self.encoders = [
                Encoder(
                    base_filters,
                    intra_attention,
                    attention_reduction,
                    return_skip=self.decoder_skip,
                    name=f"encoder_{m}",
                )
                for m in self.modalities
            ]
            self.attention = (
                ModalAttention(gamma, attention_reduction, pooled=pooled_attention, name="modal_attention")
                if modal_attention
                else None
            )
            self.fusion = keras.layers.Conv2D(
                4 * self.base_filters,
                1,
                activation="relu",
                name="fusion",
                kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            )
            self.skip_fusion = (
                keras.layers.Conv2D(
                    self.base_filters,
                    1,
                    activation="relu",
                    name="skip_fusion",
                    kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
                )
                if self.decoder_skip
                else None
            )
            self.decoder = Decoder(base_filters, res_blocks, skip_connection=self.decoder_skip, name="decoder")

    @property
    def num_modalities(self):
        return len(self.modalities)

    def call_with_features(self, inputs, training=None):
        """Runs the generator and returns the features the SR losses compare.

        Args:
            inputs: dict with `images`, `available`, `target` (see the class docstring).
            training: bool or None. Training mode.

        Returns:
            dict with `synthesis` `[B, H, W, 1]`, `branch_features`
            `[B, M, h, w, 4F]` (Conv3 + RA of each branch, zero where missing) and
            `fused_features` `[B, h, w, 4F]` (after MA and the 1x1 fusion conv).
        """
        encoded = self.encode(inputs, training=training)
        available = ops.cast(ops.convert_to_tensor(inputs["available"]), encoded["branches"].dtype)
        return self.decode(encoded, available, training=training)

    def encode(self, inputs, training=None):
        """Runs every branch encoder once: the part of the generator that no input subset changes.

        Branch `k`'s features depend on contrast `k` and the target only; which contrasts are
        available changes only modal attention, fusion and the decoder (`decode`), where a
        missing branch's features are multiplied by 0. So features encoded with every input
        present serve any subset of them: `decode(encode(x), subset)` equals the plain call with
        `available = subset` (tested), at the cost of one encoder pass per slice.

        Args:
            inputs: dict with `images`, `available`, `target` (see the class docstring).
            training: bool or None. Training mode.

        Returns:
            dict with `branches`, `[B, M, h, w, 4F]` (Conv3 + RA of each branch, unmasked), and
            `skips`, a list of `M` tensors `[B, H, W, F]` (each branch's Conv1) or None without
            `decoder_skip`.

        Example:
        >>> import numpy as np
        >>> g = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1, decoder_skip=True)
        >>> x = example_inputs(2, 16, 4)
        >>> x["images"] = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 4)).astype("float32")
        >>> subset = np.array([[1, 0, 1, 0]] * 2, "float32")
        >>> shared = g.decode(g.encode(x), subset)["synthesis"]
        >>> plain = g(dict(x, available=subset))
        >>> bool(np.allclose(shared, plain, atol=1e-6))
        True
        """
        images, available, target_planes = masked_inputs(inputs)
        slices = branch_slices(inputs, images, available, self.context_slices)
        branches = [
            encoder(ops.concatenate([slices[k], target_planes], axis=-1), training=training)
            for k, encoder in enumerate(self.encoders)
        ]
        skips = None
        if self.decoder_skip:
            skips = [skip for _, skip in branches]
            branches = [features for features, _ in branches]
        return {"branches": ops.stack(branches, axis=1), "skips": skips}  # [B, M, h, w, C]

    def decode(self, encoded, available, training=None):
        """Modal attention, fusion and the decoder for one subset of the encoded inputs.

        Args:
            encoded: dict from `encode`.
            available: `[B, M]` 0/1: the contrasts this synthesis may use (a subset of those
                given to `encode`).
            training: bool or None. Training mode.

        Returns:
            dict as `call_with_features` returns.
        """
        stacked, skips = encoded["branches"], encoded["skips"]
        available = ops.cast(available, stacked.dtype)
        branch_mask = available[:, :, None, None, None]
        branch_features = stacked * branch_mask
        if self.attention is not None:
            complemented = self.attention(stacked, available, training=training)
        else:
            complemented = branch_features
        shape = ops.shape(complemented)
        merged = ops.reshape(
            ops.transpose(complemented, (0, 2, 3, 1, 4)),
            (shape[0], shape[2], shape[3], shape[1] * shape[4]),
        )
        fused = self.fusion(merged)
        if skips is None:
            synthesis = self.decoder(fused, training=training)
        else:
            skip_mask = ops.cast(available, skips[0].dtype)
            masked = [skip * skip_mask[:, k, None, None, None] for k, skip in enumerate(skips)]
            skip = self.skip_fusion(ops.concatenate(masked, axis=-1))
            synthesis = self.decoder([fused, skip], training=training)
        # float32 outputs whatever the compute dtype (mixed precision): the losses run in float32.
        return {
            "synthesis": ops.cast(synthesis, "float32"),
            "branch_features": ops.cast(branch_features, "float32"),
            "fused_features": ops.cast(fused, "float32"),
        }

    def call(self, inputs, training=None):
        return self.call_with_features(inputs, training=training)["synthesis"]

    def build_on_zeros(self, batch_size=1):
        """Builds every weight by calling the model on zeros of the configured size."""
        m, s = self.num_modalities, self.image_size
        self(example_inputs(batch_size, s, m, self.context_slices))

    @classmethod
    def from_config(cls, config):
        # A file written before an option existed was built with that option's old default.
        keys = (
            "modalities",
            "image_size",
            "base_filters",
            "res_blocks",
            "modal_attention",
            "intra_attention",
            "gamma",
            "attention_reduction",
            "pooled_attention",
            "decoder_skip",
            "context_slices",
        )
        return cls(**with_saved_defaults(config, keys))

    def get_config(self):
        config = super().get_config()
        config.update(
            modalities=list(self.modalities),
            image_size=self.image_size,
            base_filters=self.base_filters,
            res_blocks=self.res_blocks,
            modal_attention=self.modal_attention,
            intra_attention=self.intra_attention,
            gamma=self.gamma,
            attention_reduction=self.attention_reduction,
            pooled_attention=self.pooled_attention,
            decoder_skip=self.decoder_skip,
            context_slices=self.context_slices,
            preprocessing=self.preprocessing.to_config(stored=True),
        )
        return config


def masked_inputs(inputs):
    """The generator's view of a batch: missing contrasts zeroed, the target as planes.

    Args:
        inputs: dict with `images` `[B, H, W, M]`, `available` `[B, M]`, `target` `[B, M]`.

    Returns:
        `(images, available, target_planes)`: `images` with missing contrasts set to 0,
        `available` in the images' dtype, and the one-hot target broadcast to `[B, H, W, M]`.

    Example:
    >>> images, available, planes = masked_inputs(example_inputs(1, 16, 4))
    >>> tuple(planes.shape)
    (1, 16, 16, 4)
    """
    images = ops.convert_to_tensor(inputs["images"])
    available = ops.cast(ops.convert_to_tensor(inputs["available"]), images.dtype)
    target = ops.cast(ops.convert_to_tensor(inputs["target"]), images.dtype)
    images = images * available[:, None, None, :]
    target_planes = ops.broadcast_to(target[:, None, None, :], ops.shape(images))
    return images, available, target_planes


def branch_slices(inputs, images, available, context_slices):
    """The slices each branch sees: its contrast's centre slice and, in 2.5-D, its neighbours.

    Args:
        inputs: the batch dict (`context` `[B, H, W, M, 2K]` is read when `context_slices` > 0).
        images: `[B, H, W, M]` centre slices, missing contrasts zeroed (`masked_inputs`).
        available: `[B, M]` in the images' dtype.
        context_slices: int K >= 0.

    Returns:
        list of `M` tensors `[B, H, W, 2K + 1]`, channels at offsets -K..K (the centre at K);
        a missing contrast's neighbours are zero like its centre slice.

    Raises:
        ValueError: K > 0 and `inputs` has no `context`, or one of another depth.

    Example:
    >>> x = example_inputs(2, 16, 4, context_slices=1)
    >>> images, available, _ = masked_inputs(x)
    >>> [tuple(s.shape) for s in branch_slices(x, images, available, 1)][:1]
    [(2, 16, 16, 3)]
    """
    num_modalities = images.shape[-1]
    if not context_slices:
        return [images[..., k : k + 1] for k in range(num_modalities)]
    if "context" not in inputs:
        raise ValueError(
            f"a 2.5-D generator (context_slices={context_slices}) needs inputs['context'] "
            f"[B, H, W, M, {2 * context_slices}]: the neighbours of each slice (tfds_brats.slicing.to_context_slices)"
        )
    context = ops.cast(ops.convert_to_tensor(inputs["context"]), images.dtype)
    if context.shape[-1] is not None and context.shape[-1] != 2 * context_slices:
        raise ValueError(
            f"inputs['context'] holds {context.shape[-1]} neighbours per contrast; a model with "
            f"context_slices={context_slices} takes {2 * context_slices}"
        )
    context = context * available[:, None, None, :, None]
    k = context_slices
    return [
        ops.concatenate([context[..., m, :k], images[..., m : m + 1], context[..., m, k:]], axis=-1)
        for m in range(num_modalities)
    ]


def example_inputs(batch_size, image_size, num_modalities, context_slices=0):
    """Zero images with the last contrast missing and targeted: for building and tracing.

    Args:
        batch_size: int.
        image_size: int.
        num_modalities: int.
        context_slices: int K. With K > 0 a zero `context` `[B, S, S, M, 2K]` is added.

    Example:
    >>> tuple(example_inputs(1, 32, 4)["images"].shape)
    (1, 32, 32, 4)
    >>> tuple(example_inputs(1, 32, 4, context_slices=2)["context"].shape)
    (1, 32, 32, 4, 4)
    """
    available = ops.concatenate([ops.ones((batch_size, num_modalities - 1)), ops.zeros((batch_size, 1))], axis=1)
    inputs = {
        "images": ops.zeros((batch_size, image_size, image_size, num_modalities)),
        "available": available,
        "target": 1.0 - available,
    }
    if context_slices:
        inputs["context"] = ops.zeros((batch_size, image_size, image_size, num_modalities, 2 * context_slices))
    return inputs
