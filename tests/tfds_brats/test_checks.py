"""Input checks (`tfds_brats.checks`): swapped contrasts, mis-registration, skull, geometry warnings."""

import nibabel as nib
import numpy as np
import pytest

from tfds_brats import checks, phantom
from tfds_brats.brats.make_dummy_data import fake_canonical_subject

SEEDS = (1, 3, 4, 11, 12)  # phantom subjects with a clear enhancing rim (the t1/t1ce evidence)


def subject(seed):
    return phantom.make_subject(seed, tumour_probability=1.0).volumes


def errors(volumes, **kwargs):
    return checks.check_volumes(volumes, subject_id="p", **kwargs).errors


@pytest.mark.parametrize("seed", SEEDS)
def test_phantom_as_named_passes(seed):
    assert errors(subject(seed), affine=np.eye(4), canvas_size=64) == ()


@pytest.mark.parametrize("pair", [("t1", "t2"), ("t2", "flair"), ("t1", "t1ce")])
@pytest.mark.parametrize("seed", SEEDS)
def test_swapped_pair_is_caught_naming_both_files(seed, pair):
    volumes = subject(seed)
    a, b = pair
    swapped = dict(volumes, **{a: volumes[b], b: volumes[a]})
    paths = {m: f"/data/p_{m}.nii.gz" for m in volumes}
    found = errors(swapped, paths=paths)
    assert [f.check for f in found] == ["contrast"]
    assert f"{a} and {b} look swapped" in found[0].message
    assert paths[a] in found[0].message and paths[b] in found[0].message
    assert found[0].value < found[0].threshold


def test_scores_flip_sign_with_the_swap():
    volumes = subject(1)
    scores = checks.pair_evidence(volumes)
    swapped = checks.pair_evidence(dict(volumes, t2=volumes["flair"], flair=volumes["t2"]))
    assert scores[("t2", "flair")] > 0.5 and swapped[("t2", "flair")] < -0.5


def test_shifted_by_10_voxels_is_caught():
    volumes = subject(3)
    shifted = dict(volumes, t2=np.roll(volumes["t2"], 10, axis=1))
    found = errors(shifted)
    registration = [f for f in found if f.check == "registration"]
    assert registration and "t2 is not co-registered" in registration[0].message
    assert registration[0].value < checks.MIN_MASK_DICE


def test_dummy_data_passes():
    for seed in range(3):
        volumes, _ = fake_canonical_subject(seed)
        assert errors({k: v.astype(np.float32) for k, v in volumes.items()}, affine=np.eye(4)) == ()


def with_skull(volume, brain):
    """The brain inside a dark skull gap (3 voxels) inside a bright scalp (3 voxels)."""
    from scipy import ndimage

    head = ndimage.binary_dilation(brain, iterations=6)
    skull = ndimage.binary_dilation(brain, iterations=3)
    out = volume.copy()
    out[head & ~skull] = np.percentile(volume[brain], 90)
    return out


def test_a_head_with_skull_is_caught():
    made = phantom.make_subject(5, shape=(72, 72, 24))
    volumes = {m: with_skull(v, made.brain_mask) for m, v in made.volumes.items()}
    found = errors(volumes)
    assert [f.check for f in found] == ["skull"]
    assert found[0].value > checks.MAX_ENCLOSED_GAP


def test_spacing_canvas_and_orientation_are_warnings():
    volumes = subject(4)
    header = nib.Nifti1Header()
    header.set_qform(None, code=0)
    header.set_sform(None, code=0)
    report = checks.check_volumes(volumes, affine=np.diag([3.0, 3.0, 3.0, 1.0]), header=header, canvas_size=256)
    assert report.errors == ()
    assert sorted(f.check for f in report.warnings) == ["canvas", "orientation", "spacing"]


def test_raise_for_errors_names_the_option():
    volumes = subject(1)
    report = checks.check_volumes(dict(volumes, t1=volumes["t2"], t2=volumes["t1"]), subject_id="p1")
    with pytest.raises(checks.InputCheckError, match="--no-input-checks"):
        report.raise_for_errors()


def test_prepare_validation_rejects_a_swapped_subject_unless_told(tmp_path):
    from tfds_brats import subjects, validation

    volumes = subject(3)
    folder = tmp_path / "brats" / "p3"
    folder.mkdir(parents=True)
    swap = {"t1": "t2", "t2": "t1"}
    for name in volumes:
        nib.save(nib.Nifti1Image(volumes[swap.get(name, name)], np.eye(4)), folder / f"p3_{name}.nii.gz")
    found = subjects.find_subjects(tmp_path / "brats")
    passed, rejected = validation.validate_subjects(found, layout="volumes", min_brain_fraction=0.0)
    assert passed == [] and "t1 and t2 look swapped" in rejected[0].reason and "p3_t1.nii.gz" in rejected[0].reason
    passed, rejected = validation.validate_subjects(found, layout="volumes", min_brain_fraction=0.0, input_checks=False)
    assert [r.subject_id for r in passed] == ["p3"] and rejected == []


def test_evaluate_folder_subjects_stop_on_a_shifted_contrast(tmp_path):
    from magan_keras.evaluation.subjects import subjects_from_folder

    volumes = subject(4)
    folder = tmp_path / "brats" / "p4"
    folder.mkdir(parents=True)
    for name, volume in volumes.items():
        volume = np.roll(volume, 10, axis=0) if name == "flair" else volume
        nib.save(nib.Nifti1Image(volume, np.eye(4)), folder / f"p4_{name}.nii.gz")
    with pytest.raises(checks.InputCheckError, match="p4_flair.nii.gz is not co-registered"):
        list(subjects_from_folder(tmp_path / "brats"))
    assert [s.subject_id for s in subjects_from_folder(tmp_path / "brats", input_checks=False)] == ["p4"]
