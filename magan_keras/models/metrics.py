"""Image-quality metrics on [0, 1] images, in `keras.ops` so they run on every backend.

`ssim` follows `tf.image.ssim` exactly (11x11 Gaussian window, sigma 1.5,
k1 = 0.01, k2 = 0.03, VALID filtering, mean over the SSIM map); the tests check
it against TensorFlow's implementation.
"""

import math

from keras import ops


def to_unit_range(images):
    """Maps model-scale images from [-1, 1] to [0, 1] (clipped).

    Example:
    >>> import numpy as np
    >>> ops.convert_to_numpy(to_unit_range(np.array([-1.0, 0.0, 1.0])))
    array([0. , 0.5, 1. ])
    """
    return ops.clip((images + 1.0) * 0.5, 0.0, 1.0)


def mae(y_true, y_pred):
    """Mean absolute error per image.

    Args:
        y_true: `[B, H, W, C]` ground truth.
        y_pred: `[B, H, W, C]` prediction.

    Returns:
        `[B]` errors.

    Example:
    >>> import numpy as np
    >>> ops.convert_to_numpy(mae(np.zeros((1, 4, 4, 1)), np.ones((1, 4, 4, 1))))
    array([1.])
    """
    return ops.mean(ops.abs(y_true - y_pred), axis=(1, 2, 3))


def psnr(y_true, y_pred, max_val=1.0):
    """Peak signal-to-noise ratio per image, in dB, as `tf.image.psnr`.

    Args:
        y_true: `[B, H, W, C]` ground truth.
        y_pred: `[B, H, W, C]` prediction.
        max_val: float. Data range (1.0 for [0, 1] images).

    Returns:
        `[B]` PSNR values (infinite for identical images).

    Example:
    >>> import numpy as np
    >>> ops.convert_to_numpy(psnr(np.zeros((1, 4, 4, 1)), np.full((1, 4, 4, 1), 0.1))).round(3)
    array([20.])
    """
    mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
    return 20.0 * math.log10(max_val) - 10.0 * ops.log(mse) / math.log(10.0)


def _gaussian_window(size=11, sigma=1.5):
    coords = [i - (size - 1) / 2.0 for i in range(size)]
    g = [math.exp(-(c * c) / (2.0 * sigma * sigma)) for c in coords]
    total = sum(g)
    g = [v / total for v in g]
    return [[a * b for b in g] for a in g]


def ssim(y_true, y_pred, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """Structural similarity per image, as `tf.image.ssim` computes it.

    Args:
        y_true: `[B, H, W, C]` ground truth; H and W at least `filter_size`.
        y_pred: `[B, H, W, C]` prediction.
        max_val: float. Data range (1.0 for [0, 1] images).
        filter_size: int. Gaussian window size.
        filter_sigma: float. Gaussian window width.
        k1: float. Luminance stabiliser.
        k2: float. Contrast stabiliser.

    Returns:
        `[B]` SSIM values, averaged over the map and the channels.

    Example:
    >>> import numpy as np
    >>> x = np.random.rand(1, 16, 16, 1).astype("float32")
    >>> ops.convert_to_numpy(ssim(x, x)).round(4)
    array([1.], dtype=float32)
    """
    y_true = ops.convert_to_tensor(y_true, "float32")
    y_pred = ops.convert_to_tensor(y_pred, "float32")
    channels = y_true.shape[-1]
    window = ops.convert_to_tensor(_gaussian_window(filter_size, filter_sigma), "float32")
    kernel = ops.tile(window[:, :, None, None], (1, 1, channels, 1))

    def blur(x):
        return ops.depthwise_conv(x, kernel, strides=1, padding="valid")

    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    mu_x, mu_y = blur(y_true), blur(y_pred)
    mean_xy = mu_x * mu_y
    mean_sq = ops.square(mu_x) + ops.square(mu_y)
    luminance = (2.0 * mean_xy + c1) / (mean_sq + c1)
    cov = blur(y_true * y_pred) - mean_xy
    var = blur(ops.square(y_true) + ops.square(y_pred)) - mean_sq
    contrast_structure = (2.0 * cov + c2) / (var + c2)
    return ops.mean(luminance * contrast_structure, axis=(1, 2, 3))
