"""Running a trained generator: loading it, batching slices, synthesising whole volumes.

Shared by `magan_keras.synthesize`, `magan_keras.evaluate` and `magan_keras.export`.

Example:

```python
from magan_keras.inference import generator as inference


generator = inference.load_generator("runs/magan/model.keras")
synthesis = inference.synthesize_volume(generator, images, available, "flair", brain_mask)
```
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from magan_keras.inference import volumes as volume_io



class ModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


def load_generator(model):
    """The generator of a MAGAN, from a `.keras` file or an in-memory model.

    Args:
        model: path to a `.keras` file holding a `MAGAN` or a `MultiBranchGenerator`, or such a
            model object. Any Keras model with `modalities` and `image_size` attributes taking
            `{"images", "available", "target"}` also works (its `generator` if it has one).

    Returns:
        the generator: a model mapping `{"images" [B, S, S, M], "available" [B, M],
        "target" [B, M]}` to `[B, S, S, 1]`, with `.modalities` and `.image_size`.

    Raises:
        ModelError: the file does not exist, does not load, or holds another kind of model.

    Example:

    ```python
    generator = load_generator("model.keras")
    generator.modalities, generator.image_size  # ('t1', 't1ce', 't2', 'flair'), 128
    ```
    """
    source = "the given model"
    if isinstance(model, (str, os.PathLike)):
        path = pathlib.Path(os.path.expanduser(os.fspath(model)))
        source = str(path)
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        if path.suffix != ".keras":
            raise ModelError(f"model file {path}: expected a Keras 3 '.keras' file")
        import keras  # pylint: disable=import-outside-toplevel

        import magan_keras  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import  (registers classes)

        try:
            model = keras.saving.load_model(os.fspath(path), compile=False)
        except Exception as error:  # Keras raises many types for bad files
            raise ModelError(f"model file {path} does not load ({type(error).__name__}: {error})") from error
    generator = getattr(model, "generator", model)
    if not (hasattr(generator, "modalities") and hasattr(generator, "image_size")):
        raise ModelError(
            f"{source} holds a {type(model).__name__}, not a MAGAN or MultiBranchGenerator "
            "(no 'modalities' / 'image_size')"
        )
    return generator


def predict_slices(generator, slices, available, target, *, batch_size=8, progress=None):
    """Runs the generator on a stack of model-size slices with one target.

    Args:
        generator: from `load_generator`.
        slices: float32 `[K, S, S, M]` in [-1, 1]; channels where `available` is 0 are ignored
            (zero-filled here, as in training).
        available: `[M]` 0/1 (or `[K, M]`).
        target: int channel index or contrast name (never an available one).
        batch_size: int >= 1. Slices per model call; the last batch is padded to full size so
            the model is traced once.
        progress: callable taking the number of slices done in each batch (e.g. `tqdm.update`),
            or None.

    Returns:
        float32 `[K, S, S]` synthesis in [-1, 1].

    Example:

    ```python
    flair = predict_slices(generator, slices, [1, 1, 1, 0], "flair")
    ```
    """
    modalities = tuple(generator.modalities)
    target_index = modalities.index(target) if isinstance(target, str) else int(target)
    slices = np.asarray(slices, np.float32)
    count, num_modalities = slices.shape[0], len(modalities)
    available = np.broadcast_to(np.asarray(available, np.float32), (count, num_modalities))
    if np.any(available[:, target_index] > 0):
        raise ValueError(f"the target '{modalities[target_index]}' cannot also be an input")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    target = np.zeros((batch_size, num_modalities), np.float32)
    target[:, target_index] = 1.0
    outputs = np.empty(slices.shape[:3], np.float32)
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        images = slices[start:stop] * available[start:stop, None, None, :]
        batch_available = available[start:stop]
        if stop - start < batch_size:
            pad = batch_size - (stop - start)
            images = np.concatenate([images, np.zeros((pad,) + images.shape[1:], np.float32)])
            batch_available = np.concatenate([batch_available, np.repeat(batch_available[:1], pad, 0)])
        result = generator.predict_on_batch(
            {"images": images, "available": np.ascontiguousarray(batch_available), "target": target}
        )
        outputs[start:stop] = np.asarray(result, np.float32)[: stop - start, ..., 0]
        if progress is not None:
            progress(stop - start)
    return outputs


def synthesize_volume(generator, images, available, target, brain_mask, *, canvas_size=None,
                      batch_size=8, progress=None):
    """Synthesises one contrast for a whole normalised volume.

    Axial slices with brain are padded / cropped and resized as the training slices were
    (`volumes.to_model_slices`), run through the generator in batches, and mapped back
    (`volumes.from_model_slices`); voxels outside `brain_mask` are set to -1.

    Args:
        generator: from `load_generator`.
        images: float32 `[X, Y, Z, M]` normalised (`volumes.normalise_inputs`), missing contrasts
            zero-filled.
        available: `[M]` 0/1.
        target: int channel index or contrast name.
        brain_mask: bool `[X, Y, Z]`.
        canvas_size: int or None (see `volumes.resolve_canvas_size`).
        batch_size: int. Slices per model call.
        progress: callable taking a number of slices done, or None.

    Returns:
        float32 `[X, Y, Z]` in [-1, 1] (the model's scale), -1 outside the brain.

    Example:

    ```python
    flair = synthesize_volume(generator, images, available, "flair", mask, canvas_size=256)
    ```
    """
    image_size = int(generator.image_size)
    brain_mask = np.asarray(brain_mask, bool)
    canvas_size = volume_io.resolve_canvas_size(canvas_size, brain_mask.shape[:2], image_size)
    slices, _, indices = volume_io.to_model_slices(
        images, brain_mask, image_size=image_size, canvas_size=canvas_size
    )
    predictions = predict_slices(generator, slices, available, target, batch_size=batch_size,
                                 progress=progress)
    volume = volume_io.from_model_slices(predictions, indices, brain_mask.shape, canvas_size=canvas_size)
    volume = np.clip(volume, -1.0, 1.0)
    volume[~brain_mask] = -1.0
    return volume


def to_unit_scale(volume, brain_mask=None):
    """Model scale [-1, 1] -> [0, 1] (clipped); 0 outside `brain_mask` when given.

    Example:

    ```python
    to_unit_scale(np.array([-1.0, 0.0, 1.0]))  # [0, 0.5, 1]
    ```
    """
    unit = np.asarray(volume, np.float32) + np.float32(1.0)  # a new array: the input is kept
    unit *= np.float32(0.5)
    np.clip(unit, 0.0, 1.0, out=unit)
    if brain_mask is not None:
        unit[~np.asarray(brain_mask, bool)] = 0.0
    return unit
