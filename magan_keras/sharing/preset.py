"""Presets: a trained MAGAN in a folder others can load, check and cite (KerasHub's `from_preset`).

Not to be confused with `magan_keras.models.presets` (named model configurations, "default" and
"paper"): a preset here is a trained model's folder.

A preset folder holds:
- `config.json` and `model.weights.h5`: the model as Keras saves an unzipped `.keras` folder
  (`keras.saving.save_model(model, folder, zipped=False)`), so `keras.saving.load_model(folder)`
  and Keras' own `load_model("hf://owner/name")` read it too. Weights only: no optimiser state.
  We chose this over one `.keras` zip because it is the layout Keras reads from the Hugging Face
  Hub, each file is hashed and fetched on its own, and the config can be read (and checked
  against the metadata) without unzipping anything.
- `preprocessing.json`: the `tfds_brats.preprocessing.Preprocessing` record (also inside
  `config.json`, where the loaders read it; this copy is for people and other tools).
- `training_config.json` (from a run): the training options without machine-specific paths;
  `python -m magan_keras.train --config` and `tune --config` take it.
- `metadata.json`: format version, contrast names and order, image and canvas size, slice plane,
  package / Keras / backend versions, the training data and its subjects per split, and the
  SHA-256 of every other file.
- `README.md`: the model card (`magan_keras.sharing.card`).

`from_preset` refuses, with one line naming the file and what is wrong, a preset of a newer
format, one for other contrasts than asked for, and one with a file missing or changed.

Example:
>>> import numpy as np
>>> from magan_keras import MAGAN
>>> from magan_keras.sharing import preset
>>> model = MAGAN(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": 16})
>>> folder = preset.save_to_preset(model, "my_preset")
>>> sorted(p.name for p in folder.iterdir())
['README.md', 'config.json', 'metadata.json', 'model.weights.h5', 'preprocessing.json']
>>> again = preset.from_preset("my_preset")
>>> x = {"images": np.zeros((1, 16, 16, 4), "float32"), "available": np.float32([[1, 1, 1, 0]]),
...      "target": np.float32([[0, 0, 0, 1]])}
>>> bool(np.array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0)))
True
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import shutil

from magan_keras import atomic
from magan_keras.inference.generator import ModelError
from magan_keras.sharing import card as model_card
from magan_keras.sharing import hub

FORMAT_VERSION = 1
KIND = "magan_keras preset"
METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
PREPROCESSING_FILE = "preprocessing.json"
TRAINING_CONFIG_FILE = "training_config.json"
CARD_FILE = model_card.CARD_FILE
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, PREPROCESSING_FILE)
# Training options that name places on the machine that trained: left out of a shared preset.
LOCAL_OPTIONS = ("output_dir", "overwrite", "tfds_data_dir", "data_dir")
SLICE_PLANE = "axial"  # tfds_brats slices canonical volumes as [:, :, k]


class PresetError(ModelError):
    """A preset that cannot be used: the message names the file and what is wrong."""


def sha256_of(path) -> str:
    """The SHA-256 of a file, hex: `magan_keras.atomic.file_sha256`, the package's one file hash.

    Args:
        path: str or path-like.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = open(path, "w").write("abc")
    >>> sha256_of(path)[:16]
    'ba7816bf8f01cfea'
    """
    return atomic.file_sha256(path)


def file_digests(folder) -> dict:
    """`{relative path: sha256}` of every file under `folder` but `metadata.json`, sorted.

    Args:
        folder: str or path-like.

    Example:
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "config.json"), "w").write("{}")
    >>> list(file_digests(folder))
    ['config.json']
    """
    folder = pathlib.Path(folder)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return {name: sha256_of(folder / name) for name in names if name != METADATA_FILE}


def training_data_record(builder) -> dict | None:
    """What `metadata.json` says about the training data, from the run's TFDS builder.

    Args:
        builder: a prepared `tfds_brats` builder (`run.prepared_builder`), or None.

    Returns:
        dict with `dataset` (TFDS name), `description` (its first line), `subjects` and
        `split_subjects` (counts per split, when the builder recorded them), `split_slices`
        (examples per split); None without a builder.
    """
    if builder is None:
        return None
    info = builder.info
    metadata = dict(info.metadata or {}) if info.metadata is not None else {}
    split_ids = metadata.get("split_subjects") or {}
    description = getattr(builder.builder_config, "description", None) or ""
    return {
        "dataset": info.full_name.rsplit("/", 1)[0] if info.full_name.count("/") >= 2 else info.full_name,
        "version": str(info.version),
        "description": description.strip().splitlines()[0] if description.strip() else "",
        "subjects": metadata.get("subjects_found", sum(len(v) for v in split_ids.values()) or None),
        "split_subjects": {name: len(ids) for name, ids in split_ids.items()},
        "split_slices": {name: int(split.num_examples) for name, split in info.splits.items()},
    }


def _versions():
    import keras  # pylint: disable=import-outside-toplevel

    import magan_keras  # pylint: disable=import-outside-toplevel

    return {
        "magan_keras": magan_keras.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "python": platform.python_version(),
    }


def build_metadata(model, files, training_data=None) -> dict:
    """The `metadata.json` dict of a preset of `model` whose other files have the digests `files`.

    Args:
        model: the `MAGAN`.
        files: `file_digests` of the folder.
        training_data: `training_data_record(builder)`, or None.
    """
    record = model.preprocessing
    return {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "model": type(model).__name__,
        "modalities": list(model.modalities),
        "image_size": int(model.image_size),
        "canvas_size": int(record.canvas_size),
        "slice_plane": SLICE_PLANE,
        "preprocessing_recorded": not record.assumed,
        "versions": _versions(),
        "saved": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "training_data": training_data,
        "files": files,
    }


def _shareable_training_config(run_dir):
    config = model_card.run_record(run_dir)["config"] if run_dir is not None else None
    if not isinstance(config, dict):
        return None
    return {k: v for k, v in config.items() if k not in LOCAL_OPTIONS}


def _weights_only_copy(model):
    """`model`, or when compiled an uncompiled twin with its weights (a preset carries no optimiser state)."""
    if getattr(model, "optimizer", None) is None:
        return model
    twin = type(model).from_config(model.get_config())
    twin.set_weights(model.get_weights())
    return twin


def save_to_preset(model, folder, *, run_dir=None, builder=None, overwrite=False) -> pathlib.Path:
    """Writes `model` as a preset folder (see the module docstring); the folder appears whole or not at all.

    Args:
        model: a `MAGAN`.
        folder: str or path-like. The preset folder (must not exist unless `overwrite`).
        run_dir: the training run's folder: its config, test metrics and evaluation go into the
            model card and `training_config.json`; None for a model saved by hand.
        builder: the training data's TFDS builder (`run.prepared_builder`), for `metadata.json`.
        overwrite: bool. Replace an existing preset (only a folder holding our `metadata.json`).

    Returns:
        `pathlib.Path` of the folder.

    Raises:
        PresetError: not a MAGAN, or the folder exists (and is not a preset to overwrite).

    Example (the module's example saves a model):
    >>> save_to_preset("model.keras", "preset_a")
    Traceback (most recent call last):
    ...
    magan_keras.sharing.preset.PresetError: save_to_preset takes a MAGAN, got a str
    """
    import keras  # pylint: disable=import-outside-toplevel

    from magan_keras.models.magan import MAGAN  # pylint: disable=import-outside-toplevel

    if not isinstance(model, MAGAN):
        raise PresetError(f"save_to_preset takes a MAGAN, got a {type(model).__name__}")
    folder = pathlib.Path(atomic.check_output_path(os.fspath(folder), "preset", PresetError))
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise PresetError(f"preset folder {folder} exists and is not empty; pass overwrite=True or choose another")
        if not (folder / METADATA_FILE).is_file() or _read_json(folder / METADATA_FILE, folder).get("kind") != KIND:
            raise PresetError(f"{folder} exists and is not a magan_keras preset (no {METADATA_FILE}); left untouched")
    staging = folder.with_name(f".{folder.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    with atomic.new_directory(staging) as temporary:
        keras.saving.save_model(_weights_only_copy(model), temporary, zipped=False, overwrite=True)
        (temporary / METADATA_FILE).unlink(missing_ok=True)  # Keras' own; ours replaces it
        assets = temporary / "assets"
        if assets.is_dir() and not any(assets.iterdir()):
            assets.rmdir()  # Keras leaves an empty one; no layer of ours has assets
        atomic.write_json(temporary / PREPROCESSING_FILE, model.preprocessing.to_config())
        training_config = _shareable_training_config(run_dir)
        if training_config is not None:
            atomic.write_json(temporary / TRAINING_CONFIG_FILE, training_config)
        partial = build_metadata(model, {}, training_data_record(builder))
        atomic.write_text(temporary / CARD_FILE, model_card.model_card(partial, model_card.run_record(run_dir)))
        atomic.write_json(temporary / METADATA_FILE, {**partial, "files": file_digests(temporary)})
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(folder, old)
        os.rename(staging, folder)
        shutil.rmtree(old)
    else:
        os.rename(staging, folder)
    return folder


def _read_json(path, folder):
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except ValueError as error:
        raise PresetError(f"preset {folder}: {path.name} is not valid JSON ({error})") from error
    except OSError as error:
        raise PresetError(f"preset {folder}: cannot read {path.name} ({error})") from error
    if not isinstance(value, dict):
        raise PresetError(f"preset {folder}: {path.name} must hold a JSON object")
    return value


def validate_preset(folder, modalities=None) -> dict:
    """Checks a preset folder; returns its metadata. Every refusal is one line naming the file.

    Checked: `metadata.json` is ours and of a format this version reads; every file it lists is
    there with the recorded SHA-256; the model in `config.json` and `preprocessing.json` agree
    with the metadata (contrasts, image and canvas size); the contrasts are `modalities` when given.

    Args:
        folder: str or path-like, a local preset folder (`hub.resolve` gives one for a handle).
        modalities: sequence of str the caller needs, in channel order, or None.

    Raises:
        PresetError: the message names the file and what is wrong.

    Example:
    >>> import tempfile
    >>> validate_preset(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    magan_keras.sharing.preset.PresetError: preset ...: metadata.json is missing (not a magan_keras preset folder)
    """
    folder = pathlib.Path(folder)
    meta_path = folder / METADATA_FILE
    if not meta_path.is_file():
        hint = ""
        if (folder / "preset" / METADATA_FILE).is_file():
            hint = f"; a training run's preset is {folder / 'preset'}"
        elif (folder / "model.keras").is_file():
            hint = f"; to load the run's model give {folder / 'model.keras'}"
        raise PresetError(f"preset {folder}: {METADATA_FILE} is missing (not a magan_keras preset folder){hint}")
    metadata = _read_json(meta_path, folder)
    if metadata.get("kind") != KIND:
        raise PresetError(
            f"preset {folder}: {METADATA_FILE} is not a magan_keras preset's (kind {metadata.get('kind')!r})"
        )
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PresetError(f"preset {folder}: {METADATA_FILE} has no valid format_version (got {version!r})")
    if version > FORMAT_VERSION:
        made_by = (metadata.get("versions") or {}).get("magan_keras", "a newer version")
        raise PresetError(
            f"preset {folder}: {METADATA_FILE} format_version {version} is newer than this magan_keras reads "
            f"({FORMAT_VERSION}); it was made by magan_keras {made_by}: upgrade magan_keras"
        )
    files = metadata.get("files")
    if not isinstance(files, dict):
        raise PresetError(f"preset {folder}: {METADATA_FILE} lists no files")
    for name in REQUIRED_FILES:
        if name not in files:
            raise PresetError(f"preset {folder}: {METADATA_FILE} does not list {name}")
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise PresetError(f"preset {folder}: {name} is missing")
        if sha256_of(path) != expected:
            raise PresetError(
                f"preset {folder}: {name} has changed since the preset was made (SHA-256 differs from {METADATA_FILE})"
            )
    config = _read_json(folder / CONFIG_FILE, folder).get("config") or {}
    preprocessing = _read_json(folder / PREPROCESSING_FILE, folder)
    recorded = {
        "modalities": list(metadata.get("modalities") or ()),
        "image_size": metadata.get("image_size"),
        "canvas_size": metadata.get("canvas_size"),
    }
    actual = {
        "modalities": [str(m) for m in config.get("modalities") or ()],
        "image_size": config.get("image_size"),
        "canvas_size": (config.get("preprocessing") or preprocessing or {}).get("canvas_size"),
    }
    for key, value in recorded.items():
        if value != actual[key]:
            raise PresetError(
                f"preset {folder}: {METADATA_FILE} says {key} {value!r} "
                f"but the model in {CONFIG_FILE} has {actual[key]!r}"
            )
    stored = config.get("preprocessing")
    if stored is not None and stored != preprocessing:
        raise PresetError(f"preset {folder}: {PREPROCESSING_FILE} differs from the record in {CONFIG_FILE}")
    if modalities is not None and list(modalities) != recorded["modalities"]:
        raise PresetError(
            f"preset {folder}: the model is for contrasts {', '.join(recorded['modalities'])} "
            f"({METADATA_FILE}), not {', '.join(modalities)}"
        )
    return metadata


def is_preset_source(value) -> bool:
    """Whether `value` names a preset (a folder or an `hf://` / `kaggle://` handle) rather than a `.keras` file.

    Args:
        value: a `--model` value or anything else.

    Example:
    >>> import tempfile
    >>> is_preset_source(tempfile.mkdtemp()), is_preset_source("hf://o/n"), is_preset_source("m.keras")
    (True, True, False)
    """
    if hub.is_handle(value):
        return True
    return isinstance(value, (str, os.PathLike)) and os.path.isdir(os.path.expanduser(os.fspath(value)))


def from_preset(handle, modalities=None):
    """The `MAGAN` of a preset (uncompiled: `compile()` it to train further).

    Args:
        handle: a preset folder, `hf://owner/name` or `kaggle://owner/model/framework/variation[/version]`.
        modalities: the contrasts the caller needs, in order, or None (any).

    Raises:
        PresetError: a damaged or incompatible preset (the message names the file).
        hub.HubError: a handle that cannot be resolved.

    Example:
    >>> model = from_preset("my_preset")
    >>> type(model).__name__, model.image_size
    ('MAGAN', 16)
    """
    import keras  # pylint: disable=import-outside-toplevel

    import magan_keras  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import  (registers classes)

    folder = hub.resolve(handle)
    validate_preset(folder, modalities)
    try:
        return keras.saving.load_model(os.fspath(folder), compile=False)
    except Exception as error:  # Keras raises many types for bad configs and weights
        raise PresetError(
            f"preset {folder}: {CONFIG_FILE} / {WEIGHTS_FILE} do not load ({type(error).__name__}: {error})"
        ) from error


def load_generator_from_preset(handle, modalities=None):
    """The generator of a preset, what `synthesize`, `evaluate` and `export` run.

    Args:
        handle: as `from_preset`.
        modalities: as `from_preset`.

    Example:
    >>> load_generator_from_preset("my_preset").preprocessing.canvas_size
    16
    """
    return from_preset(handle, modalities).generator


def training_config_file(handle) -> pathlib.Path:
    """The preset's `training_config.json` (for `train --config` and `tune --config`).

    Args:
        handle: as `from_preset`.

    Raises:
        PresetError: a damaged preset, or one saved without a run (no training config).

    Example:
    >>> training_config_file("my_preset")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    magan_keras.sharing.preset.PresetError: preset ...: no training_config.json (saved without a run folder)
    """
    folder = hub.resolve(handle)
    validate_preset(folder)
    path = folder / TRAINING_CONFIG_FILE
    if not path.is_file():
        raise PresetError(f"preset {folder}: no {TRAINING_CONFIG_FILE} (saved without a run folder)")
    return path


def publish(preset_dir, target, *, message=None, private=False) -> str:
    """Checks a preset and sends it to `target` (a new folder, `hf://owner/name` or `kaggle://...`).

    Args:
        preset_dir: the local preset folder.
        target: where to (see `hub.upload`).
        message: commit message, or None.
        private: bool. A new Hub repository is private.

    Returns:
        str: the folder or URL it went to.

    Example:
    >>> os.path.basename(publish("my_preset", "shared_copy"))
    'shared_copy'
    >>> validate_preset("shared_copy")["image_size"]
    16
    """
    if hub.is_handle(preset_dir):
        raise PresetError(f"--preset {preset_dir}: give a local preset folder to publish")
    folder = hub.resolve(preset_dir)
    metadata = validate_preset(folder)
    files = [METADATA_FILE, *metadata["files"]]
    return hub.upload(folder, target, files, message=message, private=private)
