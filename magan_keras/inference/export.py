"""Export a trained generator for TensorFlow Serving: `python -m magan_keras.export`.

Writes a SavedModel in TF Serving's layout, `<export-dir>/<name>/<version>/`, whose
`serving_default` signature is

| direction | name        | dtype   | shape          | meaning                                       |
|-----------|-------------|---------|----------------|-----------------------------------------------|
| input     | `images`    | float32 | `[B, S, S, M]` | contrasts in the model's order, [-1, 1], missing ones 0 |
| input     | `available` | float32 | `[B, M]`       | 1.0 where a contrast is given                 |
| input     | `target`    | float32 | `[B, M]`       | one-hot of the contrast to synthesise         |
| output    | `synthesis` | float32 | `[B, S, S, 1]` | the synthesised target in [-1, 1]             |

`S` is the model's image size and `M` its number of contrasts; slices must be normalised as in
training (see `magan_keras.synthesize`). The contrast order, `S` and the names above are also
written to `<version>/assets.extra/magan_keras.json` (TF Serving ignores that folder).

An existing version is never overwritten. The SavedModel is written to a hidden temporary folder
beside the version (TF Serving only loads numeric folder names) and renamed into place, so a
server watching `<export-dir>/<name>` never sees a partial version.

Backends: works from the TensorFlow and JAX backends (JAX goes through `jax2tf`); the torch
backend cannot export a SavedModel of this model.

Command line:

    python -m magan_keras.export --model runs/magan/model.keras --export-dir serving/ \\
        --name magan --version 1

Example:

```python
from magan_keras.inference.export import export_generator

path = export_generator("model.keras", "serving/", name="magan", version=1)
# serving/magan/1/saved_model.pb
```
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import sys
import tempfile

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

    ```python
    export_generator(model, "/tmp/serving", version=2)  # /tmp/serving/magan/2
    ```
    """
    import keras  # pylint: disable=import-outside-toplevel

    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(f"--name must be letters, digits, '_', '.', '-', got {name!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"--version must be an int >= 1, got {version!r}")
    if keras.backend.backend() == "torch":
        raise ValueError("SavedModel export does not work from the torch backend; "
                         "set KERAS_BACKEND=tensorflow (or jax)")
    generator = inference.load_generator(model)
    base = pathlib.Path(os.path.expanduser(os.fspath(export_dir))) / name
    target = base / str(version)
    if target.exists():
        raise FileExistsError(f"{target} exists; refusing to overwrite an exported version")
    base.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base))
    try:
        archive = _archive(generator)
        archive.write_out(os.fspath(temporary / "model"), verbose=verbose)
        extra = temporary / "model" / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "magan_keras.json").write_text(json.dumps(describe(generator), indent=2) + "\n")
        if target.exists():  # another process exported this version meanwhile
            raise FileExistsError(f"{target} exists; refusing to overwrite an exported version")
        os.rename(temporary / "model", target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return target


def describe(generator) -> dict:
    """What a client needs to call the SavedModel (written to `assets.extra/magan_keras.json`)."""
    size, modalities = int(generator.image_size), list(generator.modalities)
    m = len(modalities)
    return {
        "signature": SIGNATURE,
        "modalities": modalities,
        "image_size": size,
        "inputs": {
            "images": {"dtype": "float32", "shape": [-1, size, size, m],
                       "meaning": "contrasts in 'modalities' order, normalised to [-1, 1], missing 0"},
            "available": {"dtype": "float32", "shape": [-1, m], "meaning": "1.0 where given"},
            "target": {"dtype": "float32", "shape": [-1, m], "meaning": "one-hot of the contrast to synthesise"},
        },
        "outputs": {OUTPUT_NAME: {"dtype": "float32", "shape": [-1, size, size, 1],
                                  "meaning": "synthesised target in [-1, 1]"}},
    }


def _archive(generator):
    import keras  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    size, m = int(generator.image_size), len(generator.modalities)
    archive = keras.export.ExportArchive()
    archive.track(generator)

    def serve(images, available, target):
        synthesis = generator({"images": images, "available": available, "target": target}, training=False)
        return {OUTPUT_NAME: synthesis}

    archive.add_endpoint(
        name=SIGNATURE,
        fn=serve,
        input_signature=[
            tf.TensorSpec([None, size, size, m], tf.float32, name="images"),
            tf.TensorSpec([None, m], tf.float32, name="available"),
            tf.TensorSpec([None, m], tf.float32, name="target"),
        ],
    )
    return archive


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of `python -m magan_keras.export`."""
    parser = argparse.ArgumentParser(
        prog="python -m magan_keras.export",
        description="Export a trained MA-GAN generator as a TF Serving SavedModel "
                    "(<export-dir>/<name>/<version>/, signature serving_default: images, "
                    "available, target -> synthesis).",
    )
    parser.add_argument("--model", required=True, help="trained model: a .keras MAGAN or generator")
    parser.add_argument("--export-dir", required=True, help="TF Serving model base folder")
    parser.add_argument("--name", default="magan", help="model name (magan)")
    parser.add_argument("--version", type=int, default=1, help="version number (1); never overwritten")
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        path = export_generator(args.model, args.export_dir, name=args.name, version=args.version)
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} (signature '{SIGNATURE}': inputs {', '.join(INPUT_NAMES)}; output {OUTPUT_NAME})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
