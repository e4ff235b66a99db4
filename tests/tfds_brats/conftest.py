"""Fixtures for the tfds_brats tests: tiny fake BraTS folders made on the fly."""

import pytest

from tfds_brats.brats.make_dummy_data import DUMMY_SUBJECTS, write_dummy_data, write_fake_subject


@pytest.fixture
def dummy_dir(tmp_path):
    """A fresh copy of the five `dummy_data/` subjects."""
    root = tmp_path / "dummy"
    write_dummy_data(root)
    return root


@pytest.fixture
def dummy_ids():
    return sorted(subject_id for _, subject_id, *_ in DUMMY_SUBJECTS)


@pytest.fixture
def make_subject_folder(tmp_path):
    """`make(subject_id, **write_fake_subject kwargs)` -> role -> path, under tmp/brats."""

    def make(subject_id, root=None, **kwargs):
        root = root or tmp_path / "brats"
        return write_fake_subject(root / subject_id, subject_id, **kwargs)

    return make


@pytest.fixture
def phantom_module():
    """The real `tfds_brats.phantom` (the builder's simulator); a phantom that fails to import fails the test."""
    from tfds_brats import phantom

    return phantom
