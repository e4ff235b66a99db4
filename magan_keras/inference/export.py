"""Export a trained generator for TensorFlow Serving (the library of `python -m magan_keras.export`).

Writes a SavedModel in TF Serving's layout, `<export-dir>/<name>/<version>/`, whose
`serving_default` signature is

| direction | name        | dtype   | shape          | meaning                                       |
|-----------|-------------|---------|----------------|-----------------------------------------------|
| input     | `images`    | float32 | `[B, S, S, M]` | contrasts in the model's order, [-1, 1], missing ones 0 |
| input     | `available` | float32 | `[B, M]`       | 1.0 where a contrast is given                 |
| input     | `target`    | float32 | `[B, M]`       | one-hot of the contrast to synthesise         |
| input     | `context`   | float32 | `[B, S, S, M, 2K]` | 2.5-D models only: neighbours, see below |
| output    | `synthesis` | float32 | `[B, S, S, 1]` | the synthesised target in [-1, 1]             |

`S` is the model's image size, `M` its number of contrasts and `K` its `context_slices` (a 2-D
model, K = 0, has no `context` input and the signature it always had). A 2.5-D model
(`context_slices` K > 0) also takes `context`: each contrast's K axial neighbours on each side of
the slice, offsets -K..-1, 1..K in that order, cut like `images`
(`tfds_brats.slicing.to_context_slices`; -1 beyond the volume's ends), missing contrasts 0; slices must be made as in
training (see `magan_keras.inference.synthesis`). The contrast order, `S`, the names above and
the model's preprocessing record (canvas, percentiles, minimum brain fraction, orientation: how
a client must turn volumes into those slices) are also written to
`<version>/assets.extra/magan_keras.json` (TF Serving ignores that folder); for a model saved
without a record the defaults are written, with `"preprocessing_assumed": true` and a note.

An existing version is never overwritten. The SavedModel is written to a hidden temporary folder
beside the version (`magan_keras.atomic.new_directory`; TF Serving only loads numeric folder
names) and renamed into place, so a server watching `<export-dir>/<name>` never sees a partial
version.

Backends: works from the TensorFlow and JAX backends (JAX goes through `jax2tf`); the torch
backend cannot export a SavedModel of this model.

The command line is `magan_keras.cli.export`:

    python -m magan_keras.export --model runs/magan/model.keras --export-dir serving/ \\
        --name magan --version 1

Example:
>>> from magan_keras.inference.export import describe
>>> from magan_keras.models import MultiBranchGenerator
>>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1,
...                                  preprocessing={"canvas_size": 24})
>>> info = describe(generator)
>>> info["inputs"]["images"]["shape"], info["preprocessing"]["canvas_size"], info["preprocessing_assumed"]
([-1, 16, 16, 4], 24, False)
"""

from __future__ import annotations

import os
import pathlib
import re

from magan_keras import atomic
from magan_keras.inference import generator as inference

SIGNATURE = "serving_default"
INPUT_NAMES = ("images", "available", "target")
OUTPUT_NAME = "synthesis"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def export_generator(model, export_dir, *, name="magan", version=1, verbose=False) -> pathlib.Path:
    """Exports the generator as a TF Serving SavedModel at `export_dir/name/version`.

    Args:
        model: a `MAGAN`, its generator, or a `.keras` path.
        export_dir: folder of TF Serving's model base paths (created if needed).
        name: str. Model name (TF Serving's `MODEL_NAME`), letters, digits, `_ . -`.
        version: int >= 1. Version folder.
        verbose: bool. Print Keras' summary of the endpoint.

    Returns:
        the version folder written.

    Raises:
        FileExistsError: the version exists.
        ValueError: a bad name or version, or the torch backend.
        inference.ModelError: the model file is unusable.

    Example:
    >>> from magan_keras.models import MultiBranchGenerator
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    >>> generator.build_on_zeros()  # a trained or reloaded model is built already
    >>> path = export_generator(generator, "serving", version=2)
    >>> path.as_posix(), sorted(p.name for p in path.iterdir())
    ('serving/magan/2', ['assets', 'assets.extra', 'fingerprint.pb', 'saved_model.pb', 'variables'])
    """
    import keras  # pylint: disable=import-outside-toplevel

    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(f"--name must be letters, digits, '_', '.', '-', got {name!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"--version must be an int >= 1, got {version!r}")
    if keras.backend.backend() == "torch":
        raise ValueError(
            "SavedModel export does not work from the torch backend; set KERAS_BACKEND=tensorflow (or jax)"
        )
    generator = inference.load_generator(model)
    description = describe(generator)
    base = pathlib.Path(os.path.expanduser(os.fspath(export_dir))) / name
    target = base / str(version)
    if target.exists():
        raise FileExistsError(f"{target} exists; refusing to overwrite an exported version")
    for folder in (base.parent, base):
        if os.path.lexists(folder) and not folder.is_dir():
            raise ValueError(f"--export-dir: {folder} exists and is not a folder; choose another --export-dir")
    try:
        with atomic.new_directory(target) as temporary:
            _archive(generator).write_out(os.fspath(temporary), verbose=verbose)
            atomic.write_json(temporary / "assets.extra" / "magan_keras.json", description)
            if target.exists():  # another process exported this version meanwhile
                raise FileExistsError(f"{target} exists; refusing to overwrite an exported version")
    except OSError as error:  # a read-only folder, a file in the way
        if isinstance(error, FileExistsError):
            raise
        where, reason = error.filename or target, error.strerror or error
        raise ValueError(f"--export-dir: cannot write {where} ({reason}); nothing was written") from error
    atomic.remove_leftovers(target)  # of an export killed before
    return target


def describe(generator) -> dict:
    """What a client needs to call the SavedModel (written to `assets.extra/magan_keras.json`).

    Args:
        generator: from `inference.load_generator`.

    Returns:
        dict: the signature's name, contrasts, image size, inputs and outputs (dtype, shape,
        meaning), the preprocessing record (`tfds_brats.preprocessing.Preprocessing.to_config`)
        and `preprocessing_assumed` (True, with `notes`, for a model saved without a record).

    Example:
    >>> from magan_keras.models import MultiBranchGenerator
    >>> info = describe(MultiBranchGenerator(("t1", "t2"), image_size=16, base_filters=2, res_blocks=1))
    >>> info["modalities"], info["preprocessing"]["canvas_size"], info["preprocessing_assumed"]
    (['t1', 't2'], 256, True)
    """
    size, modalities = int(generator.image_size), list(generator.modalities)
    m = len(modalities)
    k = inference.context_slices_of(generator)
    record = inference.preprocessing_of(generator)
    note = inference.preprocessing_note(record)
    context = {}
    if k:
        context["context"] = {
            "dtype": "float32",
            "shape": [-1, size, size, m, 2 * k],
            "meaning": f"each contrast's {k} axial neighbours on each side (offsets -{k}..-1, 1..{k}), cut like "
            "images (tfds_brats.slicing.to_context_slices), -1 beyond the volume's ends, missing contrasts 0",
        }
    return {
        "signature": SIGNATURE,
        "modalities": modalities,
        "image_size": size,
        "context_slices": k,
        "inputs": {
            "images": {
                "dtype": "float32",
                "shape": [-1, size, size, m],
                "meaning": "contrasts in 'modalities' order, normalised to [-1, 1], missing 0",
            },
            "available": {"dtype": "float32", "shape": [-1, m], "meaning": "1.0 where given"},
            "target": {"dtype": "float32", "shape": [-1, m], "meaning": "one-hot of the contrast to synthesise"},
            **context,
        },
        "outputs": {
            OUTPUT_NAME: {"dtype": "float32", "shape": [-1, size, size, 1], "meaning": "synthesised target in [-1, 1]"}
        },
        "preprocessing": record.to_config(),
        "preprocessing_assumed": bool(record.assumed),
        "notes": [note] if note else [],
    }


def _archive(generator):
    import keras  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    size, m = int(generator.image_size), len(generator.modalities)
    archive = keras.export.ExportArchive()
    archive.track(generator)

    signature = [
        tf.TensorSpec([None, size, size, m], tf.float32, name="images"),
        tf.TensorSpec([None, m], tf.float32, name="available"),
        tf.TensorSpec([None, m], tf.float32, name="target"),
    ]
    k = inference.context_slices_of(generator)
    if k:

        def serve(images, available, target, context):
            inputs = {"images": images, "available": available, "target": target, "context": context}
            return {OUTPUT_NAME: generator(inputs, training=False)}

        signature.append(tf.TensorSpec([None, size, size, m, 2 * k], tf.float32, name="context"))
    else:

        def serve(images, available, target):
            synthesis = generator({"images": images, "available": available, "target": target}, training=False)
            return {OUTPUT_NAME: synthesis}

    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=signature)
    return archive
