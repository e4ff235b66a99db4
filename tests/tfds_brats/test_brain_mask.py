"""Brain masks on real-looking scans: non-zero backgrounds, outliers, scales, dtypes; clean data unchanged."""

import nibabel as nib
import numpy as np
import pytest

from tfds_brats import intensity, subjects
from tfds_brats.brats.make_dummy_data import write_fake_subject


def _ellipsoid(shape=(40, 44, 24)):
    grid = np.indices(shape, dtype=np.float64)
    centre = np.array([s / 2 for s in shape])[:, None, None, None]
    radii = np.array([0.35 * s for s in shape])[:, None, None, None]
    return (((grid - centre) / radii) ** 2).sum(axis=0) <= 1.0


def _tcga_like(brain, scale=1.0, noise=3.0, seed=0):
    """Tissue of 200-800 inside the brain; outside, small negative and positive values (interpolation)."""
    rng = np.random.default_rng(seed)
    volume = rng.uniform(-noise, noise, brain.shape)
    volume[brain] = rng.uniform(200.0, 800.0, int(brain.sum()))
    return volume * scale


def test_tcga_like_background_gives_the_brain():
    brain = _ellipsoid()
    volumes = [_tcga_like(brain, seed=i) for i in range(4)]
    assert (np.stack(volumes) != 0).any(axis=0).all()  # the old rule (non-zero anywhere) took everything
    np.testing.assert_array_equal(intensity.brain_mask(volumes), brain)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0])
def test_dtypes_and_scanner_scales(dtype, scale):
    brain = _ellipsoid()
    volume = _tcga_like(brain, scale=scale)
    if dtype is np.int16:
        volume = np.clip(np.round(volume), -32768, 32767)  # int16 rounds the background to -3..3
    volume = volume.astype(dtype)
    mask = intensity.brain_mask([volume])
    assert mask.dtype == bool and mask.shape == brain.shape
    np.testing.assert_array_equal(mask, brain)


def test_intensity_outliers_and_a_hole_do_not_break_the_mask():
    brain = _ellipsoid()
    volume = _tcga_like(brain)
    centre = tuple(s // 2 for s in brain.shape)
    volume[centre] = 1e7  # one hot voxel: the robust scale ignores it
    volume[centre[0] + 2, centre[1], centre[2]] = 0.0  # a dark voxel inside the brain: filled
    volume[1, 1, 1] = 900.0  # a bright speck in the background: not the largest part, dropped
    np.testing.assert_array_equal(intensity.brain_mask([volume]), brain)


def test_exact_zero_background_keeps_the_nonzero_rule():
    """BraTS-style volumes (and the dummy data): exactly the voxels non-zero in any contrast, negative ones too."""
    brain = _ellipsoid()
    t1 = np.where(brain, 500.0, 0.0)
    t1[brain & (np.indices(brain.shape)[0] == 20)] = -12.0  # interpolation's negative values at the edge
    t2 = np.zeros_like(t1)
    t2[2, 2, 2] = 7.0  # a separate non-zero voxel stays (no cleaning on a clean background)
    expected = (t1 != 0) | (t2 != 0)
    np.testing.assert_array_equal(intensity.brain_mask([t1, t2]), expected)


def test_dummy_subjects_masks_are_unchanged(tmp_path):
    for i, naming in enumerate(("brats2018-2021", "brats2023")):
        paths = write_fake_subject(tmp_path / f"s{i}", f"s{i}", naming=naming)
        volumes, _, _ = subjects.load_subject({k: v for k, v in paths.items() if k != "seg"}, f"s{i}")
        union = np.logical_or.reduce([np.asarray(v) != 0 for v in volumes.values()])
        np.testing.assert_array_equal(intensity.brain_mask(volumes.values()), union)


@pytest.mark.parametrize("naming, enhancing", [("brats2018-2021", 4), ("brats2023", 3)])
def test_both_seg_label_conventions_read_as_1_2_4(tmp_path, naming, enhancing):
    paths = write_fake_subject(tmp_path / "s", "s", naming=naming)
    raw = np.unique(np.asarray(nib.load(paths["seg"]).dataobj))
    assert enhancing in raw
    _, seg, _ = subjects.load_subject(paths, "s")
    assert set(np.unique(seg).tolist()) <= {0, 1, 2, 4} and 4 in np.unique(seg)
