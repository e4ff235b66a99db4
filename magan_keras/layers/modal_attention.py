"""Inter-modal attention (MA), Eq. 1-2 of MA-GAN."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="magan_keras")
class ModalAttention(keras.layers.Layer):
    """Modal attention: each contrast's features are complemented by the others'.

    Implements Eq. 1-2 of "Joint Attention GAN for Multimodal Image Translation"
    (MA-GAN). For `n` contrasts with encoder features `f_k` of shape `[h, w, C]`:

    - Eq. 1: `A = softmax_rows(sigmoid(W2 relu(W1 [f_1 .. f_n])))`, where each
      channel's row of the flattened, concatenated features (`n * h * w` values)
      goes through two dense layers `W1: n*h*w -> n*h*w / reduction` and
      `W2: -> n`. `A` has shape `[C, n]`: row `c` weights the contrasts for
      channel `c`.
    - Eq. 2: `f_i_comp = gamma * f_i + (1 - gamma) * sum_k A[:, k] * f_k`.

    Where we go beyond the paper (which assumes all `n` inputs present):
    missing contrasts are zeroed before Eq. 1, the softmax runs over the
    available contrasts only (a missing contrast gets weight 0, so its features
    cannot change any output), and the outputs of missing branches are zero.
    `pooled=True` averages each map over `h, w` before Eq. 1 (`W1: n -> d`), so the
    layer no longer depends on the spatial size; the paper's dense form is the
    default.

    Args:
        gamma: float in [0, 1]. Weight of a branch's own features in Eq. 2;
            `gamma = 1` returns the (masked) input. A fixed hyperparameter, not
            trained.
        reduction: int. Bottleneck ratio of `W1` in the dense form.
        pooled: bool. Use the size-free pooled variant.
        pooled_units: int. Width of `W1` in the pooled variant.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        features: `[B, M, h, w, C]` stacked branch features.
        available: `[B, M]`, 1.0 for present contrasts, 0.0 for missing ones.

    Returns:
        `[B, M, h, w, C]` complementary features (zero for missing branches).

    Example:
    >>> import numpy as np
    >>> layer = ModalAttention(gamma=0.5)
    >>> features = np.random.rand(2, 4, 8, 8, 16).astype("float32")
    >>> available = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], "float32")
    >>> tuple(layer(features, available).shape)
    (2, 4, 8, 8, 16)
    """

    def __init__(self, gamma=0.5, reduction=16, pooled=False, pooled_units=16, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(gamma) <= 1.0:
            raise ValueError(f"ModalAttention: gamma must lie in [0, 1], got {gamma!r}")
        if int(reduction) < 1:
            raise ValueError(f"ModalAttention: reduction must be >= 1, got {reduction!r}")
        self.gamma = float(gamma)
        self.reduction = int(reduction)
        self.pooled = bool(pooled)
        self.pooled_units = int(pooled_units)

    def build(self, features_shape, available_shape=None):
        _, n, h, w, _ = features_shape
        if None in (n, h, w) and not self.pooled:
            raise ValueError(
                "ModalAttention: the dense form needs a known number of contrasts and "
                f"spatial size, got features of shape {features_shape}; use pooled=True "
                "for size-free use"
            )
        inputs = n if self.pooled else n * h * w
        hidden = self.pooled_units if self.pooled else max(1, inputs // self.reduction)
        self.w1 = self.add_weight((inputs, hidden), initializer="glorot_uniform", name="w1")
        self.b1 = self.add_weight((hidden,), initializer="zeros", name="b1")
        self.w2 = self.add_weight((hidden, n), initializer="glorot_uniform", name="w2")
        self.b2 = self.add_weight((n,), initializer="zeros", name="b2")

    def attention_weights(self, features, available):
        """Returns `A` of Eq. 1, shape `[B, C, M]`, rows summing to 1 over present contrasts."""
        features = ops.convert_to_tensor(features)
        mask = ops.cast(available, features.dtype)
        masked = features * mask[:, :, None, None, None]
        if self.pooled:
            rows = ops.transpose(ops.mean(masked, axis=(2, 3)), (0, 2, 1))  # [B, C, M]
        else:
            shape = ops.shape(masked)
            rows = ops.transpose(masked, (0, 4, 1, 2, 3))  # [B, C, M, h, w]
            rows = ops.reshape(rows, (shape[0], shape[4], -1))  # [B, C, M*h*w]
        hidden = ops.relu(ops.matmul(rows, self.w1) + self.b1)
        scores = ops.sigmoid(ops.matmul(hidden, self.w2) + self.b2)  # [B, C, M]
        return masked_softmax(scores, mask[:, None, :])

    def call(self, features, available):
        mask = ops.cast(available, features.dtype)
        masked = features * mask[:, :, None, None, None]
        weights = self.attention_weights(features, available)
        # sum_m A[b, c, m] * f_m[b, h, w, c]; a broadcast product and sum (an einsum here
        # ran as a batched matrix product per channel, 6x slower on TensorFlow's CPU build).
        per_branch = ops.transpose(weights, (0, 2, 1))[:, :, None, None, :]  # [B, M, 1, 1, C]
        complement = ops.sum(per_branch * masked, axis=1)
        output = self.gamma * masked + (1.0 - self.gamma) * complement[:, None]
        return output * mask[:, :, None, None, None]

    def compute_output_shape(self, features_shape, available_shape=None):
        return features_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            gamma=self.gamma,
            reduction=self.reduction,
            pooled=self.pooled,
            pooled_units=self.pooled_units,
        )
        return config


def masked_softmax(scores, mask, axis=-1):
    """Softmax of `scores` along `axis` over the entries where `mask` is 1.

    Args:
        scores: tensor of logits.
        mask: tensor broadcastable to `scores`, 1.0 to keep an entry, 0.0 to drop it.
        axis: int. Axis to normalise over.

    Returns:
        Probabilities that are exactly 0 where `mask` is 0 and sum to 1 over the rest.

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> ops.convert_to_numpy(masked_softmax(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 0.0, 1.0]]))).round(3)
    array([[0.119, 0.   , 0.881]])
    """
    mask = ops.cast(mask, scores.dtype)
    shifted = scores - ops.max(scores, axis=axis, keepdims=True)
    exp = ops.exp(shifted) * mask
    return exp / ops.maximum(ops.sum(exp, axis=axis, keepdims=True), 1e-12)
