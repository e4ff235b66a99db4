"""`python -m magan_keras.synthesize` on tiny NIfTI subjects written on the fly."""

import keras
import nibabel as nib
import numpy as np
import pytest

from magan_keras import MAGAN, MultiBranchGenerator
from magan_keras.inference import generator as inference
from magan_keras.inference import synthesis as synthesize

from magan_keras.inference import volumes as volume_io

from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats import examples, intensity, subjects
from tfds_brats.brats.make_dummy_data import write_fake_subject

SIZE = 32  # model size; the fake subjects are 24 x 24 x 12


class ChannelCopy(keras.Model):
    """A stand-in generator whose synthesis is one input channel: makes alignment checkable."""

    def __init__(self, channel, image_size=SIZE, modalities=BRATS_MODALITIES, **kwargs):
        super().__init__(**kwargs)
        self.channel, self.image_size, self.modalities = channel, image_size, tuple(modalities)

    def call(self, inputs):
        return inputs["images"][..., self.channel : self.channel + 1]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    MAGAN(image_size=SIZE, base_filters=4, res_blocks=1).save(path)
    return path


@pytest.fixture(scope="module")
def other_contrasts_model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("other") / "t1_t2_pd.keras"
    generator = MultiBranchGenerator(("t1", "t2", "pd"), image_size=SIZE, base_filters=4, res_blocks=1)
    generator.build_on_zeros()
    generator.save(path)
    return path


@pytest.fixture
def subject(tmp_path):
    """A fake BraTS 2018-style subject stored LPS (not canonical), with seg."""
    return write_fake_subject(tmp_path / "in" / "s1", "s1", axcodes=("L", "P", "S"), seed=3)


def run(argv, capsys):
    code = synthesize.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_canvas_default_is_the_brats_builders():
    from tfds_brats.configs import BratsConfig

    assert volume_io.BRATS_CANVAS_SIZE == BratsConfig(name="probe").canvas_size


@pytest.mark.parametrize("canvas_size", [32, 24, 16])
def test_model_slices_invert_exactly_where_nothing_is_resampled(canvas_size):
    rng = np.random.default_rng(0)
    mask = np.zeros((24, 20, 5), bool)
    mask[3:21, 2:18, 1:4] = True
    images = np.where(mask[..., None], rng.uniform(-1, 1, mask.shape + (2,)), -1.0).astype(np.float32)
    slices, slice_masks, kept = volume_io.to_model_slices(
        images, mask, image_size=canvas_size, canvas_size=canvas_size
    )
    assert list(kept) == [1, 2, 3] and slices.shape == (3, canvas_size, canvas_size, 2)
    back = volume_io.from_model_slices(slices[..., 1], kept, mask.shape, canvas_size=canvas_size)
    inside = np.zeros(mask.shape, bool)  # what survives a centre crop to the canvas
    x0, y0 = max((24 - canvas_size) // 2, 0), max((20 - canvas_size) // 2, 0)
    inside[x0 : x0 + canvas_size, y0 : y0 + canvas_size] = True
    np.testing.assert_array_equal(back[inside], images[..., 1][inside])
    assert np.all(back[~inside] == -1.0)  # cropped away or slices without brain: background


def test_model_slices_resized_come_back_aligned():
    """Pad 24 -> 32, resize 32 -> 16 and back: an off-centre blob returns where it was."""
    x, y = np.meshgrid(np.arange(24), np.arange(24), indexing="ij")
    blob = (1.6 * np.exp(-((x - 9.0) ** 2 + (y - 14.0) ** 2) / (2 * 3.0**2)) - 0.8).astype(np.float32)
    images = np.repeat(blob[:, :, None, None], 3, axis=2)
    mask = np.ones((24, 24, 3), bool)
    slices, _, kept = volume_io.to_model_slices(images, mask, image_size=16, canvas_size=32)
    back = volume_io.from_model_slices(slices[..., 0], kept, mask.shape, canvas_size=32)
    centre = (slice(3, 21), slice(3, 21), slice(None))

    def error(dx, dy):
        shifted = np.roll(back, (dx, dy), axis=(0, 1))
        return np.abs(shifted[centre] - images[..., 0][centre]).mean()

    errors = {(dx, dy): error(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    assert min(errors, key=errors.get) == (0, 0)
    assert errors[(0, 0)] < 0.05


def test_copy_generator_reproduces_its_input_in_the_files_orientation(subject, tmp_path):
    """Synthesis = the t2 input: the written flair must equal normalised t2, voxel for voxel."""
    files = {m: subject[m] for m in ("t1", "t1ce", "t2")}
    result = synthesize.synthesize_subject(ChannelCopy(2), files, targets=["flair"], canvas_size=32)
    (path,) = synthesize.write_outputs(result, tmp_path / "out")
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


def test_truth_of_a_hidden_target_is_returned_not_used(subject):
    files = {m: subject[m] for m in BRATS_MODALITIES}
    result = synthesize.synthesize_subject(ChannelCopy(3), files, targets=["flair"], canvas_size=32)
    assert set(result.inputs) == {"t1", "t1ce", "t2"} and set(result.truths) == {"flair"}
    # The model never saw flair: channel 3 was zero-filled, so the copy is 0.0 -> 0.5 in the brain.
    assert np.allclose(result.outputs["flair"][result.brain_mask], 0.5)
    assert np.all(result.outputs["flair"][~result.brain_mask] == 0)


def test_command_line_with_subject_dir_2023_naming(model_path, tmp_path, capsys):
    files = write_fake_subject(tmp_path / "BraTS-GLI-00009-000", "BraTS-GLI-00009-000",
                               naming="brats2023", axcodes=("L", "P", "S"), with_seg=True)
    for name in ("t1ce", "flair"):
        files[name].unlink()
    out = tmp_path / "out"
    code, text = run(["--model", model_path, "--subject-dir", files["t1"].parent, "--out-dir", out,
                      "--figure", "--canvas-size", 32, "--quiet"], capsys)
    assert code == 0, text
    reference = nib.load(files["t1"])
    for name in ("t1ce", "flair"):
        image = nib.load(out / f"BraTS-GLI-00009-000_{name}_synthetic.nii.gz")
        data = np.asarray(image.dataobj)
        assert data.shape == reference.shape and data.dtype == np.float32
        np.testing.assert_array_equal(image.affine, reference.affine)
        stored_mask = (np.asarray(reference.dataobj) != 0) | (np.asarray(nib.load(files["t2"]).dataobj) != 0)
        assert np.all(data[~stored_mask] == 0) and 0 <= data.min() and data.max() <= 1
        assert np.ptp(data[stored_mask]) > 0
    assert (out / "BraTS-GLI-00009-000_synthesis.png").stat().st_size > 1000
    # A second run refuses to overwrite and names the file; --overwrite replaces it.
    code, text = run(["--model", model_path, "--subject-dir", files["t1"].parent, "--out-dir", out,
                      "--canvas-size", 32, "--quiet"], capsys)
    assert code == 2 and "BraTS-GLI-00009-000_t1ce_synthetic.nii.gz exists" in text
    code, text = run(["--model", model_path, "--subject-dir", files["t1"].parent, "--out-dir", out,
                      "--canvas-size", 32, "--quiet", "--overwrite"], capsys)
    assert code == 0, text


def test_command_line_with_files_and_target(model_path, subject, tmp_path, capsys):
    out = tmp_path / "out"
    figure = tmp_path / "fig" / "f.png"
    code, text = run(["--model", model_path, "--t1", subject["t1"], "--t2", subject["t2"],
                      "--flair", subject["flair"], "--target", "flair,t1ce", "--out-dir", out,
                      "--figure", figure, "--quiet"], capsys)
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == ["s1_flair_synthetic.nii.gz", "s1_t1ce_synthetic.nii.gz"]
    assert figure.stat().st_size > 1000
    assert "s per volume" in text


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
    files["t2"] = bad
    return files, bad


@pytest.mark.parametrize("kind, words", [
    ("nan", "NaN"), ("shape", "shape"), ("affine", "voxel grid"), ("zero", "all zero"),
    ("constant", "constant"), ("unreadable", "cannot read"),
])
def test_bad_files_stop_with_the_file_named(subject, tmp_path, kind, words):
    files, bad = _bad_files(subject, tmp_path, kind)
    with pytest.raises(subjects.SubjectError) as raised:
        synthesize.synthesize_subject(ChannelCopy(0), files, targets=["flair"], canvas_size=32)
    assert str(bad) in str(raised.value) and words in str(raised.value)


def test_bad_file_on_the_command_line(model_path, subject, tmp_path, capsys):
    files, bad = _bad_files(subject, tmp_path, "nan")
    code, text = run(["--model", model_path, "--t1", files["t1"], "--t2", bad, "--out-dir", tmp_path / "o",
                      "--quiet"], capsys)
    assert code == 2 and str(bad) in text and "NaN" in text
    assert not (tmp_path / "o").exists()


def test_bad_arguments_are_named(model_path, other_contrasts_model_path, subject, tmp_path, capsys):
    out = tmp_path / "out"
    code, text = run(["--model", model_path, "--t1", subject["t1"], "--target", "pd", "--out-dir", out], capsys)
    assert code == 2 and "unknown contrast 'pd'" in text
    code, text = run(["--model", model_path, "--out-dir", out], capsys)
    assert code == 2 and "no contrasts given" in text
    code, text = run(["--model", model_path, "--t1", subject["t1"], "--subject-dir", subject["t1"].parent,
                      "--out-dir", out], capsys)
    assert code == 2 and "not both" in text
    code, text = run(["--model", other_contrasts_model_path, "--t1", subject["t1"], "--flair",
                      subject["flair"], "--out-dir", out], capsys)
    assert code == 2 and str(subject["flair"]) in text and "trained on contrasts t1, t2, pd" in text
    code, text = run(["--model", other_contrasts_model_path, "--t1", subject["t1"], "--target", "t1ce",
                      "--out-dir", out], capsys)
    assert code == 2 and str(other_contrasts_model_path) in text and "cannot synthesise 't1ce'" in text
    not_a_model = tmp_path / "model.keras"
    not_a_model.write_bytes(b"junk")
    code, text = run(["--model", not_a_model, "--t1", subject["t1"], "--out-dir", out], capsys)
    assert code == 2 and str(not_a_model) in text
    code, text = run(["--model", model_path, "--subject-dir", tmp_path / "nowhere", "--out-dir", out], capsys)
    assert code == 2 and "nowhere" in text
    code, text = run(["--model", model_path, "--subject-dir", subject["t1"].parent, "--out-dir", out], capsys)
    assert code == 2 and "nothing to synthesise" in text
    assert not out.exists()


def test_load_volumes_accepts_any_subset_and_matches_the_builders_reader(subject):
    loaded = volume_io.load_volumes({"t2": subject["t2"]}, "s1")
    full, _, geometry = subjects.load_subject({m: subject[m] for m in BRATS_MODALITIES}, "s1")
    np.testing.assert_array_equal(loaded.volumes["t2"], full["t2"])
    np.testing.assert_allclose(loaded.affine, geometry.affine)


def test_normalisation_is_the_builders(subject):
    loaded = volume_io.load_volumes({m: subject[m] for m in BRATS_MODALITIES}, "s1")
    mask = volume_io.brain_mask_of(loaded.volumes)
    images, available = volume_io.normalise_inputs(loaded, BRATS_MODALITIES, mask)
    expected, _, _ = examples.normalise_subject(loaded.volumes, mask)
    np.testing.assert_array_equal(images, expected)
    assert available.tolist() == [1, 1, 1, 1]


def test_predict_slices_pads_the_last_batch_and_rejects_an_available_target():
    slices = np.random.default_rng(1).uniform(-1, 1, (5, SIZE, SIZE, 4)).astype(np.float32)
    copy = ChannelCopy(1)
    out = inference.predict_slices(copy, slices, [1, 1, 1, 0], "flair", batch_size=2)
    np.testing.assert_allclose(out, slices[..., 1])
    with pytest.raises(ValueError, match="cannot also be an input"):
        inference.predict_slices(copy, slices, [1, 1, 1, 1], "flair")
