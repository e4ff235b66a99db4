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
    assert sorted(os.listdir(out)) == [folder.MARKER_FILE, SETTINGS_FILE]
    assert json.loads(open(os.path.join(out, SETTINGS_FILE)).read())["objective"] == "l1"


def test_folder_that_is_not_a_search_is_never_touched(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(folder.SearchFolderError, match="not a magan_keras search folder"):
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
    assert written == [str(tmp_path / "tune" / folder.MARKER_FILE), str(tmp_path / "tune" / SETTINGS_FILE)]


def test_trial_statuses_read_the_saved_trials(tmp_path):
    assert folder.trial_statuses(str(tmp_path / "missing")) == {}
    for trial_id, status in (("0", "COMPLETED"), ("1", "RUNNING")):
        (tmp_path / f"trial_{trial_id}").mkdir()
        (tmp_path / f"trial_{trial_id}" / "trial.json").write_text(json.dumps({"trial_id": trial_id, "status": status}))
    (tmp_path / "oracle.json").write_text("{}")
    assert folder.trial_statuses(str(tmp_path)) == {"0": "COMPLETED", "1": "RUNNING"}


def test_overwrite_never_deletes_a_folder_that_merely_holds_a_search_json(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / SETTINGS_FILE).write_text(json.dumps({"query": "someone else's"}))
    (other / "data.bin").write_text("keep")
    with pytest.raises(folder.SearchFolderError, match="not a magan_keras search folder"):
        folder.prepare_output_dir(make_settings(output_dir=str(other)), overwrite=True)
    assert sorted(os.listdir(other)) == ["data.bin", SETTINGS_FILE]


def test_a_search_from_before_the_marker_is_recognised_by_its_settings(tmp_path):
    out = tmp_path / "tune"
    out.mkdir()
    settings = make_settings(output_dir=str(out))
    (out / SETTINGS_FILE).write_text(json.dumps(settings.identity()))
    (out / "search").mkdir()
    folder.prepare_output_dir(settings)  # resumed, and marked from now on
    assert (out / "search").is_dir() and (out / folder.MARKER_FILE).is_file()


@pytest.mark.parametrize("output_dir", ["/", "~", "."])
def test_root_like_search_folder_is_refused(output_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / SETTINGS_FILE).write_text("{}")
    with pytest.raises(folder.SearchFolderError, match="root, home or current folder"):
        folder.prepare_output_dir(make_settings(output_dir=output_dir), overwrite=True)
    assert os.listdir(tmp_path) == [SETTINGS_FILE]


def test_search_output_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("keep")
    with pytest.raises(folder.SearchFolderError, match="not a folder"):
        folder.prepare_output_dir(make_settings(output_dir=str(tmp_path / "file")))
    assert (tmp_path / "file").read_text() == "keep"
