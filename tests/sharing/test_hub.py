"""Handles and uploads, offline: Hub and Kaggle calls are replaced by fakes, never a network call."""

import builtins
import json

import pytest

from magan_keras.sharing import hub
from magan_keras.sharing import preset as presets


def test_handles_are_parsed_as_kerashub_spells_them():
    assert hub.parse_handle("hf://owner/magan-brats") == ("hf", "owner/magan-brats")
    assert hub.parse_handle("kaggle://owner/magan/keras/brats128/3") == ("kaggle", "owner/magan/keras/brats128/3")
    assert hub.parse_handle("runs/x/preset") == ("local", "runs/x/preset")
    for bad in ("hf://owner", "hf://a/b/c", "kaggle://owner/magan"):
        with pytest.raises(hub.HubError, match="expected"):
            hub.parse_handle(bad)


def test_hf_handle_downloads_through_snapshot_download(saved_preset, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(**kwargs):
        calls.append(kwargs)
        return str(saved_preset[1])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert presets.validate_preset(hub.resolve("hf://owner/tiny"))["image_size"] == 16
    assert calls[0]["repo_id"] == "owner/tiny" and calls[0]["library_name"] == "magan_keras"


def test_a_missing_client_library_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_hub(name, *args, **kwargs):
        if name in ("huggingface_hub", "kagglehub"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_hub)
    with pytest.raises(hub.HubError, match=r"hf:// handles need the huggingface_hub package: pip install"):
        hub.resolve("hf://owner/tiny")
    with pytest.raises(hub.HubError, match=r"kaggle:// handles need the kagglehub package"):
        hub.resolve("kaggle://owner/magan/keras/tiny/1")


def test_publish_to_a_folder_copies_and_checks(saved_preset, tmp_path):
    target = tmp_path / "shared"
    assert presets.publish(saved_preset[1], str(target)) == str(target)
    assert presets.validate_preset(target) == presets.validate_preset(saved_preset[1])
    with pytest.raises(hub.HubError, match="exists and is not empty"):
        presets.publish(saved_preset[1], str(target))


def test_publish_refuses_a_damaged_preset_before_any_upload(preset_copy, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda *a, **k: pytest.fail("uploaded"))
    (preset_copy / "config.json").write_text(json.dumps({"edited": True}))
    with pytest.raises(presets.PresetError, match=r"config\.json has changed since the preset was made"):
        presets.publish(preset_copy, "hf://owner/tiny")


def test_publish_to_the_hub_calls_upload_folder(saved_preset, monkeypatch):
    import huggingface_hub

    calls = {}

    def fake_create_repo(self, repo_id, **kwargs):
        calls["create_repo"] = (repo_id, kwargs)
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

    def fake_upload_folder(self, **kwargs):
        calls["upload_folder"] = kwargs

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", fake_create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", fake_upload_folder)
    where = presets.publish(saved_preset[1], "hf://owner/tiny", message="first", private=True)
    assert where == "https://huggingface.co/owner/tiny"
    assert calls["create_repo"] == ("owner/tiny", {"repo_type": "model", "exist_ok": True, "private": True})
    upload = calls["upload_folder"]
    assert upload["repo_id"] == "owner/tiny" and upload["folder_path"] == str(saved_preset[1])
    assert upload["commit_message"] == "first" and "token" not in upload  # the token is huggingface_hub's own
    assert sorted(upload["allow_patterns"]) == sorted(
        ["metadata.json", "README.md", "config.json", "model.weights.h5", "preprocessing.json"]
    )


def test_a_failed_upload_is_one_line(saved_preset, monkeypatch):
    import huggingface_hub

    def refuse(self, repo_id, **kwargs):
        raise PermissionError("401 Unauthorized: no token")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", refuse)
    with pytest.raises(hub.HubError, match=r"^cannot upload to hf://owner/tiny: PermissionError: 401 Unauthorized"):
        presets.publish(saved_preset[1], "hf://owner/tiny")


def test_kaggle_handles_go_through_kagglehub(saved_preset, monkeypatch):
    import sys
    import types

    calls = []
    fake = types.SimpleNamespace(
        model_download=lambda handle: calls.append(("download", handle)) or str(saved_preset[1]),
        model_upload=lambda handle, folder, version_notes: calls.append(("upload", handle, folder, version_notes)),
    )
    monkeypatch.setitem(sys.modules, "kagglehub", fake)
    assert presets.validate_preset(hub.resolve("kaggle://owner/magan/keras/tiny/2"))["image_size"] == 16
    where = presets.publish(saved_preset[1], "kaggle://owner/magan/keras/tiny", message="v1")
    assert where == "https://www.kaggle.com/models/owner/magan/keras/tiny"
    assert calls == [
        ("download", "owner/magan/keras/tiny/2"),
        ("upload", "owner/magan/keras/tiny", str(saved_preset[1]), "v1"),
    ]
