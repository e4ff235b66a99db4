"""Fixtures for the tfds_brats tests: tiny fake BraTS folders made on the fly."""

import types

import numpy as np
import pytest

from tfds_brats.brats.make_dummy_data import DUMMY_SUBJECTS, write_dummy_data, write_fake_subject
from tfds_brats.constants import MODALITIES


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


def _stand_in_make_subject(seed, shape):
    """Throwaway stand-in for `tfds_brats.phantom.make_subject` (same fields)."""
    from tfds_brats.brats.make_dummy_data import fake_canonical_subject

    volumes, seg = fake_canonical_subject(int(seed) % 1000, tuple(shape))
    volumes = {m: volumes[m].astype(np.float32) for m in MODALITIES}
    mask = np.any([v != 0 for v in volumes.values()], axis=0)
    return types.SimpleNamespace(volumes=volumes, seg=seg, brain_mask=mask)


@pytest.fixture
def phantom_module(monkeypatch):
    """The real `tfds_brats.phantom` when it imports, else a stand-in with `make_subject`."""
    try:
        from tfds_brats import phantom  # noqa: F401

        return phantom
    except ImportError:
        stand_in = types.ModuleType("tfds_brats.phantom")
        stand_in.make_subject = _stand_in_make_subject
        monkeypatch.setitem(__import__("sys").modules, "tfds_brats.phantom", stand_in)
        import tfds_brats

        monkeypatch.setattr(tfds_brats, "phantom", stand_in, raising=False)
        return stand_in
