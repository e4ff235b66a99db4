"""Faster TensorFlow kernels for three of MA-GAN's operations, with the same maths.

On TensorFlow's CPU build (oneDNN) three operations of the model run far below the
machine's conv throughput when written the plain way (measured in
`benchmarks/README.md`):

- instance normalisation (`GroupNormalization(groups=-1)`): its moments and their
  gradient are a chain of about 20 element-wise and reduction ops over the whole
  activation (`Tile` alone was 4% of a training step). `instance_norm` runs the fused
  batch-norm kernel (`FusedBatchNormV3`, forward and backward one op each) on each
  image: batch statistics of a batch of one image are that image's instance
  statistics. About 2x faster forward plus backward on images of 64K values or more;
  on smaller ones the plain ops are kept (as fast, fewer ops).
- a stride-1 convolution to very few channels with a large kernel (the generator's
  last `7x7, 64 -> 1` layer): oneDNN runs it at under 10% of its conv throughput.
  `narrow_conv2d` computes it as one matrix product to `k * k * out` channels followed
  by a sum of `k * k` shifted planes (the same multiplications and additions), with a
  hand-written gradient (input gradient by the native kernel, weight gradient as one
  matrix product). About 3x faster, forward plus backward.
- the weight gradient of a stride-2 3x3 convolution (the encoders' down-sampling and
  the decoders' transposed up-sampling at width 64): oneDNN's `Conv2DBackpropFilter`
  runs these at 30-40% of its forward speed. `strided_conv2d` and
  `strided_conv2d_transpose` keep the native forward and input gradient and compute
  the weight gradient as one matrix product of the image patches
  (`extract_patches`) with the output gradient. 1.5-2.5x faster for that gradient.

All equal the plain computation up to float32 rounding (tested in
`tests/test_performance_equivalence.py`). Other backends, TensorFlow with a GPU (cuDNN's
kernels were not measured against these), and TensorFlow inside `reference_kernels()` use
the plain Keras ops; `benchmarks.flops` counts FLOPs there, so the count is the model's
maths whatever kernels run.

Example:

```python
from magan_keras.layers import kernels

with kernels.reference_kernels():
    plain = model(inputs)  # traced with the plain Keras ops
```
"""

import contextlib
import functools

import keras

_REFERENCE_DEPTH = 0


@contextlib.contextmanager
def reference_kernels():
    """Within this context (at trace time), layers use the plain Keras ops."""
    global _REFERENCE_DEPTH
    _REFERENCE_DEPTH += 1
    try:
        yield
    finally:
        _REFERENCE_DEPTH -= 1


def fast_kernels_enabled():
    """True on TensorFlow without a GPU (where they were measured), outside `reference_kernels()`."""
    return _REFERENCE_DEPTH == 0 and keras.backend.backend() == "tensorflow" and not _has_gpu()


@functools.cache
def _has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


# Below this many values per image, the per-image fused kernel's op overhead outweighs its
# gain (measured in benchmarks/README.md): the plain ops are as fast.
INSTANCE_NORM_MIN_VALUES = 65536


def use_fused_instance_norm(shape):
    """Whether `instance_norm` pays off for `[B, H, W, C]` inputs (static size per image)."""
    if not fast_kernels_enabled() or len(shape) != 4 or None in tuple(shape)[1:]:
        return False
    return shape[1] * shape[2] * shape[3] >= INSTANCE_NORM_MIN_VALUES


def instance_norm(x, gamma, beta, epsilon):
    """Instance normalisation of `x` `[B, H, W, C]` with per-channel `gamma`, `beta` (TensorFlow).

    Runs `FusedBatchNormV3` on each image (static batch), or once on the images laid
    side by side as channels (dynamic batch).
    """
    import tensorflow as tf

    gamma = tf.cast(gamma, tf.float32)
    beta = tf.cast(beta, tf.float32)

    def fused(images, scale, offset):
        out, _, _ = tf.compat.v1.nn.fused_batch_norm(images, scale, offset, epsilon=epsilon, is_training=True)
        return out

    batch = x.shape[0]
    if batch is not None:
        if batch == 1:
            return fused(x, gamma, beta)
        return tf.concat([fused(image, gamma, beta) for image in tf.split(x, batch, axis=0)], axis=0)
    shape = tf.shape(x)
    b, h, w, c = shape[0], shape[1], shape[2], shape[3]
    side_by_side = tf.reshape(tf.transpose(x, (1, 2, 0, 3)), (1, h, w, b * c))
    out = fused(side_by_side, tf.tile(gamma, [b]), tf.tile(beta, [b]))
    return tf.transpose(tf.reshape(out, (h, w, b, c)), (2, 0, 1, 3))


def use_patch_filter_grad(kernel_shape, strides, padding, grad_channels, input_shape):
    """Whether the strided kernels apply: 'same', stride 2, odd square kernel, >= 128 gradient channels.

    `grad_channels` is the last axis of the weight gradient's matrix product (the conv's
    outputs; a transposed conv's inputs); below 128 the native kernel was as fast.
    """
    kh, kw = kernel_shape[:2]
    return (
        fast_kernels_enabled()
        and strides == 2
        and padding == "same"
        and kh == kw
        and kh % 2 == 1
        and grad_channels >= 128
        and None not in tuple(input_shape)[1:]
    )


def _patch_filter_grad(images, out_grad, kernel_size, strides):
    """`Conv2DBackpropFilter(images, [k, k, Cin, Cout], out_grad, strides, 'SAME')` as patches^T @ out_grad."""
    import tensorflow as tf

    cin, cout = images.shape[-1], out_grad.shape[-1]
    k = kernel_size
    patches = tf.image.extract_patches(
        images, [1, k, k, 1], [1, strides, strides, 1], [1, 1, 1, 1], "SAME"
    )  # [B, H', W', k*k*Cin], channel (p, q, c)
    matrix = tf.matmul(tf.reshape(patches, (-1, k * k * cin)), tf.reshape(out_grad, (-1, cout)), transpose_a=True)
    return tf.reshape(matrix, (k, k, cin, cout))


def strided_conv2d(x, kernel, strides):
    """`conv2d(x, kernel, strides, 'same')` (native), its weight gradient by `_patch_filter_grad` (TensorFlow)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel)
    stride_list = [1, strides, strides, 1]

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, stride_list, "SAME")

        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy, strides=stride_list, padding="SAME"
            )
            return dx, _patch_filter_grad(x, dy, kernel.shape[0], strides)

        return y, grad

    return conv(x, kernel)


def strided_conv2d_transpose(x, kernel, strides):
    """Keras' 'same' `conv_transpose` (native), its weight gradient by `_patch_filter_grad` (TensorFlow).

    `kernel` is `[k, k, out, in]` as Keras and TensorFlow store it; the output is
    `strides` times larger in each spatial dimension.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel)
    stride_list = [1, strides, strides, 1]
    _, h, w, _ = x.shape

    @tf.custom_gradient
    def conv_transpose(x, kernel):
        output_shape = tf.stack([tf.shape(x)[0], h * strides, w * strides, kernel.shape[2]])
        y = tf.nn.conv2d_transpose(x, kernel, output_shape, stride_list, "SAME")

        def grad(dy):
            dx = tf.nn.conv2d(dy, kernel, stride_list, "SAME")
            return dx, _patch_filter_grad(dy, x, kernel.shape[0], strides)

        return y, grad

    return conv_transpose(x, kernel)


# `narrow_conv2d` wins on one output channel only (forward plus kernel gradient,
# `python -m benchmarks.narrow_conv`, 4 x 128 x 128 images, 7x7 kernels, oneDNN -> narrow:
# 64 -> 1 276 -> 32 ms, 16 -> 1 68 -> 22 ms, 4 -> 1 37 -> 19 ms; but 8 -> 4 41 -> 167 ms,
# 4 -> 4 40 -> 156 ms, 3x3 4 -> 4 5.5 -> 10 ms). With several outputs oneDNN's kernel is faster.
def use_narrow_conv2d(input_shape, kernel_shape, strides, padding):
    """Whether `narrow_conv2d` applies: stride 1, 'same', odd kernel > 1, one output channel, static size."""
    kh, kw, _, out = kernel_shape
    return (
        fast_kernels_enabled()
        and strides == 1
        and padding == "same"
        and kh == kw
        and kh % 2 == 1
        and kh > 1
        and out == 1
        and None not in tuple(input_shape)[1:]
    )


def narrow_conv2d(x, kernel):
    """Stride-1 'same' convolution of `x` `[B, H, W, Cin]` by `kernel` `[k, k, Cin, Cout]` (TensorFlow).

    `y[b, i, j, o] = sum_{p, q} (x[b] @ K[p, q])[i + p - r, j + q - r, o]` with `r = k // 2`:
    one product `x @ [Cin, k * k * Cout]`, then the `k * k` shifted planes summed.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel)  # read the variable outside the custom gradient
    k, _, cin, cout = kernel.shape
    r = k // 2
    _, h, w, _ = x.shape

    @tf.custom_gradient
    def conv(x, kernel):
        batch = tf.shape(x)[0]
        # [Cin, k*k*Cout], column (p*k + q)*Cout + o.
        matrix = tf.reshape(kernel, (k * k, cin, cout))
        matrix = tf.reshape(tf.transpose(matrix, (1, 0, 2)), (cin, k * k * cout))
        planes = tf.matmul(tf.reshape(x, (-1, cin)), matrix)
        planes = tf.transpose(tf.reshape(planes, (batch, h, w, k * k, cout)), (3, 4, 0, 1, 2))
        planes = tf.pad(planes, [[0, 0], [0, 0], [0, 0], [r, r], [r, r]])
        # Stacked and summed, not `add_n`: grappler reorders an AddN's terms in graphs, and
        # eager and traced calls would then differ by rounding.
        y = tf.reduce_sum(
            tf.stack([planes[p * k + q, :, :, p : p + h, q : q + w] for p in range(k) for q in range(k)]), axis=0
        )
        y = tf.transpose(y, (1, 2, 3, 0))  # [B, H, W, Cout]

        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy, strides=[1, 1, 1, 1], padding="SAME"
            )
            # d planes[t] = dy shifted back by tap t; then dK = x^T @ d planes.
            padded = tf.pad(dy, [[0, 0], [r, r], [r, r], [0, 0]])
            taps = [(2 * r - p, 2 * r - q) for p in range(k) for q in range(k)]
            shifted = tf.concat([padded[:, i : i + h, j : j + w, :] for i, j in taps], axis=-1)  # [B, H, W, k*k*Cout]
            dmatrix = tf.matmul(tf.reshape(x, (-1, cin)), tf.reshape(shifted, (-1, k * k * cout)), transpose_a=True)
            dkernel = tf.transpose(tf.reshape(dmatrix, (cin, k * k, cout)), (1, 0, 2))
            return dx, tf.reshape(dkernel, (k, k, cin, cout))

        return y, grad

    return conv(x, kernel)
