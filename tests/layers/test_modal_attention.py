import keras
import numpy as np
import pytest

from magan_keras.layers import ModalAttention

pytestmark = pytest.mark.multibackend


def features_and_mask(seed=0, batch=2, m=4, size=4, channels=8):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, m, size, size, channels)).astype("float32")
    available = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], "float32")[:batch]
    return features, available


def build(layer, features, available):
    layer(features, available)
    return layer


def numpy_reference(layer, features, available):
    """Eq. 1-2 written directly in NumPy on the layer's own weights."""
    w1, b1, w2, b2 = (keras.ops.convert_to_numpy(v) for v in (layer.w1, layer.b1, layer.w2, layer.b2))
    mask = available[:, :, None, None, None]
    f = features * mask
    batch, m, h, w, c = f.shape
    outputs = np.zeros_like(f)
    for b in range(batch):
        rows = np.stack([f[b, :, :, :, ch].reshape(-1) for ch in range(c)])  # [C, M*h*w]
        scores = 1 / (1 + np.exp(-(np.maximum(rows @ w1 + b1, 0) @ w2 + b2)))  # [C, M]
        present = available[b] > 0
        weights = np.zeros_like(scores)
        e = np.exp(scores[:, present] - scores[:, present].max(axis=1, keepdims=True))
        weights[:, present] = e / e.sum(axis=1, keepdims=True)
        complement = sum(weights[None, None, :, k] * f[b, k] for k in range(m))  # [h, w, C]
        for i in range(m):
            outputs[b, i] = (layer.gamma * f[b, i] + (1 - layer.gamma) * complement) * available[b, i]
    return outputs


def test_matches_numpy_implementation_of_eq_1_2():
    features, available = features_and_mask()
    layer = build(ModalAttention(gamma=0.3, reduction=4), features, available)
    expected = numpy_reference(layer, features, available)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(features, available)), expected, atol=1e-5)


def test_gamma_one_returns_input():
    features, available = features_and_mask()
    out = keras.ops.convert_to_numpy(ModalAttention(gamma=1.0)(features, available))
    np.testing.assert_allclose(out, features * available[:, :, None, None, None], atol=1e-6)


def test_added_term_is_the_same_for_every_branch():
    features, available = features_and_mask()
    gamma = 0.4
    out = keras.ops.convert_to_numpy(ModalAttention(gamma=gamma)(features, available))
    added = out - gamma * features
    for b in range(2):
        present = np.flatnonzero(available[b])
        for i in present[1:]:
            np.testing.assert_allclose(added[b, i], added[b, present[0]], atol=1e-5)


def test_equal_branches_are_returned_also_with_a_missing_contrast():
    rng = np.random.default_rng(1)
    one = rng.normal(size=(2, 1, 4, 4, 8)).astype("float32")
    features = np.repeat(one, 4, axis=1)
    _, available = features_and_mask()
    features[0, 3] = 100.0  # a missing contrast's garbage must not matter
    out = keras.ops.convert_to_numpy(ModalAttention(gamma=0.2)(features, available))
    for b in range(2):
        for i in np.flatnonzero(available[b]):
            np.testing.assert_allclose(out[b, i], one[b, 0], atol=1e-5)


def test_attention_rows_sum_to_one_over_available_contrasts():
    features, available = features_and_mask()
    layer = build(ModalAttention(), features, available)
    weights = keras.ops.convert_to_numpy(layer.attention_weights(features, available))  # [B, C, M]
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    assert np.all(weights[0, :, 3] == 0) and np.all(weights[1, :, 1] == 0)


def test_missing_contrast_features_change_nothing():
    features, available = features_and_mask()
    layer = build(ModalAttention(gamma=0.5), features, available)
    changed = features.copy()
    changed[0, 3] = np.random.default_rng(5).normal(size=changed[0, 3].shape) * 50
    changed[1, 1] = -7.0
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(features, available)),
        keras.ops.convert_to_numpy(layer(changed, available)),
    )


def test_missing_branch_output_is_zero():
    features, available = features_and_mask()
    out = keras.ops.convert_to_numpy(ModalAttention(gamma=0.5)(features, available))
    assert np.all(out[0, 3] == 0) and np.all(out[1, 1] == 0)


def test_pooled_variant_is_size_free():
    layer = ModalAttention(pooled=True)
    small, available = features_and_mask(size=4)
    large, _ = features_and_mask(size=8)
    assert layer(small, available).shape == small.shape
    assert layer(large, available).shape == large.shape
    assert layer.w1.shape == (4, layer.pooled_units)


def test_dense_weight_shapes_follow_the_paper():
    features, available = features_and_mask(size=4)
    layer = build(ModalAttention(reduction=16), features, available)
    assert layer.w1.shape == (4 * 16, 4) and layer.w2.shape == (4, 4)


def test_config_round_trip():
    layer = ModalAttention(gamma=0.7, reduction=8, pooled=True, pooled_units=5, name="ma")
    clone = ModalAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs", [{"gamma": 1.5}, {"gamma": -0.1}, {"reduction": 0}, {"gama": 0.5}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises((ValueError, TypeError)):
        ModalAttention(**kwargs)
