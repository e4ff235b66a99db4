"""`magan_keras.inference.volumes`: the shared reader's view, normalisation, canvas, atomic writes."""

import os

import nibabel as nib
import numpy as np
import pytest

from magan_keras.inference import volumes as volume_io
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats import examples, subjects
from tfds_brats.constants import BRATS_CANVAS_SIZE
from tfds_brats.preprocessing import Preprocessing


def test_canvas_default_is_the_brats_builders():
    from tfds_brats.configs import BratsConfig

    assert BratsConfig(name="probe").canvas_size == BRATS_CANVAS_SIZE
    assert volume_io.resolve_canvas_size(None, (240, 240), 128) == BRATS_CANVAS_SIZE


def test_load_volumes_accepts_any_subset_and_is_the_builders_reader(subject):
    loaded = volume_io.load_volumes({"t2": subject["t2"], "t1": subject["t1"]}, "s1")
    full, _, geometry = subjects.load_subject({m: subject[m] for m in BRATS_MODALITIES}, "s1")
    assert list(loaded.volumes) == ["t2", "t1"]  # order kept: the first is the reference
    np.testing.assert_array_equal(loaded.volumes["t2"], full["t2"])
    np.testing.assert_array_equal(loaded.volumes["t1"], full["t1"])
    np.testing.assert_allclose(loaded.affine, geometry.affine)
    assert loaded.reference_path == subject["t2"] and loaded.paths["t1"] == subject["t1"]
    assert nib.aff2axcodes(loaded.reference.affine) == ("L", "P", "S")


def test_load_volumes_names_a_missing_file(subject, tmp_path):
    missing = tmp_path / "nope_t1.nii.gz"
    with pytest.raises(subjects.SubjectError, match="no such file .given for 't1'") as raised:
        volume_io.load_volumes({"t2": subject["t2"], "t1": missing}, "s1")
    assert str(missing) in str(raised.value)
    with pytest.raises(ValueError, match="no contrast"):
        volume_io.load_volumes({})


def test_normalisation_is_the_builders(subject):
    loaded = volume_io.load_volumes({m: subject[m] for m in BRATS_MODALITIES}, "s1")
    mask = volume_io.brain_mask_of(loaded.volumes)
    images, available = volume_io.normalise_inputs(loaded, BRATS_MODALITIES, mask)
    expected, _, _ = examples.normalise_subject(loaded.volumes, mask)
    np.testing.assert_array_equal(images, expected)
    assert available.tolist() == [1, 1, 1, 1]


def test_normalisation_uses_the_given_percentiles(subject):
    loaded = volume_io.load_volumes({"t1": subject["t1"]}, "s1")
    mask = volume_io.brain_mask_of(loaded.volumes)
    default, _ = volume_io.normalise_inputs(loaded, BRATS_MODALITIES, mask)
    wide, _ = volume_io.normalise_inputs(loaded, BRATS_MODALITIES, mask, lower_percentile=0.0, upper_percentile=100.0)
    t1 = loaded.volumes["t1"][mask]
    expected = (t1 - t1.min()) / (t1.max() - t1.min()) * 2 - 1
    np.testing.assert_allclose(wide[..., 0][mask], expected, atol=1e-5)
    assert not np.array_equal(wide, default)


def test_a_contrast_the_model_lacks_is_named(subject):
    loaded = volume_io.load_volumes({"flair": subject["flair"]}, "s1")
    mask = volume_io.brain_mask_of(loaded.volumes)
    with pytest.raises(subjects.SubjectError, match="no input for 'flair'") as raised:
        volume_io.normalise_inputs(loaded, ("t1", "t2"), mask)
    assert str(subject["flair"]) in str(raised.value)


@pytest.mark.parametrize(
    "canvas, shape, size, record, expected",
    [
        (None, (240, 240), 128, None, 256),  # old model, BraTS volume
        (None, (64, 64), 64, None, 64),  # old model, phantom volume
        (None, (64, 64), 64, Preprocessing.from_config(None), 64),  # an assumed record: the old rule
        (None, (64, 64), 64, Preprocessing(canvas_size=96), 96),  # the model's record wins
        (None, (240, 240), 128, Preprocessing(canvas_size=200), 200),
        ("auto", (240, 240), 128, Preprocessing(canvas_size=200), 200),
        (48, (240, 240), 128, Preprocessing(canvas_size=200), 48),  # an explicit override wins
    ],
)
def test_resolve_canvas_size(canvas, shape, size, record, expected):
    assert volume_io.resolve_canvas_size(canvas, shape, size, record) == expected


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_resolve_canvas_size_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="canvas_size"):
        volume_io.resolve_canvas_size(bad, (64, 64), 64)


@pytest.mark.parametrize("name", ["out.nii.gz", "out.nii"])
def test_save_like_is_atomic_and_keeps_the_format(subject, tmp_path, monkeypatch, name):
    loaded = volume_io.load_volumes({"t1": subject["t1"]}, "s1")
    canonical = loaded.volumes["t1"] / 1000.0
    out = tmp_path / "out" / name
    seen = []
    real_save = nib.save

    def spy(image, path):
        seen.append(os.fspath(path))
        real_save(image, path)

    monkeypatch.setattr(nib, "save", spy)
    assert volume_io.save_like(canonical, loaded.reference, out, cal_range=(0, 1)) == out
    (temporary,) = seen
    assert os.path.basename(temporary).startswith(f".{name}.") and temporary.endswith(".tmp" + name[3:])
    assert sorted(os.listdir(out.parent)) == [name]  # renamed into place, nothing left over
    written = nib.load(out)
    stored = np.asarray(nib.load(subject["t1"]).dataobj, np.float32) / 1000.0
    np.testing.assert_allclose(np.asarray(written.dataobj), stored, rtol=1e-6)
    assert written.get_data_dtype() == np.float32


def test_save_like_leaves_the_old_file_when_the_write_fails(subject, tmp_path, monkeypatch):
    loaded = volume_io.load_volumes({"t1": subject["t1"]}, "s1")
    out = tmp_path / "out" / "s1_flair_synthetic.nii.gz"
    out.parent.mkdir()
    out.write_bytes(b"previous")

    def broken(image, path):
        with open(path, "wb") as handle:
            handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(nib, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        volume_io.save_like(loaded.volumes["t1"], loaded.reference, out)
    assert out.read_bytes() == b"previous" and os.listdir(out.parent) == [out.name]
