import keras
import numpy as np
import pytest

from magan_keras.layers import IntraModalAttention, ModalAttention
from magan_keras.models import (
    MultiBranchGenerator,
    PatchDiscriminator,
    SelfRepresentationNetwork,
    SingleInputGenerator,
)

pytestmark = pytest.mark.multibackend


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def all_layers(model):
    return list(model._flatten_layers(include_self=False, recursive=True))


def test_generator_shapes_range_and_features(tiny_batch):
    inputs, _ = tiny_batch
    g = MultiBranchGenerator(image_size=32, base_filters=4, res_blocks=1)
    out = g.call_with_features(inputs)
    assert out["synthesis"].shape == (4, 32, 32, 1)
    assert out["branch_features"].shape == (4, 4, 8, 8, 16)
    assert out["fused_features"].shape == (4, 8, 8, 16)
    synthesis = to_numpy(out["synthesis"])
    assert synthesis.min() >= -1 and synthesis.max() <= 1
    branch = to_numpy(out["branch_features"])
    missing = inputs["available"] == 0
    assert np.all(branch[missing] == 0)


@pytest.mark.parametrize("decoder_skip", [False, True])
def test_generator_ignores_missing_contrast_pixels(tiny_batch, decoder_skip):
    inputs, _ = tiny_batch
    g = MultiBranchGenerator(image_size=32, base_filters=4, res_blocks=1, decoder_skip=decoder_skip)
    noisy = dict(inputs)
    noisy["images"] = inputs["images"] + (1 - inputs["available"])[:, None, None, :] * 5.0
    np.testing.assert_allclose(to_numpy(g(inputs)), to_numpy(g(noisy)), atol=1e-6)


def test_generator_depends_on_the_target_mask(tiny_batch):
    inputs, _ = tiny_batch
    g = MultiBranchGenerator(image_size=32, base_filters=4, res_blocks=1)
    other = dict(inputs)
    other["target"] = np.roll(inputs["target"], 1, axis=1)
    assert np.abs(to_numpy(g(inputs)) - to_numpy(g(other))).max() > 1e-4


@pytest.mark.parametrize("modal, intra", [(True, True), (False, True), (True, False), (False, False)])
def test_attention_switches_remove_the_layers(modal, intra):
    g = MultiBranchGenerator(image_size=32, base_filters=4, res_blocks=1, modal_attention=modal, intra_attention=intra)
    g.build_on_zeros()
    layers = all_layers(g)
    assert any(isinstance(layer, ModalAttention) for layer in layers) == modal
    assert any(isinstance(layer, IntraModalAttention) for layer in layers) == intra
    assert sum(isinstance(layer, IntraModalAttention) for layer in layers) == (8 if intra else 0)


def test_generator_width_depth_and_modalities_are_arguments():
    g = MultiBranchGenerator(modalities=("a", "b", "c"), image_size=16, base_filters=2, res_blocks=3)
    g.build_on_zeros()
    assert len(g.encoders) == 3 and len(g.decoder.blocks) == 3
    assert g.encoders[0].conv1.filters == 2


@pytest.mark.parametrize("decoder_skip", [False, True])
def test_generator_config_and_keras_file_round_trip(tmp_path, tiny_batch, decoder_skip):
    inputs, _ = tiny_batch
    g = MultiBranchGenerator(
        image_size=32, base_filters=4, res_blocks=1, gamma=0.3, decoder_skip=decoder_skip, name="g"
    )
    expected = to_numpy(g(inputs))
    path = tmp_path / "generator.keras"
    g.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MultiBranchGenerator) and loaded.gamma == 0.3
    assert loaded.decoder_skip == decoder_skip and len(loaded.weights) == len(g.weights)
    np.testing.assert_allclose(to_numpy(loaded(inputs)), expected, atol=1e-6)


def test_decoder_skip_feeds_full_resolution_features_to_the_last_layer(tiny_batch):
    inputs, _ = tiny_batch
    f, m = 4, inputs["images"].shape[-1]
    plain = MultiBranchGenerator(image_size=32, base_filters=f, res_blocks=1, decoder_skip=False)
    skip = MultiBranchGenerator(image_size=32, base_filters=f, res_blocks=1, decoder_skip=True)
    plain.build_on_zeros()
    skip.build_on_zeros()
    # a 1x1 fusion of the M branches' Conv1 maps to F channels, and c7s1-1 reads 2F channels
    assert skip.count_params() - plain.count_params() == (m * f * f + f) + 7 * 7 * f
    assert tuple(skip.decoder.to_image.weights[0].shape)[:3] == (7, 7, 2 * f)
    # the features the SR losses compare are unchanged in shape
    out = skip.call_with_features(inputs)
    assert out["branch_features"].shape == (4, m, 8, 8, 4 * f)
    assert out["synthesis"].shape == (4, 32, 32, 1)


@pytest.mark.parametrize("size", [12, 30, "x"])
def test_generator_rejects_bad_image_size(size):
    with pytest.raises(ValueError):
        MultiBranchGenerator(image_size=size)


def discriminator_inputs(batch=1, size=64, m=4):
    rng = np.random.default_rng(0)
    return {
        "images": rng.normal(size=(batch, size, size, m)).astype("float32"),
        "available": np.ones((batch, m), "float32"),
        "target": np.eye(m, dtype="float32")[:batch],
        "candidate": rng.normal(size=(batch, size, size, 1)).astype("float32"),
    }


def test_discriminator_shape_and_config():
    d = PatchDiscriminator(num_modalities=4, base_filters=4)
    assert d(discriminator_inputs()).shape == (1, 8, 8, 1)
    clone = PatchDiscriminator.from_config(d.get_config())
    assert clone.get_config() == d.get_config()


def test_discriminator_receptive_field_is_70_pixels(gradients):
    """Gradient of the centre patch logit w.r.t. the input, through D's own convolutions.

    Instance norm mixes every pixel through its statistics, so the field is
    measured on the convolution stack alone (the norm has no spatial extent).
    """
    d = PatchDiscriminator(num_modalities=4, base_filters=4)
    inputs = discriminator_inputs(size=128)
    d(inputs)
    x = keras.Variable(np.random.default_rng(0).normal(size=(1, 128, 128, 9)).astype("float32"))

    def centre_logit():
        h = x
        for block in d.blocks:
            h = keras.ops.leaky_relu(block.conv(h), 0.2)
        logits = d.to_logits(h)
        return logits[0, logits.shape[1] // 2, logits.shape[2] // 2, 0]

    (grad,) = gradients(centre_logit, [x])
    grad = np.abs(to_numpy(grad)).sum(axis=(0, 3))
    rows = np.flatnonzero(grad.sum(axis=1) > 0)
    cols = np.flatnonzero(grad.sum(axis=0) > 0)
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


def test_self_representation_shapes_features_and_no_attention():
    sr = SelfRepresentationNetwork(image_size=32, base_filters=4, res_blocks=1)
    y = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    recon, features = sr.call_with_features(y)
    assert recon.shape == (2, 32, 32, 1) and features.shape == (2, 8, 8, 16)
    recon = to_numpy(recon)
    assert recon.min() >= -1 and recon.max() <= 1
    assert not any(isinstance(layer, (ModalAttention, IntraModalAttention)) for layer in all_layers(sr))
    clone = SelfRepresentationNetwork.from_config(sr.get_config())
    assert clone.get_config() == sr.get_config()


def test_single_input_generator_is_one_encoder_over_stacked_contrasts(tiny_batch):
    inputs, _ = tiny_batch
    g = SingleInputGenerator(image_size=32, base_filters=4, res_blocks=1)
    out = g.call_with_features(inputs)
    assert out["synthesis"].shape == (4, 32, 32, 1)
    assert out["branch_features"].shape == (4, 1, 8, 8, 16)
    np.testing.assert_array_equal(to_numpy(out["branch_available"]), np.ones((4, 1)))
    layers = all_layers(g)
    assert not any(isinstance(layer, (ModalAttention, IntraModalAttention)) for layer in layers)
    # the first convolution sees the 4 contrasts and the 4 target planes at once
    assert g.encoder.conv1.conv.kernel.shape == (7, 7, 8, 4)
    multi = MultiBranchGenerator(
        image_size=32, base_filters=4, res_blocks=1, modal_attention=False, intra_attention=False
    )
    multi.build_on_zeros()
    g.build_on_zeros()
    assert g.count_params() < multi.count_params()


def test_single_input_generator_ignores_missing_pixels_and_round_trips(tmp_path, tiny_batch):
    inputs, _ = tiny_batch
    g = SingleInputGenerator(image_size=32, base_filters=4, res_blocks=1)
    noisy = dict(inputs)
    noisy["images"] = inputs["images"] + (1 - inputs["available"])[:, None, None, :] * 5.0
    np.testing.assert_allclose(to_numpy(g(inputs)), to_numpy(g(noisy)), atol=1e-6)
    other = dict(inputs)
    other["target"] = np.roll(inputs["target"], 1, axis=1)
    assert np.abs(to_numpy(g(inputs)) - to_numpy(g(other))).max() > 1e-4
    g.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    assert isinstance(loaded, SingleInputGenerator)
    np.testing.assert_allclose(to_numpy(loaded(inputs)), to_numpy(g(inputs)), atol=1e-6)
