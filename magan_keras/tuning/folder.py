"""The search folder: checked and claimed (`search.json`) before any work, read back on resume.

A folder holds one search. `prepare_output_dir` resumes a folder with the same search,
refuses one with another search (or deletes it with `overwrite`) and never touches a folder
that is not a search folder. A search folder is recognised by our marker file
(`.magan_keras_search.json`), or, for a search from before the marker, by a `search.json`
holding exactly the keys of `TuneSettings.identity()`; never by the file name alone.
`trial_statuses` reads the status of every trial KerasTuner saved.

Example:
>>> import os, tempfile
>>> from magan_keras.tuning.settings import make_settings
>>> settings = make_settings(output_dir=os.path.join(tempfile.mkdtemp(), "tune"))
>>> prepare_output_dir(settings)
>>> sorted(os.listdir(settings.output_dir))
['.magan_keras_search.json', 'search.json']
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


MARKER_FILE = ".magan_keras_search.json"
MARKER = {"package": "magan_keras", "kind": "search", "format": 1}


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_search_folder(folder, identity_keys):
    """True when `folder` carries our marker, or is a search from before it (see the module docstring).

    Args:
        folder: the folder.
        identity_keys: the keys of a `TuneSettings.identity()`.

    Example:
    >>> import tempfile
    >>> is_search_folder(tempfile.mkdtemp(), {"tuner"})
    False
    """
    marker = _read_json(os.path.join(folder, MARKER_FILE))
    if isinstance(marker, dict) and marker.get("package") == MARKER["package"] and marker.get("kind") == "search":
        return True
    saved = _read_json(os.path.join(folder, SETTINGS_FILE))
    return isinstance(saved, dict) and set(saved) == set(identity_keys)


def prepare_output_dir(settings, overwrite=False):
    """Checks `settings.output_dir` and writes its marker and `search.json` (before any work).

    Args:
        settings: `TuneSettings`.
        overwrite: delete a folder that holds another search (or the same one) and start afresh;
            only a folder recognised as a magan_keras search folder is ever deleted.

    Raises:
        SearchFolderError: the path is empty, root-like, a file or a link; the folder is not a
            magan_keras search folder; or it holds another search and `overwrite` is false.

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
    atomic.check_output_path(folder, "search", SearchFolderError)
    settings_path = os.path.join(folder, SETTINGS_FILE)
    identity = settings.identity()
    saved = None
    if os.path.isdir(folder) and os.listdir(folder):
        if not is_search_folder(folder, identity):
            raise SearchFolderError(
                f"output_dir {folder} exists, is not empty and is not a magan_keras search folder (no {MARKER_FILE}, "
                f"and no {SETTINGS_FILE} of a search from before that marker); it is left untouched, even with "
                "--overwrite: choose another --output-dir"
            )
        saved = _read_json(settings_path)
        if overwrite:
            shutil.rmtree(folder)
            saved = None
        elif saved != identity:
            differing = differences(saved if isinstance(saved, dict) else None, identity)
            raise SearchFolderError(
                f"output_dir {folder} holds another search (saved vs requested: {differing}); "
                "pass --overwrite to start afresh or choose another --output-dir"
            )
    os.makedirs(folder, exist_ok=True)
    if _read_json(os.path.join(folder, MARKER_FILE)) != MARKER:
        atomic.write_json(os.path.join(folder, MARKER_FILE), MARKER)
    if saved is None:
        atomic.write_json(settings_path, identity)


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
