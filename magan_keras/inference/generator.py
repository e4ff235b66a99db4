"""Running a trained generator: loading it, its preprocessing record, batching slices, whole volumes.

Shared by `magan_keras.inference.synthesis`, `magan_keras.inference.export` and
`magan_keras.evaluation`. A generator carries the `tfds_brats.preprocessing.Preprocessing` record
of its training data (`generator.preprocessing`; `preprocessing_of` also covers models without
one): `synthesize_volume` slices volumes on its canvas, so no canvas has to be given. A model
saved before records existed is still usable: it gets the old defaults, and
`preprocessing_note` says so.

Example:
>>> import numpy as np
>>> from magan_keras.inference import generator as inference
>>> from magan_keras.models import MultiBranchGenerator
>>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1,
...                                  preprocessing={"canvas_size": 24})
>>> mask = np.zeros((20, 20, 3), bool)
>>> mask[4:16, 4:16] = True
>>> images = np.where(mask[..., None], 0.0, -1.0).astype(np.float32) * np.float32([1, 1, 1, 0])
>>> flair = inference.synthesize_volume(generator, images, [1, 1, 1, 0], "flair", mask)
>>> flair.shape, float(flair[~mask].max())
((20, 20, 3), -1.0)
"""

from __future__ import annotations

import os
import pathlib
import sys

import numpy as np

from magan_keras import atomic
from magan_keras.inference import volumes as volume_io
from tfds_brats import slicing
from tfds_brats.preprocessing import Preprocessing


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


def load_generator(model):
    """The generator of a MAGAN, from a `.keras` file, a preset or an in-memory model.

    Args:
        model: path to a `.keras` file holding a `MAGAN` or a `MultiBranchGenerator`; a preset
            folder or handle (`hf://owner/name`, `kaggle://...`: `magan_keras.sharing.preset`,
            checked before it loads); or such a model object. Any Keras model with `modalities`
            and `image_size` attributes taking `{"images", "available", "target"}` also works
            (its `generator` if it has one).

    Returns:
        the generator: a model mapping `{"images" [B, S, S, M], "available" [B, M],
        "target" [B, M]}` to `[B, S, S, 1]`, with `.modalities` and `.image_size`.

    A file saved with `magan_keras.atomic.save_model` is checked against the SHA-256 saved beside
    it (`model.keras.sha256`) and refused when they differ; a file without one loads, with a
    one-line note on stderr.

    Raises:
        ModelError: the file does not exist, does not match its checksum, does not load, or
            holds another kind of model; a damaged or incompatible preset (`PresetError`).

    Example:
    >>> from magan_keras.models import MultiBranchGenerator
    >>> model = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    >>> model.build_on_zeros()
    >>> model.save("generator.keras")
    >>> generator = load_generator("generator.keras")
    >>> generator.modalities, generator.image_size, generator.preprocessing.assumed
    (('t1', 't1ce', 't2', 'flair'), 16, True)
    >>> load_generator("missing.keras")
    Traceback (most recent call last):
    ...
    magan_keras.inference.generator.ModelError: model file missing.keras does not exist
    """
    source = "the given model"
    from magan_keras.sharing import preset  # pylint: disable=import-outside-toplevel  (it imports this module)

    if preset.is_preset_source(model):  # a preset folder or an hf:// / kaggle:// handle
        return preset.load_generator_from_preset(model)
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
            note = atomic.verify_checksum(path)
        except atomic.ChecksumError as error:
            raise ModelError(str(error)) from error
        if note:
            print(f"note: {note}", file=sys.stderr)
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


def preprocessing_of(generator) -> Preprocessing:
    """The generator's `Preprocessing` record; the defaults (marked `assumed`) when it has none.

    Args:
        generator: from `load_generator` (a `MultiBranchGenerator` or `SingleInputGenerator`
            keeps its record as `.preprocessing`; any other model with `modalities` gets the
            defaults).

    Returns:
        `tfds_brats.preprocessing.Preprocessing` with the generator's contrasts.

    Raises:
        ModelError: the record does not fit the model (other contrasts, bad values).

    Example:
    >>> import types
    >>> preprocessing_of(types.SimpleNamespace(modalities=("t1", "t2"), image_size=32)).assumed
    True
    """
    record = getattr(generator, "preprocessing", None)
    try:
        return Preprocessing.from_config(record, tuple(generator.modalities))
    except ValueError as error:
        raise ModelError(f"the model's preprocessing record is unusable: {error}") from error


def preprocessing_note(record: Preprocessing) -> str | None:
    """A line saying which preprocessing was assumed, for a model saved without a record; else None.

    Args:
        record: from `preprocessing_of`.

    Example:
    >>> preprocessing_note(Preprocessing()) is None
    True
    >>> print(preprocessing_note(Preprocessing.from_config(None)))  # doctest: +ELLIPSIS
    the model carries no preprocessing record (saved before ...); assuming the brats defaults: ...
    """
    if not record.assumed:
        return None
    return (
        "the model carries no preprocessing record (saved before records existed); assuming the brats "
        f"defaults: canvas {record.canvas_size} px (the model's size when a volume already has it), "
        f"brain percentiles {record.lower_percentile:g} / {record.upper_percentile:g}, "
        f"{record.orientation} orientation, contrasts {', '.join(record.modalities)}"
    )


def canvas_size_of(generator, in_plane_shape, canvas_size=None) -> int:
    """The canvas a volume of `in_plane_shape` is sliced on for `generator`.

    Args:
        generator: from `load_generator`.
        in_plane_shape: `(X, Y)` of the canonical volume.
        canvas_size: int to override the model's record, or None.

    Returns:
        int: the override, else the record's canvas, else (no record) the old rule of
        `volumes.resolve_canvas_size`.

    Example:
    >>> import types
    >>> old = types.SimpleNamespace(modalities=("t1", "t2"), image_size=64)
    >>> canvas_size_of(old, (240, 240)), canvas_size_of(old, (64, 64)), canvas_size_of(old, (64, 64), 80)
    (256, 64, 80)
    """
    return volume_io.resolve_canvas_size(
        canvas_size, in_plane_shape, int(generator.image_size), preprocessing_of(generator)
    )


def context_slices_of(generator) -> int:
    """The generator's 2.5-D context K (neighbours on each side of a slice; 0 for a 2-D model).

    Args:
        generator: from `load_generator`.

    Example:
    >>> import types
    >>> context_slices_of(types.SimpleNamespace(modalities=("t1", "t2"), image_size=32))
    0
    """
    return int(getattr(generator, "context_slices", 0) or 0)


def check_context_slices(generator, context_slices, source="the model"):
    """Raises `ModelError` when an explicit `context_slices` (e.g. `--context-slices`) differs from the model's.

    Args:
        generator: from `load_generator`.
        context_slices: int, or None (nothing asked: always fine).
        source: the model's name for the message.

    Example:
    >>> import types
    >>> check_context_slices(types.SimpleNamespace(context_slices=1), 2, "m.keras")
    Traceback (most recent call last):
    ...
    magan_keras.inference.generator.ModelError: --context-slices 2: m.keras was trained with 1 context ...
    """
    if context_slices is not None and int(context_slices) != context_slices_of(generator):
        raise ModelError(
            f"--context-slices {context_slices}: {source} was trained with {context_slices_of(generator)} "
            "context slices on each side"
        )


def volume_context(generator, images, brain_mask, indices, canvas_size):
    """The neighbours a 2.5-D generator takes for slices `indices` of a volume, or None for a 2-D one.

    `tfds_brats.slicing.to_context_slices` with the generator's K, size and the canvas: the
    builders' own function, so the neighbours are cut exactly as in training.

    Args:
        generator: from `load_generator`.
        images: float32 `[X, Y, Z, M]` normalised volume.
        brain_mask: bool `[X, Y, Z]`.
        indices: int `[N]` axial positions of the slices.
        canvas_size: int.

    Returns:
        float32 `[N, S, S, M, 2K]`, or None when K is 0.

    Example:
    >>> import types, numpy as np
    >>> g = types.SimpleNamespace(context_slices=1, image_size=8)
    >>> volume_context(g, np.zeros((8, 8, 3, 2), np.float32), np.ones((8, 8, 3), bool), [0, 1], 8).shape
    (2, 8, 8, 2, 2)
    """
    k = context_slices_of(generator)
    if not k:
        return None
    return slicing.to_context_slices(
        images, brain_mask, indices, k, image_size=int(generator.image_size), canvas_size=canvas_size
    )


def predict_slices(generator, slices, available, target, *, batch_size=8, progress=None, context=None):
    """Runs the generator on a stack of model-size slices with one target.

    Args:
        generator: from `load_generator`.
        slices: float32 `[K, S, S, M]` in [-1, 1]; channels where `available` is 0 are ignored
            (zero-filled here, as in training).
        context: float32 `[K, S, S, M, 2C]`: each slice's neighbours for a 2.5-D generator
            (`volume_context`), zero-filled here where `available` is 0; None for a 2-D one,
            or to take the neighbours from the stack itself (`stack_context`: `slices` then holds
            consecutive slices of one volume, the stack's ends padded with -1).
        available: `[M]` 0/1 (or `[K, M]`).
        target: int channel index or contrast name (never an available one).
        batch_size: int >= 1. Slices per model call; the last batch is padded to full size so
            the model is traced once.
        progress: callable taking the number of slices done in each batch (e.g. `tqdm.update`),
            or None.

    Returns:
        float32 `[K, S, S]` synthesis in [-1, 1].

    Example:
    >>> import numpy as np
    >>> from magan_keras.models import MultiBranchGenerator
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    >>> slices = np.zeros((5, 16, 16, 4), np.float32)
    >>> predict_slices(generator, slices, [1, 1, 1, 0], "flair", batch_size=2).shape
    (5, 16, 16)
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
    k = context_slices_of(generator)
    if k and context is None:
        context = stack_context(slices, k)
    outputs = np.empty(slices.shape[:3], np.float32)
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        images = slices[start:stop] * available[start:stop, None, None, :]
        batch_available = available[start:stop]
        batch = {"target": target}
        if k:
            batch["context"] = np.asarray(context[start:stop], np.float32) * available[start:stop, None, None, :, None]
        if stop - start < batch_size:
            pad = batch_size - (stop - start)
            images = np.concatenate([images, np.zeros((pad,) + images.shape[1:], np.float32)])
            batch_available = np.concatenate([batch_available, np.repeat(batch_available[:1], pad, 0)])
            if k:
                batch["context"] = np.concatenate(
                    [batch["context"], np.zeros((pad,) + batch["context"].shape[1:], np.float32)]
                )
        batch.update(images=images, available=np.ascontiguousarray(batch_available))
        result = generator.predict_on_batch(batch)
        outputs[start:stop] = np.asarray(result, np.float32)[: stop - start, ..., 0]
        if progress is not None:
            progress(stop - start)
    return outputs


def synthesize_volume(
    generator, images, available, target, brain_mask, *, canvas_size=None, batch_size=8, progress=None
):
    """Synthesises one contrast for a whole normalised volume.

    Axial slices with brain are padded / cropped to the model's canvas and resized as the
    training slices were (`tfds_brats.slicing.to_model_slices`), run through the generator in
    batches, and mapped back (`tfds_brats.slicing.from_model_slices`); voxels outside
    `brain_mask` are set to -1. The canvas comes from the generator's preprocessing record
    (`canvas_size_of`); every slice with brain is synthesised, also those with less than the
    record's `min_brain_fraction` (left out of training), so the whole brain is covered. A 2.5-D
    generator (`context_slices` K > 0) gets each slice's K neighbours on each side from the
    volume, cut as the builders cut them (`volume_context`).

    Args:
        generator: from `load_generator`.
        images: float32 `[X, Y, Z, M]` normalised (`volumes.normalise_inputs`), missing contrasts
            zero-filled.
        available: `[M]` 0/1.
        target: int channel index or contrast name.
        brain_mask: bool `[X, Y, Z]`.
        canvas_size: int to override the model's canvas, or None (the model's record; for a
            model without one, the old rule of `volumes.resolve_canvas_size`).
        batch_size: int. Slices per model call.
        progress: callable taking a number of slices done, or None.

    Returns:
        float32 `[X, Y, Z]` in [-1, 1] (the model's scale), -1 outside the brain.

    Example:
    >>> import numpy as np
    >>> from magan_keras.models import MultiBranchGenerator
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    >>> mask = np.ones((16, 16, 2), bool)
    >>> images = np.zeros((16, 16, 2, 4), np.float32)
    >>> synthesize_volume(generator, images, [1, 0, 1, 0], "t1ce", mask).shape
    (16, 16, 2)
    """
    image_size = int(generator.image_size)
    brain_mask = np.asarray(brain_mask, bool)
    canvas_size = canvas_size_of(generator, brain_mask.shape[:2], canvas_size)
    slices, _, _, indices = slicing.to_model_slices(images, brain_mask, image_size=image_size, canvas_size=canvas_size)
    context = volume_context(generator, images, brain_mask, indices, canvas_size)
    predictions = predict_slices(
        generator, slices, available, target, batch_size=batch_size, progress=progress, context=context
    )
    volume = slicing.from_model_slices(predictions, indices, brain_mask.shape, canvas_size=canvas_size)
    volume = np.clip(volume, -1.0, 1.0)
    volume[~brain_mask] = -1.0
    return volume


def stack_context(slices, context_slices):
    """Neighbours of each slice of a stack of consecutive model-size slices (the stack's ends padded with -1).

    For a stack of all of a volume's slices in order this equals what
    `tfds_brats.slicing.to_context_slices` gives (the in-plane cut is already done).

    Args:
        slices: float32 `[N, S, S, M]`.
        context_slices: int K.

    Returns:
        float32 `[N, S, S, M, 2K]` (offsets -K..-1, 1..K).

    Example:
    >>> import numpy as np
    >>> stack = np.arange(3, dtype=np.float32)[:, None, None, None] * np.ones((3, 2, 2, 1), np.float32)
    >>> stack_context(stack, 1)[:, 0, 0, 0].tolist()
    [[-1.0, 1.0], [0.0, 2.0], [1.0, -1.0]]
    """
    slices = np.asarray(slices, np.float32)
    edge = np.full((context_slices,) + slices.shape[1:], -1.0, np.float32)
    padded = np.concatenate([edge, slices, edge])
    count = slices.shape[0]
    offsets = slicing.context_offsets(context_slices)
    return np.stack([padded[context_slices + d : context_slices + d + count] for d in offsets], axis=-1)


def to_unit_scale(volume, brain_mask=None):
    """Model scale [-1, 1] -> [0, 1] (clipped); 0 outside `brain_mask` when given.

    Args:
        volume: array on the model's scale (the input is not changed).
        brain_mask: bool array of its shape, or None.

    Returns:
        float32 array in [0, 1].

    Example:
    >>> import numpy as np
    >>> to_unit_scale(np.array([-1.0, 0.0, 1.0, 3.0])).tolist()
    [0.0, 0.5, 1.0, 1.0]
    >>> to_unit_scale(np.array([0.0, 0.0]), np.array([True, False])).tolist()
    [0.5, 0.0]
    """
    unit = np.asarray(volume, np.float32) + np.float32(1.0)  # a new array: the input is kept
    unit *= np.float32(0.5)
    np.clip(unit, 0.0, 1.0, out=unit)
    if brain_mask is not None:
        unit[~np.asarray(brain_mask, bool)] = 0.0
    return unit
