import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras import MAGAN

pytestmark = pytest.mark.multibackend


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def fixed_dataset(batch):
    return tf.data.Dataset.from_tensors(batch).repeat()


# Tests of what one or two steps do compile with `run_eagerly` on TensorFlow, where the first
# traced step of the tiny model costs about 23 s here (tracing 16 s, graph optimisation and
# first run 7 s) and an eager step 2.5 s. Not on JAX: its op-by-op dispatch made the same
# tests 5x slower than its compiled step (150 s against 27 s); torch runs eagerly anyway.
# The step's arithmetic is the same code either way; the traced step is pinned by the tests
# that keep `fit`'s default (the update equals -lr * gradient, every loss is logged, L1
# falls in 60 steps) and by the cross-backend run.
EAGER = dict(run_eagerly=keras.backend.backend() == "tensorflow")


def weights_of(network):
    return [to_numpy(v).copy() for v in network.weights]


def test_l1_falls_by_half_within_a_few_dozen_steps(tiny_batch, tiny_model_kwargs):
    # Seeded: after 40 steps the ratio ranged 0.32-0.54 over five initialisations
    # (torch's seed 1 failed CI); after 60 it was 0.19-0.34 on all three backends.
    keras.utils.set_random_seed(0)
    model = MAGAN(**tiny_model_kwargs)
    model.compile()
    first = model.evaluate(*tiny_batch, verbose=0, return_dict=True)["g_l1"]
    model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=60, verbose=0)
    last = model.evaluate(*tiny_batch, verbose=0, return_dict=True)["g_l1"]
    assert last < 0.5 * first, (first, last)


def test_fit_logs_every_loss_and_metric(tiny_batch, tiny_model_kwargs):
    model = MAGAN(**tiny_model_kwargs)
    model.compile()
    logs = model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=2, verbose=0).history
    expected = {"g_loss", "g_l1", "g_gan", "g_ssim", "g_intra", "g_inter", "d_loss", "sr_loss", "psnr", "ssim", "mae"}
    assert set(logs) == expected
    assert all(np.isfinite(v[0]) for v in logs.values())
    assert 0 < logs["ssim"][0] <= 1 and logs["psnr"][0] > 0


def largest(gradients):
    return max(float(np.abs(to_numpy(g)).max()) for g in gradients if g is not None)


def test_self_representation_gets_no_gradient_from_generator_losses(tiny_batch, tiny_model_kwargs, gradients):
    model = MAGAN(**tiny_model_kwargs)
    inputs, y = tiny_batch

    def loss(name):
        return lambda: model.compute_step_losses(inputs, y, training=True)[name]

    sr_vars = model.self_representation.trainable_variables
    # g_loss holds g_intra and g_inter (alpha = beta = 1): one gradient covers both
    # (eager gradients are slow on JAX).
    for name in ("g_loss", "d_loss"):
        grads = gradients(loss(name), sr_vars)
        assert all(g is None or float(np.abs(to_numpy(g)).max()) == 0.0 for g in grads), name
    assert largest(gradients(loss("g_intra"), model.generator.trainable_variables)) > 0
    grads = gradients(loss("sr_loss"), sr_vars)
    assert all(g is not None and float(np.abs(to_numpy(g)).max()) > 0 for g in grads)


def test_train_step_updates_each_network_by_its_own_loss_only(tiny_batch, tiny_model_kwargs, gradients):
    # One real `train_step` (through `fit`) with plain SGD: G must move by exactly
    # -lr * d(g_loss)/dG and D by -lr * d(d_loss)/dD, both taken at the weights before the
    # step. A leak of D's loss into G (or of G's into D) changes the update.
    keras.utils.set_random_seed(0)
    model = MAGAN(**tiny_model_kwargs)
    rate = 0.1
    model.compile(
        g_optimizer=keras.optimizers.SGD(rate),
        d_optimizer=keras.optimizers.SGD(rate),
        sr_optimizer=keras.optimizers.SGD(rate),
    )
    g_vars, d_vars = model.generator.trainable_variables, model.discriminator.trainable_variables
    g_before, d_before = weights_of(model.generator), weights_of(model.discriminator)
    g_grads = gradients(lambda: model.compute_step_losses(*tiny_batch, training=True)["g_loss"], g_vars)
    d_grads = gradients(lambda: model.compute_step_losses(*tiny_batch, training=True)["d_loss"], d_vars)
    expected_g = {v.path: to_numpy(v) - rate * to_numpy(g) for v, g in zip(g_vars, g_grads) if g is not None}
    expected_d = {v.path: to_numpy(v) - rate * to_numpy(g) for v, g in zip(d_vars, d_grads)}
    model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, weights_of(model.generator)))
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, weights_of(model.discriminator)))
    for variable in g_vars:
        if variable.path in expected_g:
            np.testing.assert_allclose(
                to_numpy(variable), expected_g[variable.path], rtol=1e-5, atol=2e-5, err_msg=variable.path
            )
    for variable in d_vars:
        np.testing.assert_allclose(
            to_numpy(variable), expected_d[variable.path], rtol=1e-5, atol=2e-5, err_msg=variable.path
        )


def one_step_generator_weights(tiny_batch, logs=None, **kwargs):
    """G's weights after one seeded step of `MAGAN(**kwargs)`; the step's logs go into `logs` (a dict)."""
    keras.utils.set_random_seed(3)
    model = MAGAN(**kwargs)
    model.compile(**EAGER)
    history = model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=1, verbose=0).history
    if logs is not None:
        logs.update(history)
    return weights_of(model.generator)


def test_alpha_and_beta_do_nothing_without_sr_supervision(tiny_batch, tiny_model_kwargs):
    base = one_step_generator_weights(tiny_batch, sr_supervision=False, alpha=0.0, beta=0.0, **tiny_model_kwargs)
    other = one_step_generator_weights(tiny_batch, sr_supervision=False, alpha=10.0, beta=5.0, **tiny_model_kwargs)
    for a, b in zip(base, other):
        np.testing.assert_array_equal(a, b)
    model = MAGAN(sr_supervision=False, **tiny_model_kwargs)
    assert model.self_representation is None and "sr_loss" not in [m.name for m in model.metrics]


def test_alpha_and_beta_change_the_step_with_sr_supervision(tiny_batch, tiny_model_kwargs):
    base = one_step_generator_weights(tiny_batch, alpha=0.0, beta=0.0, **tiny_model_kwargs)
    other = one_step_generator_weights(tiny_batch, alpha=10.0, beta=5.0, **tiny_model_kwargs)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(base, other))


def test_ssim_loss_is_logged_and_changes_the_step(tiny_batch, tiny_model_kwargs):
    base = one_step_generator_weights(tiny_batch, lambda_ssim=0.0, **tiny_model_kwargs)
    logs = {}
    other = one_step_generator_weights(tiny_batch, lambda_ssim=10.0, logs=logs, **tiny_model_kwargs)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(base, other))
    assert 0 < logs["g_ssim"][-1] < 2
    np.testing.assert_allclose(logs["ssim"][-1], 1 - logs["g_ssim"][-1], rtol=1e-5)  # one SSIM, two views
    assert "g_ssim" not in [m.name for m in MAGAN(lambda_ssim=0.0, **tiny_model_kwargs).metrics]


def test_pretrain_schedule_fits_sr_first_then_freezes_it(tiny_batch, tiny_model_kwargs):
    model = MAGAN(sr_schedule="pretrain", sr_pretrain_steps=3, **tiny_model_kwargs)
    model.compile(**EAGER)
    initial = weights_of(model.self_representation)
    model.pretrain_self_representation(fixed_dataset(tiny_batch), steps=3, verbose=0)
    assert float(to_numpy(model.sr_pretrained)) == 1.0
    pretrained = weights_of(model.self_representation)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(initial, pretrained))
    model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=2, verbose=0)
    for a, b in zip(pretrained, weights_of(model.self_representation)):
        np.testing.assert_array_equal(a, b)
    assert int(to_numpy(model.sr_optimizer.iterations)) == 3


def test_joint_schedule_trains_sr_every_step(tiny_batch, tiny_model_kwargs):
    model = MAGAN(sr_schedule="joint", **tiny_model_kwargs)
    model.compile(**EAGER)
    model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=2, verbose=0)
    assert int(to_numpy(model.sr_optimizer.iterations)) == 2
    assert int(to_numpy(model.d_optimizer.iterations)) == 2


def test_least_squares_gan_trains(tiny_batch, tiny_model_kwargs):
    model = MAGAN(gan_loss="lsgan", **tiny_model_kwargs)
    model.compile(**EAGER)
    logs = model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=2, verbose=0).history
    assert np.isfinite(logs["d_loss"][0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"modal_atention": False},  # misspelled switch must not silently pass
        {"gan_loss": "wasserstein"},
        {"sr_schedule": "later"},
        {"gamma": 2.0},
        {"alpha": -1.0},
        {"lambda_l1": float("nan")},
        {"lambda_ssim": -1.0},
        {"generator": "unet"},
        {"generator": "single_input"},  # modal attention needs one branch per contrast
        {"generator": "single_input", "modal_attention": False, "decoder_skip": True},
    ],
)
def test_unknown_or_bad_options_raise(kwargs, tiny_model_kwargs):
    with pytest.raises((ValueError, TypeError)):
        MAGAN(**tiny_model_kwargs, **kwargs)


def test_compile_rejects_keras_loss_arguments(tiny_model_kwargs):
    with pytest.raises(ValueError, match="loss"):
        MAGAN(**tiny_model_kwargs).compile(loss="mae")


def test_every_loss_weight_is_in_the_config(tiny_model_kwargs):
    weights = dict(gamma=0.25, alpha=0.5, beta=2.0, lambda_l1=50.0, lambda_ssim=5.0, gan_loss="vanilla")
    config = MAGAN(**weights, **tiny_model_kwargs).get_config()
    for key, value in weights.items():
        assert config[key] == value
    for key in ("modal_attention", "intra_attention", "sr_supervision", "sr_schedule", "sr_pretrain_steps"):
        assert key in config


def test_save_reload_predict_gives_equal_outputs(tmp_path, tiny_batch, tiny_model_kwargs):
    model = MAGAN(gamma=0.3, **tiny_model_kwargs)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), **EAGER)
    model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=2, verbose=0)
    inputs, _ = tiny_batch
    path = tmp_path / "magan.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode stays on
    assert isinstance(loaded, MAGAN) and loaded.gamma == 0.3
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6)
    assert float(to_numpy(loaded.g_optimizer.learning_rate)) == pytest.approx(1e-3)
    assert int(to_numpy(loaded.d_optimizer.iterations)) == 2
    generator_path = tmp_path / "generator.keras"
    model.generator.save(generator_path)
    generator = keras.saving.load_model(generator_path)
    np.testing.assert_allclose(to_numpy(generator(inputs)), model.predict(inputs, verbose=0), atol=1e-6)


@pytest.mark.parametrize("sr_supervision", [False, True])
def test_single_input_generator_trains_and_reloads(tmp_path, tiny_batch, tiny_model_kwargs, sr_supervision):
    from magan_keras.models import SingleInputGenerator

    model = MAGAN(
        generator="single_input",
        modal_attention=False,
        intra_attention=False,
        decoder_skip=False,
        sr_supervision=sr_supervision,
        **tiny_model_kwargs,
    )
    assert isinstance(model.generator, SingleInputGenerator)
    model.compile(**EAGER)
    logs = model.fit(fixed_dataset(tiny_batch), epochs=1, steps_per_epoch=2, verbose=0).history
    assert ("g_intra" in logs) == sr_supervision
    assert all(np.isfinite(v[-1]) for v in logs.values())
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_config()["generator"] == "single_input"
    inputs, _ = tiny_batch
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6)
