"""Where presets live: a local folder, the Hugging Face Hub (`hf://owner/name`) or Kaggle (`kaggle://...`).

Handles are spelt as KerasHub spells them. `resolve` turns a handle into a local folder
(downloading it through `huggingface_hub.snapshot_download` or `kagglehub.model_download`,
which cache it); `upload` sends a preset folder to a local folder, the Hub
(`huggingface_hub.HfApi.upload_folder`) or Kaggle (`kagglehub.model_upload`). Both client
libraries are optional (`pip install "magan_keras[hub]"` for the Hub) and imported only when a
handle needs them. The Hub token is whatever `huggingface_hub` finds itself (`HF_TOKEN`, or the
login saved by `hf auth login`); it is never read or passed here.

Example:
>>> from magan_keras.sharing import hub
>>> hub.parse_handle("hf://magan-keras/brats-128")
('hf', 'magan-keras/brats-128')
>>> hub.parse_handle("runs/magan/preset")
('local', 'runs/magan/preset')
>>> hub.is_handle("kaggle://owner/magan/keras/brats128/1"), hub.is_handle("model.keras")
(True, False)
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil

from magan_keras import atomic
from magan_keras.inference.generator import ModelError

HF_PREFIX = "hf://"
KAGGLE_PREFIX = "kaggle://"
HUB_EXTRA = 'pip install "magan_keras[hub]"'
_HF_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_KAGGLE_MODEL = re.compile(r"^[\w.-]+/[\w.-]+/[\w.-]+/[\w.-]+(/\d+)?$")


class HubError(ModelError):
    """A handle that cannot be resolved or a target that cannot be written; the message names it."""


def is_handle(value) -> bool:
    """Whether `value` is a remote preset handle (`hf://...` or `kaggle://...`).

    Args:
        value: anything; only strings can be handles.

    Example:
    >>> is_handle("hf://owner/name"), is_handle("hf_model.keras"), is_handle(3)
    (True, False, False)
    """
    return isinstance(value, str) and value.startswith((HF_PREFIX, KAGGLE_PREFIX))


def parse_handle(handle) -> tuple:
    """`(kind, rest)`: `("hf", "owner/name")`, `("kaggle", "owner/model/framework/variation[/version]")`
    or `("local", path)`.

    Args:
        handle: str or path-like.

    Raises:
        HubError: an `hf://` or `kaggle://` handle of the wrong shape.

    Example:
    >>> parse_handle("kaggle://owner/magan/keras/brats128/2")
    ('kaggle', 'owner/magan/keras/brats128/2')
    >>> parse_handle("hf://just-a-name")
    Traceback (most recent call last):
    ...
    magan_keras.sharing.hub.HubError: handle 'hf://just-a-name': expected hf://owner/name
    """
    text = os.fspath(handle)
    if text.startswith(HF_PREFIX):
        rest = text[len(HF_PREFIX) :].strip("/")
        if not _HF_REPO.match(rest):
            raise HubError(f"handle {text!r}: expected hf://owner/name")
        return "hf", rest
    if text.startswith(KAGGLE_PREFIX):
        rest = text[len(KAGGLE_PREFIX) :].strip("/")
        if not _KAGGLE_MODEL.match(rest):
            raise HubError(f"handle {text!r}: expected kaggle://owner/model/framework/variation[/version]")
        return "kaggle", rest
    return "local", text


def _huggingface_hub():
    try:
        import huggingface_hub  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise HubError(f"hf:// handles need the huggingface_hub package: {HUB_EXTRA}") from error
    return huggingface_hub


def _kagglehub():
    try:
        import kagglehub  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise HubError("kaggle:// handles need the kagglehub package: pip install kagglehub") from error
    return kagglehub


def _package_version():
    import magan_keras  # pylint: disable=import-outside-toplevel

    return magan_keras.__version__


def resolve(handle) -> pathlib.Path:
    """The local folder of a preset handle, downloading (and caching) a remote one.

    Args:
        handle: a preset folder, `hf://owner/name` or `kaggle://owner/model/framework/variation[/version]`.

    Returns:
        `pathlib.Path` of a folder (its contents are checked by `preset.validate_preset`).

    Raises:
        HubError: no such folder, a bad handle, a missing client library or a failed download.

    Example:
    >>> import tempfile
    >>> resolve(tempfile.mkdtemp()).is_dir()
    True
    >>> resolve("no_such_preset")
    Traceback (most recent call last):
    ...
    magan_keras.sharing.hub.HubError: preset folder no_such_preset does not exist
    """
    kind, rest = parse_handle(handle)
    if kind == "local":
        path = pathlib.Path(os.path.expanduser(rest))
        if not path.exists():
            raise HubError(f"preset folder {rest} does not exist")
        if not path.is_dir():
            raise HubError(f"preset {rest} is not a folder (a preset is a folder with metadata.json)")
        return path
    try:
        if kind == "hf":
            hf = _huggingface_hub()
            folder = hf.snapshot_download(repo_id=rest, library_name="magan_keras", library_version=_package_version())
        else:
            folder = _kagglehub().model_download(rest)
    except HubError:
        raise
    except Exception as error:  # the clients raise many types (network, auth, not found)
        raise HubError(f"cannot download {handle}: {type(error).__name__}: {error}") from error
    return pathlib.Path(folder)


def upload(preset_dir, target, files, *, message=None, private=False) -> str:
    """Sends the preset's `files` to `target`: a new local folder, `hf://owner/name` or `kaggle://...`.

    The caller (`preset.publish`) checks the preset first. A local target goes through the same
    call as a remote one, so the offline tests exercise everything up to the upload itself.

    Args:
        preset_dir: the preset folder.
        target: a folder that does not exist yet (or is empty), `hf://owner/name` (created when
            missing) or `kaggle://owner/model/framework/variation`.
        files: the file names (relative to `preset_dir`) to send.
        message: commit message / version notes, or None.
        private: bool. A new Hub repository is private.

    Returns:
        str: where it went (a folder, or the repository's URL).

    Raises:
        HubError: a target that is not new, a bad handle, a missing client or a failed upload.

    Example:
    >>> import os, tempfile
    >>> source = tempfile.mkdtemp()
    >>> _ = open(os.path.join(source, "metadata.json"), "w").write("{}")
    >>> target = os.path.join(tempfile.mkdtemp(), "copy")
    >>> os.path.basename(upload(source, target, ["metadata.json"]))
    'copy'
    """
    preset_dir = pathlib.Path(preset_dir)
    message = message or f"Upload MA-GAN preset (magan_keras {_package_version()})"
    kind, rest = parse_handle(target)
    if kind == "local":
        destination = pathlib.Path(atomic.check_output_path(rest, "preset", HubError))
        if destination.exists():
            if any(destination.iterdir()):
                raise HubError(f"target folder {destination} exists and is not empty; choose a new folder")
            destination.rmdir()
        with atomic.new_directory(destination) as temporary:
            for name in files:
                (temporary / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(preset_dir / name, temporary / name)
        return str(destination)
    try:
        if kind == "hf":
            hf = _huggingface_hub()
            api = hf.HfApi(library_name="magan_keras", library_version=_package_version())
            repo_id = api.create_repo(rest, repo_type="model", exist_ok=True, private=True if private else None).repo_id
            api.upload_folder(
                repo_id=repo_id,
                repo_type="model",
                folder_path=os.fspath(preset_dir),
                allow_patterns=list(files),
                commit_message=message,
            )
            return f"https://huggingface.co/{repo_id}"
        _kagglehub().model_upload(rest, os.fspath(preset_dir), version_notes=message)
        return f"https://www.kaggle.com/models/{rest}"
    except HubError:
        raise
    except Exception as error:  # network, authentication, permissions
        raise HubError(f"cannot upload to {target}: {type(error).__name__}: {error}") from error
