"""`magan_keras.inference.synthesis`: whole subjects from NIfTI files, written like their inputs."""

import nibabel as nib
import numpy as np
import pytest

from magan_keras import MultiBranchGenerator
from magan_keras.inference import synthesis
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats import intensity, subjects
from tfds_brats.preprocessing import Preprocessing

# The fake subjects are 24 x 24 x 12; a copy generator at 32 px with a 32 px canvas pads them and
# resamples nothing, so its synthesis is exactly its input.
EXACT = Preprocessing(canvas_size=32)


def test_copy_generator_reproduces_its_input_in_the_files_orientation(subject, tmp_path, channel_copy):
    """Synthesis = the t2 input: the written flair must equal normalised t2, voxel for voxel."""
    files = {m: subject[m] for m in ("t1", "t1ce", "t2")}
    result = synthesis.synthesize_subject(channel_copy(2, preprocessing=EXACT), files, targets=["flair"])
    assert result.canvas_size == 32 and result.notes == () and result.preprocessing == EXACT
    (path,) = synthesis.write_outputs(result, tmp_path / "out")
    assert path.name == "s1_flair_synthetic.nii.gz"
    written, reference = nib.load(path), nib.load(subject["t1"])
    # Expected, computed in the stored (LPS) voxel order without any reorientation.
    stored = {m: np.asarray(nib.load(subject[m]).dataobj, np.float32) for m in files}
    mask = intensity.brain_mask(stored.values())
    t2, _, _ = intensity.normalise_volume(stored["t2"], mask)
    expected = np.where(mask, (t2 + 1) / 2, 0.0)
    np.testing.assert_allclose(np.asarray(written.dataobj), expected, atol=1e-6)
    assert nib.aff2axcodes(written.affine) == ("L", "P", "S")
    np.testing.assert_array_equal(written.affine, reference.affine)
    for field in ("dim", "pixdim", "qform_code", "sform_code", "xyzt_units", "srow_x", "quatern_b"):
        np.testing.assert_array_equal(written.header[field], reference.header[field])
    assert written.get_data_dtype() == np.float32
    assert written.header["cal_min"] == 0 and written.header["cal_max"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left


def test_the_models_percentiles_are_used(subject, channel_copy):
    files = {m: subject[m] for m in ("t1", "t1ce", "t2")}
    wide = Preprocessing(canvas_size=32, lower_percentile=0.0, upper_percentile=100.0)
    result = synthesis.synthesize_subject(channel_copy(2, preprocessing=wide), files, targets=["flair"])
    t2 = result.loaded.volumes["t2"][result.brain_mask]
    expected = (t2 - t2.min()) / (t2.max() - t2.min())
    np.testing.assert_allclose(result.outputs["flair"][result.brain_mask], expected, atol=1e-5)
    np.testing.assert_allclose(result.inputs["t2"][result.brain_mask], expected, atol=1e-5)


def test_a_model_trained_at_another_canvas_needs_no_flag(subject, tmp_path):
    """A generator saved with a 40 px canvas synthesises on 40 px, as `canvas_size=40` would."""
    generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": 40})
    generator.build_on_zeros()
    generator.save(tmp_path / "g.keras")
    files = {m: subject[m] for m in ("t1", "t2")}
    result = synthesis.synthesize_subject(tmp_path / "g.keras", files, targets=["flair"])
    assert result.canvas_size == 40 and result.notes == ()
    given = synthesis.synthesize_subject(generator, files, targets=["flair"], canvas_size=40)
    np.testing.assert_array_equal(result.outputs["flair"], given.outputs["flair"])
    other = synthesis.synthesize_subject(generator, files, targets=["flair"], canvas_size=256)
    assert not np.allclose(other.outputs["flair"], result.outputs["flair"])
    assert other.notes == ("canvas 256 px given, overriding the model's 40 px",)


def test_an_old_model_gets_the_old_defaults_and_a_note(subject, model_path):
    files = {m: subject[m] for m in ("t1", "t2")}
    result = synthesis.synthesize_subject(model_path, files, targets=["flair"])
    assert result.preprocessing.assumed and result.canvas_size == 256  # 24 px volume, 32 px model
    (note,) = result.notes
    assert "no preprocessing record" in note and "canvas 256 px" in note


def test_truth_of_a_hidden_target_is_returned_not_used(subject, channel_copy):
    files = {m: subject[m] for m in BRATS_MODALITIES}
    result = synthesis.synthesize_subject(channel_copy(3, preprocessing=EXACT), files, targets=["flair"])
    assert set(result.inputs) == {"t1", "t1ce", "t2"} and set(result.truths) == {"flair"}
    # The model never saw flair: channel 3 was zero-filled, so the copy is 0.0 -> 0.5 in the brain.
    assert np.allclose(result.outputs["flair"][result.brain_mask], 0.5)
    assert np.all(result.outputs["flair"][~result.brain_mask] == 0)
    assert result.truths["flair"][result.brain_mask].max() == pytest.approx(1.0, abs=1e-6)


def test_write_outputs_refuses_to_overwrite(subject, tmp_path, channel_copy):
    files = {m: subject[m] for m in ("t1", "t2")}
    result = synthesis.synthesize_subject(channel_copy(0, preprocessing=EXACT), files, targets=["flair"])
    (path,) = synthesis.write_outputs(result, tmp_path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="s1_flair_synthetic.nii.gz exists"):
        synthesis.write_outputs(result, tmp_path)
    assert path.read_bytes() == before
    assert synthesis.write_outputs(result, tmp_path, overwrite=True) == [path]


def _bad_files(subject, tmp_path, kind):
    files = {m: subject[m] for m in ("t1", "t1ce", "t2")}
    image = nib.load(subject["t2"])
    data = np.asarray(image.dataobj).astype(np.float32)
    bad = tmp_path / f"bad_{kind}.nii.gz"
    if kind == "nan":
        data[3, 3, 3] = np.nan
        nib.save(nib.Nifti1Image(data, image.affine), bad)
    elif kind == "shape":
        nib.save(nib.Nifti1Image(data[:, :, :-1], image.affine), bad)
    elif kind == "affine":
        shifted = image.affine.copy()
        shifted[:3, 3] += 2.0
        nib.save(nib.Nifti1Image(data, shifted), bad)
    elif kind == "zero":
        nib.save(nib.Nifti1Image(np.zeros_like(data), image.affine), bad)
    elif kind == "constant":
        nib.save(nib.Nifti1Image(np.where(data != 0, 5.0, 0.0).astype(np.float32), image.affine), bad)
    elif kind == "unreadable":
        bad.write_bytes(b"not a nifti file")
    elif kind == "missing":
        pass
    files["t2"] = bad
    return files, bad


@pytest.mark.parametrize(
    "kind, words",
    [
        ("nan", "NaN"),
        ("shape", "shape"),
        ("affine", "voxel grid"),
        ("zero", "all-zero"),
        ("constant", "constant"),
        ("unreadable", "cannot read"),
        ("missing", "no such file"),
    ],
)
def test_bad_files_stop_with_the_file_named(subject, tmp_path, kind, words, channel_copy):
    files, bad = _bad_files(subject, tmp_path, kind)
    with pytest.raises(subjects.SubjectError) as raised:
        synthesis.synthesize_subject(channel_copy(0), files, targets=["flair"], canvas_size=32)
    assert str(bad) in str(raised.value) and words in str(raised.value)


def test_plan_and_file_discovery(subject, tmp_path):
    files = {m: subject[m] for m in BRATS_MODALITIES}
    inputs, truths, targets = synthesis.plan(files, BRATS_MODALITIES, ("t1ce",))
    assert list(inputs) == ["t1", "t2", "flair"] and list(truths) == ["t1ce"] and targets == ("t1ce",)
    with pytest.raises(synthesis.InputError, match="nothing to synthesise"):
        synthesis.plan(files, BRATS_MODALITIES)
    with pytest.raises(synthesis.InputError, match="no input contrast left"):
        synthesis.plan({"t1": subject["t1"]}, BRATS_MODALITIES, ("t1",))
    subject_id, found = synthesis.find_subject_files(subject["t1"].parent)
    assert subject_id == "s1" and found == files
    with pytest.raises(synthesis.InputError, match="nowhere"):
        synthesis.find_subject_files(tmp_path / "nowhere")
    assert synthesis.subject_id_from_files({"t1": subject["t1"]}) == "s1"
