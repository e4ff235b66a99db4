"""The through-plane measure (`magan_keras.evaluation.through_plane`) on hand-made volumes."""

import math

import numpy as np
import pytest

from magan_keras.evaluation import protocols, through_plane
from magan_keras.evaluation.results import METRICS


def smooth_volume(shape=(20, 22, 16), seed=0):
    """A smooth brain on the model scale (background -1) and its mask."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float64)
    centre = (np.array(shape) / 2.0)[:, None, None, None]
    brain = ((((grid - centre) / (0.45 * np.array(shape))[:, None, None, None]) ** 2).sum(0)) <= 1
    field = np.sin(grid[0] / 3.0) * np.cos(grid[1] / 4.0) * np.sin(grid[2] / 2.5 + 0.3)
    field += 0.05 * rng.standard_normal(shape)
    return np.where(brain, 0.5 * field, -1.0), brain


def test_the_truth_scores_one_in_every_orientation_and_roughness():
    truth, brain = smooth_volume()
    scores = through_plane.through_plane_metrics(truth, truth, brain)
    assert set(scores) == set(through_plane.THROUGH_PLANE_METRICS)
    for name in ("plane_ssim_axial", "plane_ssim_coronal", "plane_ssim_sagittal", "roughness_z", "roughness_inplane"):
        assert scores[name] == pytest.approx(1.0, abs=1e-9), name


def test_stripes_along_z_raise_roughness_and_lower_the_through_plane_ssims():
    truth, brain = smooth_volume()
    offsets = np.random.default_rng(1).uniform(-0.15, 0.15, truth.shape[2])  # one offset per axial slice
    striped = np.where(brain, truth + offsets[None, None, :], -1.0)
    scores = through_plane.through_plane_metrics(striped, truth, brain)
    assert scores["roughness_z"] > 1.5
    assert scores["roughness_inplane"] == pytest.approx(1.0, abs=0.05)  # each slice only shifted
    assert scores["plane_ssim_axial"] > scores["plane_ssim_coronal"]
    assert scores["plane_ssim_axial"] > scores["plane_ssim_sagittal"]


def test_a_smoothed_synthesis_scores_below_one():
    from scipy import ndimage

    truth, brain = smooth_volume()
    weights = ndimage.uniform_filter(brain.astype(float), 3)  # blur inside the brain only
    inside = ndimage.uniform_filter(np.where(brain, truth, 0.0), 3) / np.maximum(weights, 1e-9)
    blurred = np.where(brain, inside, -1.0)
    scores = through_plane.through_plane_metrics(blurred, truth, brain)
    assert scores["roughness_z"] < 1.0 and scores["roughness_inplane"] < 1.0


def test_plane_ssims_match_the_per_slice_protocols_map():
    truth, brain = smooth_volume()
    prediction = np.where(brain, truth + 0.05 * np.random.default_rng(2).standard_normal(truth.shape), -1.0)
    pred = np.where(brain, np.clip((prediction + 1) / 2, 0, 1), 0.0)
    true = np.where(brain, np.clip((truth + 1) / 2, 0, 1), 0.0)
    expected = protocols.ssim_map(pred, true, axes=(0, 2))[brain].mean()  # uncropped
    got = through_plane.through_plane_metrics(prediction, truth, brain)["plane_ssim_coronal"]
    assert got == pytest.approx(expected, abs=1e-12)


def test_undefined_roughness_is_nan_and_shapes_are_checked():
    brain = np.zeros((8, 8, 2), bool)  # two slices: no second difference along z
    brain[2:6, 2:6] = True
    volume = np.where(brain, 0.0, -1.0)
    assert math.isnan(through_plane.through_plane_metrics(volume, volume, brain)["roughness_z"])
    with pytest.raises(ValueError, match="shapes differ"):
        through_plane.through_plane_metrics(volume, volume[:, :, :1], brain)


def test_the_columns_are_in_the_results_table():
    assert set(through_plane.THROUGH_PLANE_METRICS) <= set(METRICS)


def test_evaluate_scores_a_multi_planar_synthesis(fake_split, channel_copy):
    from magan_keras.evaluation import evaluate

    # A copy of t1 is its own synthesis along every plane: fusing three planes changes nothing.
    axial = evaluate.evaluate_model(channel_copy(0), fake_split(), targets=["flair"])
    fused = evaluate.evaluate_model(channel_copy(0), fake_split(), targets=["flair"], planes="axial,coronal,sagittal")
    assert len(fused.rows) == len(axial.rows) == 3
    for ours, theirs in zip(fused.rows, axial.rows):
        for name in METRICS:
            assert ours[name] == pytest.approx(theirs[name], abs=1e-6, nan_ok=True), name
    assert any("coronal, sagittal slices, which the model never saw" in note for note in fused.notes)
    assert any("fused by their voxel-wise mean" in note for note in fused.notes)
    with pytest.raises(ValueError, match="unknown plane 'axail'"):
        evaluate.evaluate_model(channel_copy(0), fake_split(), planes="axail")


def test_z_anisotropy_is_one_for_an_isotropic_volume_and_low_for_thick_slices():
    rng = np.random.default_rng(3)
    brain = np.zeros((30, 30, 30), bool)
    brain[3:27, 3:27, 3:27] = True
    isotropic = rng.standard_normal(brain.shape)
    assert through_plane.z_anisotropy(isotropic, brain) == pytest.approx(1.0, abs=0.05)
    thick = np.repeat(isotropic[:, :, ::5], 5, axis=2)  # 5 mm slices on a 1 mm grid
    assert through_plane.z_anisotropy(thick, brain) < 0.5
    thick_along_x = np.transpose(thick, (2, 1, 0))  # smoother in-plane than along z
    assert through_plane.z_anisotropy(thick_along_x, brain) > 1.3
    assert math.isnan(through_plane.z_anisotropy(np.zeros(brain.shape), brain))
