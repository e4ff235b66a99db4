"""`brasyn_dropped_contrasts` against the organisers' `dropout_modality.py` logic, re-run as written."""

import os
import shutil

import numpy as np
import pytest

from magan_keras.evaluation import challenge
from magan_keras.evaluation.challenge import brasyn_dropped_contrasts
from tfds_brats.brats.make_dummy_data import write_fake_subject


def organisers_dropout(folder_list):
    """The organisers' script's choice, with the global NumPy RNG as they use it."""
    state = np.random.get_state()
    try:
        np.random.seed(123456)
        modality_list = ["t1c", "t1n", "t2f", "t2w"]
        drop_index = np.random.randint(0, 4, size=len(folder_list))
        return {ff: modality_list[drop_index[count]] for count, ff in enumerate(folder_list)}
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize("count", [1, 5, 219])
def test_matches_the_organisers_script(count):
    folders = sorted(f"BraTS-GLI-{k:05d}-000" for k in range(count))
    assert brasyn_dropped_contrasts(folders) == organisers_dropout(folders)


def test_order_matters_and_global_rng_is_untouched():
    folders = [f"BraTS-GLI-{k:05d}-000" for k in range(40)]
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    forward = brasyn_dropped_contrasts(folders)
    assert np.array_equal(np.random.get_state()[1], before)
    backward = brasyn_dropped_contrasts(folders[::-1])
    assert backward == organisers_dropout(folders[::-1]) and backward != forward
    assert set(forward.values()) == {"t1c", "t1n", "t2f", "t2w"}


def test_repeated_names_are_refused():
    with pytest.raises(ValueError, match="repeat"):
        brasyn_dropped_contrasts(["a", "a"])


def run_the_organisers_script(val_set_folder, val_set_missing):
    """`dropout_modality.py` of hongweilibran/BraSyn (commit 8908040) as written, paths as arguments."""
    state = np.random.get_state()
    try:
        if not os.path.exists(val_set_missing):
            os.mkdir(val_set_missing)
        np.random.seed(123456)
        modality_list = ["t1c", "t1n", "t2f", "t2w"]
        folder_list = os.listdir(val_set_folder)
        folder_list.sort()
        drop_index = np.random.randint(0, 4, size=len(folder_list))
        for count, ff in enumerate(folder_list):
            if not os.path.exists(os.path.join(val_set_missing, ff)):
                os.mkdir(os.path.join(val_set_missing, ff))
            file_list = os.listdir(os.path.join(val_set_folder, ff))
            for mm in file_list:
                if modality_list[drop_index[count]] not in mm:
                    shutil.copyfile(os.path.join(val_set_folder, ff, mm), os.path.join(val_set_missing, ff, mm))
    finally:
        np.random.set_state(state)


def test_a_folder_gets_the_picks_of_the_organisers_script(tmp_path):
    val = tmp_path / "val"
    names = [f"BraTS-GLI-{k:05d}-{k % 2:03d}" for k in (17, 3, 250, 4, 99, 5, 1, 42, 8, 60)]
    for name in names:  # written out of order: the script sorts what os.listdir returns
        for tag in ("t1c", "t1n", "t2f", "t2w", "seg"):
            (val / name).mkdir(parents=True, exist_ok=True)
            (val / name / f"{name}-{tag}.nii.gz").write_bytes(b"")
    (val / "BraTS-GLI-00010-000-notes").mkdir()  # not a subject, but a folder: it takes a draw
    run_the_organisers_script(val, tmp_path / "pseudo_val")
    theirs = {}
    for name in names:
        kept = {
            p.name.removeprefix(name + "-").removesuffix(".nii.gz") for p in (tmp_path / "pseudo_val" / name).iterdir()
        }
        (missing,) = {"t1c", "t1n", "t2f", "t2w"} - kept
        assert "seg" in kept
        theirs[name] = challenge.CONTRAST_OF_TAG[missing]
    ours = challenge.brasyn_dropout_for_folder(val)
    assert ours == theirs and list(ours) == sorted(names)
    assert len(set(ours.values())) > 1
    # Without the extra folder the later subjects' picks shift, as the script's would.
    shutil.rmtree(val / "BraTS-GLI-00010-000-notes")
    assert challenge.brasyn_dropout_for_folder(val) != ours


def test_subject_files_directly_in_the_folder_are_refused(tmp_path):
    write_fake_subject(tmp_path / "flat", "BraTS-GLI-00001-000", naming="brats2023")
    with pytest.raises(ValueError, match="BraTS-GLI-00001-000 lies directly in"):
        challenge.brasyn_dropout_for_folder(tmp_path / "flat")
