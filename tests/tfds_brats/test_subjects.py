"""Finding subjects (both namings, .nii / .nii.gz) and loading them in one orientation."""

import nibabel as nib
import numpy as np
import pytest

from tfds_brats import examples, intensity, subjects
from tfds_brats.brats.make_dummy_data import fake_canonical_subject, write_volume
from tfds_brats.constants import MODALITIES


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("BraTS2021_00000_t1.nii.gz", ("BraTS2021_00000", "t1", "brats2018-2021")),
        ("BraTS2021_00000_t1ce.nii.gz", ("BraTS2021_00000", "t1ce", "brats2018-2021")),
        ("BraTS20_Training_001_t2.nii", ("BraTS20_Training_001", "t2", "brats2018-2021")),
        ("BraTS19_2013_2_1_flair.nii.gz", ("BraTS19_2013_2_1", "flair", "brats2018-2021")),
        ("BraTS2021_00000_seg.nii.gz", ("BraTS2021_00000", "seg", "brats2018-2021")),
        ("BraTS-GLI-00001-000-t1n.nii.gz", ("BraTS-GLI-00001-000", "t1", "brats2023")),
        ("BraTS-GLI-00001-000-t1c.nii", ("BraTS-GLI-00001-000", "t1ce", "brats2023")),
        ("BraTS-GLI-00001-000-t2w.nii.gz", ("BraTS-GLI-00001-000", "t2", "brats2023")),
        ("BraTS-MEN-00004-000-t2f.nii.gz", ("BraTS-MEN-00004-000", "flair", "brats2023")),
        ("BraTS-GLI-00001-000-seg.nii.gz", ("BraTS-GLI-00001-000", "seg", "brats2023")),
        ("Case_FLAIR.nii.gz", ("Case", "flair", "brats2018-2021")),  # tags ignore case
        ("BraTS2021_00000_t1.nii.gz.bak", None),
        ("BraTS2021_00000_t1n.nii.gz", None),  # 2023 tag with the 2018 separator
        ("BraTS-GLI-00001-000-t1.nii.gz", None),  # 2018 tag with the 2023 separator
        ("._BraTS2021_00000_t1.nii.gz", None),  # macOS resource fork
        ("README.txt", None),
    ],
)
def test_parse_filename(filename, expected):
    assert subjects.parse_filename(filename) == expected


def test_find_subjects_in_dummy_data(dummy_dir, dummy_ids):
    found = subjects.find_subjects(dummy_dir)
    assert [s.subject_id for s in found] == dummy_ids
    by_id = {s.subject_id: s for s in found}
    assert by_id["BraTS-GLI-00003-000"].namings == ("brats2023",)
    assert by_id["BraTS2021_00001"].namings == ("brats2018-2021",)
    assert "seg" not in by_id["BraTS-GLI-00004-000"].paths()
    nested = by_id["BraTS2021_00005"].paths()
    assert nested["t1"].name.endswith(".nii") and nested["t2"].name.endswith(".nii.gz")
    assert nested["t1"].parent.parent.name == "nested"


def test_every_dummy_subject_loads_canonical(dummy_dir):
    for files in subjects.find_subjects(dummy_dir):
        volumes, seg, geometry = subjects.load_subject(files)
        assert sorted(volumes) == sorted(MODALITIES)
        assert all(v.dtype == np.float32 and v.shape == (24, 24, 12) for v in volumes.values())
        assert nib.aff2axcodes(geometry.affine) == ("R", "A", "S")
        if seg is not None:
            assert set(np.unique(seg)) <= {0, 1, 2, 4}


def test_contrasts_stored_in_different_orientations_line_up(tmp_path):
    volumes, seg = fake_canonical_subject(seed=7)
    stored_as = {
        "t1": ("L", "P", "S"),
        "t1ce": ("R", "A", "S"),
        "t2": ("L", "A", "S"),
        "flair": ("P", "L", "S"),
    }  # flair also swaps the in-plane axes
    paths = {m: write_volume(tmp_path / "s" / f"s_{m}.nii.gz", volumes[m], stored_as[m]) for m in MODALITIES}
    paths["seg"] = write_volume(tmp_path / "s" / "s_seg.nii.gz", seg, ("R", "P", "S"))
    raw = np.asanyarray(nib.load(paths["t1"]).dataobj)
    assert not np.array_equal(raw, volumes["t1"])  # stored flipped on disk

    loaded, loaded_seg, geometry = subjects.load_subject(paths, subject_id="s")
    for modality in MODALITIES:
        np.testing.assert_array_equal(loaded[modality], volumes[modality].astype(np.float32))
    np.testing.assert_array_equal(loaded_seg, seg)
    assert geometry.original_axcodes == ("L", "P", "S")
    np.testing.assert_allclose(geometry.affine, np.eye(4), atol=1e-6)

    # Slices line up: the brain and the tumour sit in the same pixels in every channel.
    mask = intensity.brain_mask(loaded.values())
    images, low, high = examples.normalise_subject(loaded, mask)
    k = images.shape[2] // 2
    brains = [loaded[m][:, :, k] != 0 for m in MODALITIES]
    for brain in brains[1:]:
        np.testing.assert_array_equal(brain, brains[0])
    np.testing.assert_array_equal(images[:, :, k][~brains[0]], -1.0)
    tumour = loaded_seg[:, :, k] > 0
    t1, flair = images[:, :, k, 0], images[:, :, k, 3]
    assert t1[tumour].mean() < t1[mask[:, :, k] & ~tumour].mean()  # dark on t1
    assert flair[tumour].mean() > flair[mask[:, :, k] & ~tumour].mean()  # bright on flair


def test_to_original_orientation_round_trip(tmp_path):
    volumes, _ = fake_canonical_subject(seed=1)
    for axcodes in [("L", "P", "S"), ("P", "L", "I"), ("R", "A", "S")]:
        path = write_volume(tmp_path / f"v_{''.join(axcodes)}_t1.nii.gz", volumes["t1"], axcodes)
        image = nib.load(path)
        data, _, original = subjects._load_canonical("s", path, np.float32)
        back = subjects.to_original_orientation(data, original)
        np.testing.assert_array_equal(back, np.asanyarray(image.dataobj).astype(np.float32))


def test_brats2023_enhancing_label_becomes_4(make_subject_folder):
    paths = make_subject_folder("BraTS-GLI-00009-000", naming="brats2023")
    raw = np.asanyarray(nib.load(paths["seg"]).dataobj)
    assert 3 in raw and 4 not in raw
    _, seg, _ = subjects.load_subject(paths, subject_id="BraTS-GLI-00009-000")
    assert 4 in seg and 3 not in seg
    np.testing.assert_array_equal(seg == 4, raw == 3)  # stored RAS: same voxel order


def test_load_subject_requires_every_contrast(make_subject_folder):
    paths = make_subject_folder("s1")
    del paths["t2"]
    with pytest.raises(subjects.SubjectError, match="missing contrast 't2'"):
        subjects.load_subject(paths, subject_id="s1")


def test_find_subjects_on_missing_or_empty_folder(tmp_path):
    with pytest.raises(subjects.NoSubjectsError, match="does not exist"):
        subjects.find_subjects(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(subjects.NoSubjectsError, match=r"no BraTS subjects found under .*empty"):
        subjects.find_subjects(tmp_path / "empty")


def test_load_subject_reads_any_subset_in_the_order_given(make_subject_folder):
    paths = make_subject_folder("s1", axcodes=("L", "P", "S"), seed=4)
    full, _, _ = subjects.load_subject(paths, subject_id="s1")
    volumes, seg, geometry = subjects.load_subject({"t2": paths["t2"], "t1": paths["t1"]}, "s1", required=())
    assert list(volumes) == ["t2", "t1"] and seg is None
    np.testing.assert_array_equal(volumes["t2"], full["t2"])
    assert list(geometry.paths) == ["t2", "t1"] and geometry.paths["t2"] == paths["t2"]
    assert geometry.reference.get_filename() == str(paths["t2"])  # the first given is the reference
    assert geometry.original_axcodes == ("L", "P", "S")
    # Contrast names are free (a model's contrasts need not be BraTS's).
    volumes, _, _ = subjects.load_subject({"pd": paths["flair"]}, required=())
    assert list(volumes) == ["pd"]
    with pytest.raises(ValueError, match="no contrast"):
        subjects.load_subject({"seg": paths["seg"]}, "s1", required=())


def test_required_contrasts_are_read_first_in_their_order(make_subject_folder):
    paths = make_subject_folder("s1")
    reordered = {m: paths[m] for m in ("flair", "t2", "t1ce", "t1")}
    _, _, geometry = subjects.load_subject(reordered, "s1")
    assert list(geometry.paths) == list(MODALITIES) and geometry.reference.get_filename() == str(paths["t1"])


def test_a_subject_folder_with_some_contrasts(make_subject_folder, tmp_path):
    paths = make_subject_folder("s1", with_seg=False)
    paths["t1ce"].unlink()
    (found,) = subjects.find_subjects(tmp_path / "brats")
    with pytest.raises(subjects.SubjectError, match="missing contrast 't1ce'"):
        subjects.load_subject(found)
    volumes, _, _ = subjects.load_subject(found, required=())
    assert sorted(volumes) == ["flair", "t1", "t2"]


def test_a_missing_file_is_named(make_subject_folder, tmp_path):
    paths = make_subject_folder("s1")
    gone = tmp_path / "gone_t2.nii.gz"
    with pytest.raises(subjects.SubjectError, match="no such file .given for 't2'") as raised:
        subjects.load_subject({**paths, "t2": gone}, "s1")
    assert str(gone) in str(raised.value) and "subject 's1'" in str(raised.value)


def test_a_gzip_whose_crc_fails_is_refused_naming_the_file(make_subject_folder, flip_one_compressed_byte):
    files = make_subject_folder("s1")
    before, _, _ = subjects.load_subject(files)
    stored = nib.load(files["t2"]).get_fdata()
    flip_one_compressed_byte(files["t2"])
    # nibabel alone reads the damaged file and returns other voxels, without a word
    assert not np.array_equal(nib.load(files["t2"]).get_fdata(), stored)
    with pytest.raises(subjects.SubjectError, match=r"s1_t2\.nii\.gz: cannot read the file: corrupt gzip stream"):
        subjects.load_subject(files)
    with pytest.raises(subjects.SubjectError, match="corrupt gzip"):
        subjects.load_subject({"t2": files["t2"]}, "s1", required=())
    volumes, _, _ = subjects.load_subject({"t1": files["t1"]}, "s1", required=())  # the others still load
    np.testing.assert_array_equal(volumes["t1"], before["t1"])


def test_symlink_cycles_are_walked_once_and_never_hang(make_subject_folder, tmp_path):
    import os
    import subprocess
    import sys

    root = tmp_path / "brats"
    for subject_id in ("BraTS2021_00001", "BraTS2021_00002"):
        make_subject_folder(subject_id)
    os.symlink("..", root / "BraTS2021_00001" / "up")  # a subject folder holding two `..` links
    os.symlink("..", root / "BraTS2021_00001" / "up_again")
    os.symlink("..", root / "loop")  # and a loop above the root
    outside = tmp_path / "elsewhere"
    make_subject_folder("BraTS2021_00003", root=outside)
    os.symlink(outside, root / "linked")  # a symlinked folder is still followed, once
    probe = (
        "import sys; from tfds_brats.subjects import find_subjects; "
        "print([(s.subject_id, len(s.matches['t1'])) for s in find_subjects(sys.argv[1])])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(root)], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[('BraTS2021_00001', 1), ('BraTS2021_00002', 1), ('BraTS2021_00003', 1)]"
    found = subjects.find_subjects(root)
    assert all(len(paths) == 1 for s in found for paths in s.matches.values())  # no subject seen twice
