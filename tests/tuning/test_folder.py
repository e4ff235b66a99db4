"""`magan_keras.tuning.folder`: a search folder is claimed, resumed or refused, and never clobbered."""

import json
import os

import pytest

from magan_keras.tuning import folder
from magan_keras.tuning.settings import SETTINGS_FILE, make_settings


def test_same_search_resumes_and_another_is_refused(tmp_path):
    out = str(tmp_path / "tune")
    settings = make_settings(output_dir=out)
    folder.prepare_output_dir(settings)
    saved = json.loads(open(os.path.join(out, SETTINGS_FILE)).read())
    assert saved == settings.identity()
    (tmp_path / "tune" / "search").mkdir()
    folder.prepare_output_dir(make_settings(output_dir=out))  # the same search: resumed, kept
    assert (tmp_path / "tune" / "search").is_dir()
    with pytest.raises(folder.SearchFolderError, match=r"another search .*objective.*--overwrite"):
        folder.prepare_output_dir(make_settings(output_dir=out, objective="psnr"))
    assert (tmp_path / "tune" / "search").is_dir()


def test_overwrite_deletes_a_search_and_starts_afresh(tmp_path):
    out = str(tmp_path / "tune")
    folder.prepare_output_dir(make_settings(output_dir=out))
    (tmp_path / "tune" / "search").mkdir()
    other = make_settings(output_dir=out, objective="l1")
    folder.prepare_output_dir(other, overwrite=True)
    assert os.listdir(out) == [SETTINGS_FILE]
    assert json.loads(open(os.path.join(out, SETTINGS_FILE)).read())["objective"] == "l1"


def test_folder_that_is_not_a_search_is_never_touched(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(folder.SearchFolderError, match="not a search folder"):
        folder.prepare_output_dir(make_settings(output_dir=str(tmp_path)), overwrite=True)
    assert os.listdir(tmp_path) == ["precious.txt"]


def test_settings_file_is_written_atomically(tmp_path, monkeypatch):
    from magan_keras import atomic

    written = []
    original = atomic.replacing

    def spy(path):
        written.append(os.fspath(path))
        return original(path)

    monkeypatch.setattr(atomic, "replacing", spy)
    folder.prepare_output_dir(make_settings(output_dir=str(tmp_path / "tune")))
    assert written == [str(tmp_path / "tune" / SETTINGS_FILE)]


def test_trial_statuses_read_the_saved_trials(tmp_path):
    assert folder.trial_statuses(str(tmp_path / "missing")) == {}
    for trial_id, status in (("0", "COMPLETED"), ("1", "RUNNING")):
        (tmp_path / f"trial_{trial_id}").mkdir()
        (tmp_path / f"trial_{trial_id}" / "trial.json").write_text(json.dumps({"trial_id": trial_id, "status": status}))
    (tmp_path / "oracle.json").write_text("{}")
    assert folder.trial_statuses(str(tmp_path)) == {"0": "COMPLETED", "1": "RUNNING"}
