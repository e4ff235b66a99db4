"""MA-GAN's losses (Eq. 4), backend-free: every backend's train step calls these.

Each function returns per-example values `[B]`; `batch_mean` reduces them.
Distribution scaling (dividing by the number of replicas so that `R` replicas
take the same step as one device with the same global batch) is the backend
step's job, not these functions'.
"""

from keras import ops

from magan_keras.models import metrics as image_metrics

GAN_LOSSES = ("vanilla", "lsgan")


def per_example_mean(x):
    """Mean over every axis but the first. Example: `[B, H, W, C]` -> `[B]`."""
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def l1_loss(y_true, y_pred):
    """Per-example mean absolute error. Args: y_true, y_pred `[B, ...]`."""
    return per_example_mean(ops.abs(ops.convert_to_tensor(y_true) - ops.convert_to_tensor(y_pred)))


def ssim_loss(y_true, y_pred):
    """Per-example `1 - SSIM` of two [-1, 1] images, scored on [0, 1] as the metrics are.

    The same SSIM as `magan_keras.models.metrics.ssim` (11x11 Gaussian window, whole slice).

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> ops.convert_to_numpy(ssim_loss(np.zeros((1, 16, 16, 1)), np.zeros((1, 16, 16, 1)))).round(4)
    array([0.], dtype=float32)
    """
    y_true = image_metrics.to_unit_range(ops.convert_to_tensor(y_true, "float32"))
    y_pred = image_metrics.to_unit_range(ops.convert_to_tensor(y_pred, "float32"))
    return 1.0 - image_metrics.ssim(y_true, y_pred)


def adversarial_loss(logits, is_real, gan_loss="vanilla"):
    """Per-example patch loss of discriminator `logits` against the label `is_real`.

    Args:
        logits: `[B, h, w, 1]` PatchGAN outputs.
        is_real: bool. The label every patch is scored against.
        gan_loss: `"vanilla"` (sigmoid cross-entropy, pix2pix) or `"lsgan"` (least squares).

    Example:
    >>> import numpy as np
    >>> from keras import ops
    >>> float(ops.convert_to_numpy(adversarial_loss(np.zeros((1, 2, 2, 1)), True))[0])  # log 2
    0.693...
    """
    logits = ops.convert_to_tensor(logits)
    label = ops.ones_like(logits) if is_real else ops.zeros_like(logits)
    if gan_loss == "vanilla":
        return per_example_mean(ops.binary_crossentropy(label, logits, from_logits=True))
    if gan_loss == "lsgan":
        return per_example_mean(ops.square(logits - label))
    raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {gan_loss!r}")


def feature_distance(student, teacher):
    """Per-example mean squared distance between feature maps (Eq. 3, "kernel level").

    The teacher is wrapped in `stop_gradient`: no gradient ever reaches SR from here.

    Args:
        student: `[B, ..., C]` generator features.
        teacher: `[B, ..., C]` SR encoder features of the ground truth.
    """
    student, teacher = ops.convert_to_tensor(student), ops.convert_to_tensor(teacher)
    return per_example_mean(ops.square(student - ops.stop_gradient(teacher)))


def intra_loss(branch_features, teacher, available):
    """`L_intra`: mean over available branches of each branch's distance to the teacher.

    Args:
        branch_features: `[B, M, h, w, C]` generator branch features (Conv3 + RA).
        teacher: `[B, h, w, C]` SR Conv3 features of the ground truth.
        available: `[B, M]` mask.

    Returns:
        `[B]` losses.
    """
    branch_features = ops.convert_to_tensor(branch_features)
    teacher = ops.stop_gradient(ops.convert_to_tensor(teacher))[:, None]
    per_branch = ops.mean(ops.square(branch_features - teacher), axis=(2, 3, 4))  # [B, M]
    available = ops.cast(available, per_branch.dtype)
    return ops.sum(per_branch * available, axis=1) / ops.maximum(ops.sum(available, axis=1), 1.0)


def batch_mean(per_example):
    """Mean over the (local) batch: the value logged and, scaled by the replica count, optimised."""
    return ops.mean(per_example)


def generator_losses(
    y_true,
    synthesis,
    fake_logits,
    branch_features=None,
    fused_features=None,
    teacher=None,
    available=None,
    *,
    lambda_l1,
    alpha,
    beta,
    gan_loss,
    lambda_ssim=0.0,
):
    """The generator's loss terms and `L_G = lambda_l1 L1 + L_GAN + alpha L_intra + beta L_inter`.

    With `lambda_ssim > 0`, `lambda_ssim * (1 - SSIM)` is added (not in the paper; see
    `MAGAN`).

    Args:
        y_true: `[B, H, W, 1]` ground truth.
        synthesis: `[B, H, W, 1]` generator output.
        fake_logits: `[B, h, w, 1]` discriminator logits on the synthesis.
        branch_features, fused_features, teacher, available: the SR supervision
            inputs; with `teacher=None` (SR supervision off) the SR terms are absent.
        lambda_l1, alpha, beta: floats. Loss weights.
        lambda_ssim: float. Weight of the SSIM loss; 0 (the paper) leaves it out.
        gan_loss: str. See `adversarial_loss`.

    Returns:
        dict of scalars: `g_loss` (the total), `g_l1`, `g_gan`, `g_ssim` when
        `lambda_ssim > 0`, and `g_intra`, `g_inter` when SR supervision is on.
    """
    terms = {
        "g_l1": batch_mean(l1_loss(y_true, synthesis)),
        "g_gan": batch_mean(adversarial_loss(fake_logits, True, gan_loss)),
    }
    total = lambda_l1 * terms["g_l1"] + terms["g_gan"]
    if lambda_ssim > 0:
        terms["g_ssim"] = batch_mean(ssim_loss(y_true, synthesis))
        total = total + lambda_ssim * terms["g_ssim"]
    if teacher is not None:
        terms["g_intra"] = batch_mean(intra_loss(branch_features, teacher, available))
        terms["g_inter"] = batch_mean(feature_distance(fused_features, teacher))
        total = total + alpha * terms["g_intra"] + beta * terms["g_inter"]
    return {"g_loss": total, **terms}


def discriminator_loss(real_logits, fake_logits, gan_loss):
    """pix2pix's discriminator loss, halved: `(L(real, 1) + L(fake, 0)) / 2` (a scalar).

    The caller differentiates it with respect to D's weights only, which is what
    "the fake detached" means.
    """
    return 0.5 * batch_mean(
        adversarial_loss(real_logits, True, gan_loss) + adversarial_loss(fake_logits, False, gan_loss)
    )
