import keras
import numpy as np
import pytest

from magan_keras.models import losses

pytestmark = pytest.mark.multibackend


def value(x):
    return keras.ops.convert_to_numpy(x)


def test_vanilla_adversarial_loss_is_sigmoid_cross_entropy():
    logits = np.array([[[[0.0]], [[2.0]]]], "float32").reshape(1, 2, 1, 1)
    expected = np.mean(np.log1p(np.exp(-logits)))
    np.testing.assert_allclose(value(losses.adversarial_loss(logits, True)), [expected], rtol=1e-5)


def test_least_squares_loss():
    logits = np.full((2, 2, 2, 1), 0.5, "float32")
    np.testing.assert_allclose(value(losses.adversarial_loss(logits, False, "lsgan")), [0.25, 0.25])


def test_unknown_gan_loss_raises():
    with pytest.raises(ValueError, match="gan_loss"):
        losses.adversarial_loss(np.zeros((1, 2, 2, 1), "float32"), True, "hinge")


def test_intra_loss_averages_over_available_branches_only():
    teacher = np.zeros((1, 2, 2, 3), "float32")
    branches = np.stack([np.full((2, 2, 3), v, "float32") for v in (1.0, 2.0, 100.0)])[None]
    available = np.array([[1, 1, 0]], "float32")
    np.testing.assert_allclose(value(losses.intra_loss(branches, teacher, available)), [(1 + 4) / 2])


def test_generator_total_is_the_weighted_sum():
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, (2, 8, 8, 1)).astype("float32")
    synthesis = rng.uniform(-1, 1, (2, 8, 8, 1)).astype("float32")
    logits = rng.normal(size=(2, 2, 2, 1)).astype("float32")
    branches = rng.normal(size=(2, 3, 2, 2, 4)).astype("float32")
    fused = rng.normal(size=(2, 2, 2, 4)).astype("float32")
    teacher = rng.normal(size=(2, 2, 2, 4)).astype("float32")
    available = np.ones((2, 3), "float32")
    terms = losses.generator_losses(
        y,
        synthesis,
        logits,
        branches,
        fused,
        teacher,
        available,
        lambda_l1=10.0,
        alpha=0.5,
        beta=2.0,
        gan_loss="vanilla",
    )
    expected = (
        10 * value(terms["g_l1"]) + value(terms["g_gan"]) + 0.5 * value(terms["g_intra"]) + 2 * value(terms["g_inter"])
    )
    np.testing.assert_allclose(value(terms["g_loss"]), expected, rtol=1e-5)
    without_sr = losses.generator_losses(y, synthesis, logits, lambda_l1=10.0, alpha=0.5, beta=2.0, gan_loss="vanilla")
    assert set(without_sr) == {"g_loss", "g_l1", "g_gan"}
    y16, synthesis16 = (rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32") for _ in range(2))
    with_ssim = losses.generator_losses(
        y16, synthesis16, logits, lambda_l1=10.0, alpha=0.5, beta=2.0, gan_loss="vanilla", lambda_ssim=3.0
    )
    assert value(with_ssim["g_ssim"]) > 0.5  # independent noise images are far from similar
    np.testing.assert_allclose(
        value(with_ssim["g_loss"]),
        10 * value(with_ssim["g_l1"]) + value(with_ssim["g_gan"]) + 3 * value(with_ssim["g_ssim"]),
        rtol=1e-5,
    )


def test_ssim_loss_is_one_minus_the_ssim_metric_on_the_unit_range():
    rng = np.random.default_rng(1)
    y = rng.uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    noisy = np.clip(y + rng.normal(0, 0.3, y.shape), -1, 1).astype("float32")
    np.testing.assert_allclose(value(losses.ssim_loss(y, y)), [0.0, 0.0], atol=1e-5)
    from magan_keras.models import metrics

    expected = 1 - value(metrics.ssim((y + 1) / 2, (noisy + 1) / 2))
    np.testing.assert_allclose(value(losses.ssim_loss(y, noisy)), expected, rtol=1e-5)
    assert np.all(expected > 0.05)
