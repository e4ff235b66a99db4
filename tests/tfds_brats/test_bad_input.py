"""Bad BraTS input: every case names the subject and the file; nothing is written."""

import gzip

import nibabel as nib
import numpy as np
import pytest

from tfds_brats import subjects, validation
from tfds_brats.prepare import prepare, summary
from tfds_brats.splits import assign_splits

BAD_ID = "BraTS2021_00666"


def _write(path, data, affine=None):
    nib.save(nib.Nifti1Image(np.asarray(data), np.eye(4) if affine is None else affine), str(path))


def _missing(paths):
    paths["flair"].unlink()
    return "BraTS2021_00666_flair", "missing contrast 'flair'"


def _shape(paths):
    _write(paths["t2"], np.ones((20, 24, 12), np.int16))
    return paths["t2"].name, "shape mismatch"


def _affine(paths):
    data = np.asanyarray(nib.load(paths["t2"]).dataobj)
    _write(paths["t2"], data, np.diag([1.0, 1.0, 2.0, 1.0]))
    return paths["t2"].name, "affine mismatch"


def _truncated(paths):
    raw = paths["t1ce"].read_bytes()
    paths["t1ce"].write_bytes(raw[: len(raw) // 2])
    return paths["t1ce"].name, "cannot read"


def _not_nifti(paths):
    paths["t1"].write_bytes(gzip.compress(b"not an image at all"))
    return paths["t1"].name, "cannot read"


def _nan(paths):
    data = np.asanyarray(nib.load(paths["t1"]).dataobj).astype(np.float32)
    data[3, 4, 5] = np.nan
    _write(paths["t1"], data)
    return paths["t1"].name, "NaN or infinite"


def _inf(paths):
    data = np.asanyarray(nib.load(paths["flair"]).dataobj).astype(np.float32)
    data[1, 1, 1] = np.inf
    _write(paths["flair"], data)
    return paths["flair"].name, "NaN or infinite"


def _all_zero(paths):
    _write(paths["t2"], np.zeros((24, 24, 12), np.int16))
    return paths["t2"].name, "all-zero volume"


def _constant(paths):
    data = np.asanyarray(nib.load(paths["t1"]).dataobj)
    _write(paths["t1ce"], np.where(data != 0, 500, 0).astype(np.int16))
    return paths["t1ce"].name, "constant"


def _four_d(paths):
    _write(paths["t2"], np.ones((24, 24, 12, 2), np.int16))
    return paths["t2"].name, "expected a 3-D volume"


def _bad_labels(paths):
    seg = np.asanyarray(nib.load(paths["seg"]).dataobj).copy()
    seg[seg == 2] = 7
    _write(paths["seg"], seg)
    return paths["seg"].name, "unexpected segmentation labels [7]"


def _duplicate_file(paths):
    data = np.asanyarray(nib.load(paths["t1"]).dataobj)
    _write(paths["t1"].with_name(f"{BAD_ID}_t1.nii"), data)
    return f"{BAD_ID}_t1.nii", "several files for 't1'"


def _no_brain_slice(paths):
    for role in ("t1", "t1ce", "t2", "flair"):
        data = np.zeros((24, 24, 12), np.int16)
        data[12, 12, :] = 100 + np.arange(12)  # one voxel per slice: < 5 %
        _write(paths[role], data)
    return BAD_ID, "no axial slice has at least 5% brain"


CASES = [
    _missing,
    _shape,
    _affine,
    _truncated,
    _not_nifti,
    _nan,
    _inf,
    _all_zero,
    _constant,
    _four_d,
    _bad_labels,
    _duplicate_file,
    _no_brain_slice,
]


@pytest.mark.parametrize("corrupt", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_each_bad_subject_names_subject_and_file(corrupt, make_subject_folder, tmp_path):
    make_subject_folder("BraTS2021_00001", seed=1)
    paths = make_subject_folder(BAD_ID, seed=2)
    file_part, reason = corrupt(paths)
    found = subjects.find_subjects(tmp_path / "brats")
    passed, rejected = validation.validate_subjects(found, layout="slices", min_brain_fraction=0.05)
    assert [r.subject_id for r in passed] == ["BraTS2021_00001"]
    assert len(rejected) == 1
    message = str(rejected[0])
    assert f"subject '{BAD_ID}'" in message and file_part in message and reason in message


def test_same_subject_id_in_two_folders(make_subject_folder, tmp_path):
    make_subject_folder(BAD_ID, root=tmp_path / "brats" / "a")
    make_subject_folder(BAD_ID, root=tmp_path / "brats" / "b")
    found = subjects.find_subjects(tmp_path / "brats")
    _, rejected = validation.validate_subjects(found, layout="slices", min_brain_fraction=0.05)
    assert len(rejected) == 2
    assert all("also in" in str(e) and BAD_ID in str(e) for e in rejected)


def test_folder_without_subjects(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "scan.nii.gz").write_bytes(b"")
    with pytest.raises(subjects.NoSubjectsError, match="no BraTS subjects found under"):
        prepare(tmp_path / "data", data_dir=tmp_path / "tfds")
    assert not (tmp_path / "tfds" / "brats" / "slices_128" / "1.0.0").exists()


def _four_subjects_with_bad_train_subject(make_subject_folder):
    ids = ["BraTS2021_00001", "BraTS2021_00002", "BraTS2021_00003", "BraTS2021_00004"]
    splits = assign_splits(ids, (0.8, 0.1, 0.1), seed=0)
    bad = splits["train"][0]  # a subject whose loss leaves every split non-empty
    for i, subject_id in enumerate(ids):
        paths = make_subject_folder(subject_id, seed=i, shape=(16, 16, 8))
        if subject_id == bad:
            paths["t1ce"].write_bytes(paths["t1ce"].read_bytes()[:100])
    return bad


def test_default_mode_stops_before_writing(make_subject_folder, tmp_path):
    bad = _four_subjects_with_bad_train_subject(make_subject_folder)
    with pytest.raises(validation.BadSubjectsError) as caught:
        prepare(tmp_path / "brats", config="slices_64", data_dir=tmp_path / "tfds")
    assert f"subject '{bad}'" in str(caught.value) and f"{bad}_t1ce.nii.gz" in str(caught.value)
    assert "1 of 4" in str(caught.value) and "--skip-bad-subjects" in str(caught.value)
    assert not list((tmp_path / "tfds").rglob("*.tfrecord*"))
    assert not list((tmp_path / "tfds").rglob("dataset_info.json"))


def test_skip_mode_lists_every_skipped_subject(make_subject_folder, tmp_path):
    bad = _four_subjects_with_bad_train_subject(make_subject_folder)
    builder = prepare(tmp_path / "brats", config="slices_64", data_dir=tmp_path / "tfds", skip_bad_subjects=True)
    rejected = builder.info.metadata["rejected_subjects"]
    assert [r["subject_id"] for r in rejected] == [bad]
    assert rejected[0]["file"].endswith(f"{bad}_t1ce.nii.gz")
    assert "cannot read" in rejected[0]["reason"]
    used = [s for ids in builder.info.metadata["split_subjects"].values() for s in ids]
    assert bad not in used and len(used) == 3
    text = summary(builder)
    assert "subjects found: 4, used: 3, rejected: 1" in text
    assert f"- {bad}: " in text and "cannot read" in text
    ids = {ex["subject_id"].decode() for ex in builder.as_dataset(split="train").as_numpy_iterator()}
    assert bad not in ids
