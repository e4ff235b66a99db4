"""Multi-planar synthesis: slice the volume along several axes, synthesise each, fuse.

A model trained on axial slices synthesises a volume slice by slice along z, and nothing ties
neighbouring slices together (stripes in coronal and sagittal cuts). `synthesize_planes` runs
the ordinary volume synthesis (`generator.synthesize_volume`: canvas, resize, batches, exact
inverse) once per requested plane on the volume transposed so that plane's slices are its axial
ones (`tfds_brats.planes.to_axial`), transposes each result back, and fuses them voxel by voxel:
the mean of the planes (a voxel-wise median measured no better on the phantom). Every plane
uses the canvas of the axial one (the model's saved canvas), so the brain keeps the pixel scale
the model was trained at; coronal and sagittal slices (240 x 155 for BraTS) are centre-padded to
it. A voxel a plane's canvas crops away (a slice side larger than the canvas) is left out of
that plane's vote; voxels no plane covers are -1, as outside the brain.

`planes=("axial",)` is exactly `synthesize_volume`. The cost is one volume synthesis per plane
(coronal and sagittal stacks hold as many slices as the volume has rows / columns with brain).

One model per orientation: `PlaneModels` holds a generator for each plane that has its own (for
example models trained with `train --planes coronal` and `--planes sagittal`) and the default
one for the rest; `synthesize_planes` gives each plane's slices to that plane's model.
`synthesize --plane-model coronal=FILE` and `evaluate --plane-model ...` build one
(`plane_models`).

Example:
>>> import numpy as np
>>> from magan_keras.inference.planes import synthesize_planes
>>> from magan_keras.models import MultiBranchGenerator
>>> generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1,
...                                  preprocessing={"canvas_size": 16})
>>> mask = np.zeros((16, 16, 8), bool)
>>> mask[3:13, 3:13, 1:7] = True
>>> images = np.where(mask[..., None], 0.0, -1.0).astype(np.float32) * np.float32([1, 1, 1, 0])
>>> fused = synthesize_planes(generator, images, [1, 1, 1, 0], "flair", mask, planes=("axial", "coronal"))
>>> fused.shape, float(fused[~mask].max())
((16, 16, 8), -1.0)
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from magan_keras.inference import generator as inference
from tfds_brats import slicing
from tfds_brats.planes import DEFAULT_PLANES, PLANES, from_axial, in_plane_shape, parse_planes, to_axial


def parse_options(planes, error=ValueError) -> tuple:
    """The `--planes` option checked, with errors naming the option.

    Args:
        planes: str ("axial,coronal"), names, or None (axial).
        error: the exception class to raise (a command's own input error).

    Returns:
        tuple of plane names.

    Example:
    >>> parse_options("coronal,axial")
    ('coronal', 'axial')
    >>> parse_options("axial,sagital")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --planes: unknown plane 'sagital'; choose from axial, coronal, sagittal (comma-separated)
    """
    try:
        names = parse_planes(planes)
    except ValueError as problem:
        raise error(f"--planes: {problem}") from None
    return names


class PlaneModels:
    """One generator per slice orientation, used wherever one generator is.

    `synthesize_planes` slices the volume along each plane for that plane's own model
    (`for_plane`); every other use (the contrasts, size, 2.5-D context, `predict_on_batch` on
    axial slices, `--uncertainty`) goes to the axial plane's model, and every model must agree
    with the default one on contrasts, size, context and preprocessing (the planes it was
    trained on aside). `preprocessing.planes` lists the planes the set was trained for: a plane
    counts when the model that synthesises it saw that plane.

    Args:
        default: the generator (or what `inference.load_generator` takes) for every plane without
            its own model; usually the axial one.
        models: dict plane name -> generator or `.keras` path / preset.

    Raises:
        ValueError: an unknown plane name (named).
        ModelError: a model that does not load, or differs from the default (the plane and the
            difference named).

    Example:
    >>> from magan_keras.inference.planes import PlaneModels
    >>> from magan_keras.models import MultiBranchGenerator
    >>> axial = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    >>> coronal = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    >>> models = PlaneModels(axial, {"coronal": coronal})
    >>> models.for_plane("coronal") is coronal, models.for_plane("sagittal") is axial, models.image_size
    (True, True, 16)
    >>> PlaneModels(axial, {"coronal": MultiBranchGenerator(image_size=32, base_filters=2, res_blocks=1)})
    Traceback (most recent call last):
    ...
    magan_keras.inference.generator.ModelError: --plane-model coronal: the model takes 32 px slices, the default 16 px
    """

    def __init__(self, default, models):
        self.default = inference.load_generator(default)
        self.models = {}
        base = inference.preprocessing_of(self.default)
        for plane, model in models.items():
            (name,) = parse_planes([plane])
            generator = inference.load_generator(model)
            problem = _difference(generator, self.default, base)
            if problem:
                raise inference.ModelError(f"--plane-model {name}: {problem}")
            self.models[name] = generator
        seen = tuple(p for p in PLANES if p in inference.preprocessing_of(self.for_plane(p)).planes)
        self.preprocessing = dataclasses.replace(base, planes=seen or base.planes)

    def for_plane(self, plane):
        """The generator that synthesises `plane`'s slices."""
        return self.models.get(plane, self.default)

    def __getattr__(self, name):
        if name in ("default", "models", "preprocessing"):  # not set yet (copying, unpickling)
            raise AttributeError(name)
        return getattr(self.for_plane("axial"), name)  # what axial-only paths synthesise with

    def __repr__(self):
        return f"PlaneModels(default={type(self.default).__name__}, planes={sorted(self.models)})"


def _difference(generator, default, base) -> str:
    """What makes `generator` unusable beside `default` (one line), or ''."""
    if tuple(generator.modalities) != tuple(default.modalities):
        theirs, ours = tuple(generator.modalities), tuple(default.modalities)
        return f"the model's contrasts {theirs} differ from the default model's {ours}"
    if int(generator.image_size) != int(default.image_size):
        return f"the model takes {int(generator.image_size)} px slices, the default {int(default.image_size)} px"
    k, k0 = inference.context_slices_of(generator), inference.context_slices_of(default)
    if k != k0:
        return f"the model has {k} context slices, the default model {k0}"
    record = dataclasses.replace(inference.preprocessing_of(generator), planes=base.planes)
    if record != base:
        names = [f.name for f in dataclasses.fields(base) if f.compare]
        fields = [name for name in names if getattr(record, name) != getattr(base, name)]
        return f"the model's preprocessing differs from the default model's ({', '.join(fields)})"
    return ""


def plane_models(model, plane_models_option, planes, error=ValueError):
    """`model`, or a `PlaneModels` when `--plane-model PLANE=FILE` options are given.

    Args:
        model: the `--model` file (or model): every plane without its own.
        plane_models_option: list of "plane=file" str (repeatable `--plane-model`), or None.
        planes: the parsed `--planes`; each plane given a model must be one of them.
        error: the exception class for a malformed option (a command's input error).

    Returns:
        `model` unchanged when there are no options, else `PlaneModels`.

    Example:
    >>> plane_models("m.keras", [], ("axial",))
    'm.keras'
    >>> plane_models("m.keras", ["coronal=c.keras"], ("axial",))
    Traceback (most recent call last):
    ...
    ValueError: --plane-model coronal: coronal is not in --planes (axial); add it there
    >>> plane_models("m.keras", ["coronal"], ("axial", "coronal"))
    Traceback (most recent call last):
    ...
    ValueError: --plane-model 'coronal': expected PLANE=FILE, e.g. coronal=runs/coronal/model.keras
    """
    if not plane_models_option:
        return model
    given = {}
    for option in plane_models_option:
        plane, sep, path = option.partition("=")
        if not sep or not path.strip():
            raise error(f"--plane-model {option!r}: expected PLANE=FILE, e.g. coronal=runs/coronal/model.keras")
        try:
            (name,) = parse_planes([plane])
        except ValueError as problem:
            raise error(f"--plane-model {option!r}: {problem}") from None
        if name in given:
            raise error(f"--plane-model {name}: given twice")
        if name not in planes:
            raise error(f"--plane-model {name}: {name} is not in --planes ({','.join(planes)}); add it there")
        given[name] = path.strip()
    return PlaneModels(model, given)


def slice_count(brain_mask, planes=DEFAULT_PLANES) -> int:
    """Slices with brain over `planes` (the number of model inputs one target costs).

    Args:
        brain_mask: bool `[X, Y, Z]`.
        planes: names or a comma-separated str (`tfds_brats.planes.parse_planes`).

    Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 12, 4), bool)
    >>> mask[2:5, 3:9, 1:3] = True
    >>> slice_count(mask), slice_count(mask, "axial,coronal,sagittal")
    (2, 11)
    """
    mask = np.asarray(brain_mask, bool)
    return sum(len(slicing.usable_slice_indices(to_axial(mask, p), 0.0)) for p in parse_planes(planes))


def _covered(volume_shape, plane, canvas_size) -> np.ndarray:
    """Bool `[X, Y, Z]`: the voxels a `plane` slice keeps after the canvas's centre crop."""
    shape = to_axial(np.empty(volume_shape, bool), plane).shape
    covered = np.zeros(shape, bool)
    window = []
    for size in shape[:2]:  # the crop of `slicing.fit_to_canvas`
        start = max(0, (size - canvas_size) // 2)
        window.append(slice(start, start + canvas_size))
    covered[window[0], window[1], :] = True
    return from_axial(covered, plane)


def synthesize_planes(
    generator,
    images,
    available,
    target,
    brain_mask,
    *,
    planes=DEFAULT_PLANES,
    canvas_size=None,
    batch_size=8,
    progress=None,
    **synthesis_options,
) -> np.ndarray:
    """Synthesises one contrast of a normalised volume along each of `planes` and fuses them.

    Args:
        generator: from `inference.load_generator`, or `PlaneModels` (each plane its own model).
        images: float32 `[X, Y, Z, M]` normalised, missing contrasts zero-filled (canonical RAS+).
        available: `[M]` 0/1.
        target: int channel index or contrast name.
        brain_mask: bool `[X, Y, Z]`.
        planes: names of `tfds_brats.planes.PLANES` (or a comma-separated str); default axial.
        canvas_size: int or None. The canvas of every plane (None: the one the axial slices get,
            `inference.canvas_size_of`).
        batch_size: int. Slices per model call.
        progress: callable taking a number of slices done, or None.
        **synthesis_options: passed on to `inference.synthesize_volume`.

    Returns:
        float32 `[X, Y, Z]` in [-1, 1], -1 outside the brain.

    Raises:
        ValueError: an unknown plane.

    Example: see the module docstring.
    """
    planes = parse_planes(planes)
    brain_mask = np.asarray(brain_mask, bool)
    canvas = inference.canvas_size_of(generator, brain_mask.shape[:2], canvas_size)
    options = {"canvas_size": canvas, "batch_size": batch_size, "progress": progress, **synthesis_options}
    choose = generator.for_plane if isinstance(generator, PlaneModels) else lambda plane: generator
    if planes == ("axial",):
        return inference.synthesize_volume(choose("axial"), images, available, target, brain_mask, **options)
    votes = []
    for plane in planes:
        volume = inference.synthesize_volume(
            choose(plane),
            np.ascontiguousarray(to_axial(images, plane)),
            available,
            target,
            np.ascontiguousarray(to_axial(brain_mask, plane)),
            **options,
        )
        volume = from_axial(volume, plane)
        if max(in_plane_shape(brain_mask.shape, plane)) > canvas:
            volume = np.where(_covered(brain_mask.shape, plane, canvas), volume, np.nan)
        votes.append(volume)
    stack = np.stack(votes)
    if np.isnan(stack).any():  # some plane's canvas cropped part of the volume away
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # voxels no plane covers: NaN, then -1
            fused = np.nanmean(stack, axis=0, dtype=np.float64)
    else:  # float64 sums: equal votes give back exactly their value
        fused = stack.mean(axis=0, dtype=np.float64)
    fused = np.clip(np.nan_to_num(fused, nan=-1.0), -1.0, 1.0).astype(np.float32)
    fused[~brain_mask] = -1.0
    return fused
