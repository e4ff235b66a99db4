"""The search folder: checked and claimed (`search.json`) before any work, read back on resume.

A folder holds one search. `prepare_output_dir` resumes a folder with the same search,
refuses one with another search (or deletes it with `overwrite`) and never touches a folder
that is not a search folder. `trial_statuses` reads the status of every trial KerasTuner saved.

Example:
>>> import os, tempfile
>>> from magan_keras.tuning.settings import make_settings
>>> settings = make_settings(output_dir=os.path.join(tempfile.mkdtemp(), "tune"))
>>> prepare_output_dir(settings)
>>> os.listdir(settings.output_dir)
['search.json']
>>> trial_statuses(settings.project_dir)
{}
"""

import json
import os
import shutil

from magan_keras import atomic
from magan_keras.tuning.settings import SETTINGS_FILE


class SearchFolderError(ValueError):
    """The output folder holds another search or is not a search folder.

    Example:
    >>> issubclass(SearchFolderError, ValueError)
    True
    """


def prepare_output_dir(settings, overwrite=False):
    """Checks `settings.output_dir` and writes its `search.json` (before any work).

    Args:
        settings: `TuneSettings`.
        overwrite: delete a folder that holds another search (or the same one) and start afresh.

    Raises:
        SearchFolderError: the folder is not a search folder, or holds another search and
            `overwrite` is false.

    Example:
    >>> import os, tempfile
    >>> from magan_keras.tuning.settings import make_settings
    >>> folder = os.path.join(tempfile.mkdtemp(), "tune")
    >>> prepare_output_dir(make_settings(output_dir=folder))
    >>> prepare_output_dir(make_settings(output_dir=folder, objective="psnr"))
    Traceback (most recent call last):
    ...
    magan_keras.tuning.folder.SearchFolderError: output_dir ... holds another search (saved vs requested: ...
    """
    folder = settings.output_dir
    settings_path = os.path.join(folder, SETTINGS_FILE)
    saved = None
    if os.path.exists(settings_path):
        with open(settings_path) as f:
            saved = json.load(f)
    if os.path.isdir(folder) and os.listdir(folder):
        if saved is None:
            raise SearchFolderError(
                f"output_dir {folder} exists and is not a search folder (no {SETTINGS_FILE}); "
                "choose another --output-dir"
            )
        if overwrite:
            shutil.rmtree(folder)
            saved = None
        elif saved != settings.identity():
            differing = differences(saved, settings.identity())
            raise SearchFolderError(
                f"output_dir {folder} holds another search (saved vs requested: {differing}); "
                "pass --overwrite to start afresh or choose another --output-dir"
            )
    os.makedirs(folder, exist_ok=True)
    if saved is None:
        atomic.write_json(settings_path, settings.identity())


def differences(saved, requested, prefix=""):
    """`{dotted key: (saved, requested)}` for the values that differ (a space compares whole).

    Args:
        saved: dict (or None), a saved `TuneSettings.identity()`.
        requested: dict, the requested one.
        prefix: str put before each key.

    Example:
    >>> differences({"tuner": "random", "config": {"gamma": 0.5}}, {"tuner": "random", "config": {"gamma": 0.7}})
    {'config.gamma': (0.5, 0.7)}
    """
    out = {}
    for key in sorted(set(saved or {}) | set(requested)):
        a, b = (saved or {}).get(key), requested.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "space":
            out.update(differences(a, b, prefix=f"{prefix}{key}."))
        elif a != b:
            out[f"{prefix}{key}"] = (a, b)
    return out


def trial_statuses(project_dir):
    """`{trial_id: status}` of the trials saved in KerasTuner's project folder (`trial_*/trial.json`).

    Args:
        project_dir: the project folder (`TuneSettings.project_dir`); a missing one has no trials.

    Example:
    >>> import json, os, tempfile
    >>> project = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(project, "trial_0"))
    >>> _ = open(os.path.join(project, "trial_0", "trial.json"), "w").write(
    ...     json.dumps({"trial_id": "0", "status": "COMPLETED"}))
    >>> trial_statuses(project)
    {'0': 'COMPLETED'}
    """
    statuses = {}
    if not os.path.isdir(project_dir):
        return statuses
    for entry in sorted(os.listdir(project_dir)):
        path = os.path.join(project_dir, entry, "trial.json")
        if entry.startswith("trial_") and os.path.isfile(path):
            with open(path) as f:
                trial = json.load(f)
            statuses[trial["trial_id"]] = trial.get("status")
    return statuses
