"""Tests of the phantom: shapes, determinism, and the physics of its four contrasts."""

import numpy as np
import pytest

from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats import phantom

SHAPE = (32, 32, 16)


def clean_subject(seed=0, **kwargs):
    """A subject without artefacts, so tissue means are the signal equations' values."""
    options = dict(
        tumour_probability=1.0,
        noise_level=0.0,
        bias_strength=0.0,
        partial_volume=0.0,
        texture=0.0,
        gain_range=(1.0, 1.0),
    )
    options.update(kwargs)
    return phantom.make_subject(seed, SHAPE, **options)


def tissue_means(subject, modality):
    volume = subject.volumes[modality]
    return {
        name: float(volume[subject.tissue == label].mean())
        for label, name in enumerate(phantom.TISSUES)
        if (subject.tissue == label).any()
    }


@pytest.fixture(scope="module")
def clean():
    return clean_subject(seed=6)


def test_modalities_match_the_model_side():
    assert phantom.MODALITIES == BRATS_MODALITIES


def test_tuple_seeds_are_deterministic_and_distinct():
    a, again, b = (phantom.make_subject(s, SHAPE) for s in ((3, 0), (3, 0), (3, 1)))
    np.testing.assert_array_equal(a.volumes["t2"], again.volumes["t2"])
    assert not np.array_equal(a.brain_mask, b.brain_mask)


def test_shapes_dtypes_and_keys():
    subject = phantom.make_subject(1, SHAPE)
    assert tuple(subject.volumes) == phantom.MODALITIES
    for volume in subject.volumes.values():
        assert volume.shape == SHAPE and volume.dtype == np.float32
    assert subject.seg.shape == SHAPE and subject.seg.dtype == np.uint8
    assert subject.brain_mask.shape == SHAPE and subject.brain_mask.dtype == np.bool_
    assert set(np.unique(subject.seg)) <= {0, 1, 2, 4}


def test_background_is_exactly_zero_and_brain_positive():
    subject = phantom.make_subject(2, SHAPE)
    assert 0.2 < subject.brain_mask.mean() < 0.8
    for volume in subject.volumes.values():
        assert np.all(volume[~subject.brain_mask] == 0.0)
        assert np.all(volume[subject.brain_mask] > 0.0)


def test_same_seed_same_subject_other_seed_other_subject():
    first, again, other = (phantom.make_subject(s, SHAPE) for s in (7, 7, 8))
    for name in phantom.MODALITIES:
        np.testing.assert_array_equal(first.volumes[name], again.volumes[name])
    np.testing.assert_array_equal(first.seg, again.seg)
    assert not np.array_equal(first.brain_mask, other.brain_mask)
    assert not np.allclose(first.volumes["t1"], other.volumes["t1"])


def test_all_tissues_present_with_a_tumour(clean):
    present = set(np.unique(clean.tissue))
    assert present == set(range(len(phantom.TISSUES)))
    np.testing.assert_array_equal(clean.seg, phantom.seg_from_tissue(clean.tissue))


def test_tumour_probability_switches_the_tumour():
    assert not clean_subject(3, tumour_probability=0.0).seg.any()
    for seed in range(3):
        assert (clean_subject(seed).seg == 4).any()


def test_t1_white_over_grey_over_csf(clean):
    means = tissue_means(clean, "t1")
    assert means["white_matter"] > means["grey_matter"] > means["csf"]


def test_t2_csf_over_grey_over_white(clean):
    means = tissue_means(clean, "t2")
    assert means["csf"] > means["grey_matter"] > means["white_matter"]


def test_flair_nulls_csf_and_edema_is_brightest(clean):
    means = tissue_means(clean, "flair")
    assert means["csf"] < 0.5 * min(means["white_matter"], means["grey_matter"])
    assert means["edema"] > max(means["white_matter"], means["grey_matter"], means["necrosis"])


def test_flair_csf_is_the_darkest_tissue_at_the_extremes_of_variation():
    for t1_scale in (0.9, 1.1):  # The 2-sigma limits of the default 5 % variation.
        table = dict(phantom.vary_relaxation(np.random.default_rng(0), 0.0))
        t1, t2, pd = table["csf"]
        table["csf"] = (t1 * t1_scale, t2, pd)
        signals = phantom.tissue_signals(table, phantom.SEQUENCES["flair"])
        assert signals[phantom.CSF] < 0.5 * signals[phantom.WHITE_MATTER]
        assert signals[phantom.CSF] == min(signals[1:])


def test_gadolinium_brightens_the_enhancing_tumour(clean):
    t1, t1ce = tissue_means(clean, "t1"), tissue_means(clean, "t1ce")
    ratio_before = t1["enhancing"] / t1["white_matter"]
    ratio_after = t1ce["enhancing"] / t1ce["white_matter"]
    assert ratio_after > 1.5 * ratio_before
    # Gadolinium changes nothing else.
    assert t1ce["edema"] == pytest.approx(t1["edema"])


def test_physics_holds_with_all_artefacts_on():
    subject = phantom.make_subject(5, SHAPE, tumour_probability=1.0)
    t1, t2, flair = (tissue_means(subject, m) for m in ("t1", "t2", "flair"))
    assert t1["white_matter"] > t1["grey_matter"] > t1["csf"]
    assert t2["csf"] > t2["white_matter"]
    assert flair["edema"] > flair["white_matter"] > flair["csf"]


def test_signal_equations_against_hand_values():
    wm = phantom.RELAXATION["white_matter"]
    expected = 0.69 * (1 - np.exp(-500 / 1080)) * np.exp(-10 / 70)
    assert float(phantom.sequence_signal(phantom.SEQUENCES["t1"], *wm)) == pytest.approx(expected)
    csf = phantom.RELAXATION["csf"]
    assert float(phantom.sequence_signal(phantom.SEQUENCES["flair"], *csf)) < 2e-3
    # The magnitude: far below the null the signal is positive, not negative.
    assert phantom.inversion_recovery_signal(4000.0, 2000.0, 1.0, tr=9000.0, te=120.0, ti=100.0) > 0.5


def test_parameters_vary_per_subject():
    a, b = (phantom.vary_relaxation(np.random.default_rng(s), 0.05) for s in (0, 1))
    assert a["white_matter"] != b["white_matter"]
    assert a["enhancing_gadolinium"][0] < 0.5 * a["enhancing"][0]


def test_partial_volume_softens_edges():
    binary = clean_subject(4)
    softened = clean_subject(4, partial_volume=0.8)
    assert len(np.unique(binary.volumes["t1"])) <= len(phantom.TISSUES)
    assert len(np.unique(softened.volumes["t1"])) > 100


def test_rician_noise_has_the_requested_level():
    clean = clean_subject(6)
    noisy = clean_subject(6, noise_level=0.05)
    brain = clean.brain_mask
    residual = noisy.volumes["t1"][brain] - clean.volumes["t1"][brain]
    sigma = 0.05 * clean.volumes["t1"][brain].mean()
    assert residual.std() == pytest.approx(sigma, rel=0.15)
    # Rician: magnitudes are never negative, and the bias in bright tissue is small.
    assert noisy.volumes["t1"].min() >= 0.0
    assert abs(residual.mean()) < 0.2 * sigma


def test_bias_field_and_gain_change_intensities_smoothly():
    flat = clean_subject(8)
    biased = clean_subject(8, bias_strength=0.3)
    wm = flat.tissue == phantom.WHITE_MATTER
    ratio = biased.volumes["t2"][wm] / flat.volumes["t2"][wm]
    assert ratio.std() > 0.02
    assert 0.3 < ratio.min() and ratio.max() < 3.0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(seed=-1), "seed"),
        (dict(seed=(1, -2)), "seed"),
        (dict(seed=1.5), "seed"),
        (dict(seed=0, shape=(32, 32)), "shape"),
        (dict(seed=0, shape=(4, 32, 32)), "shape"),
        (dict(seed=0, tumour_probability=1.5), "tumour_probability"),
        (dict(seed=0, noise_level=-0.1), "noise_level"),
        (dict(seed=0, gain_range=(0.0, 1.0)), "gain_range"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        phantom.make_subject(**kwargs)


def test_render_slice_writes_a_png(tmp_path):
    subject = phantom.make_subject(0, SHAPE)
    path = phantom.render_slice(subject, tmp_path / "middle.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="slice_index"):
        phantom.render_slice(subject, tmp_path / "bad.png", slice_index=SHAPE[2])
