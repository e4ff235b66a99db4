"""Where the synthesis is unsure: the spread of the syntheses from all inputs and each leave-one-input-out subset.

MA-GAN takes any subset of its inputs (a missing contrast is zeros and masked inside the model),
so one trained model gives several syntheses of the same target: from every input the user has,
and from each subset with one input left out. Where they agree the synthesis does not hinge on any
single input; where they differ it does, and the error is larger there (calibrated in
docs/results.md, "Where the synthesis is unsure"). The uncertainty is the standard deviation of
those syntheses per voxel, on the output's unit scale ([0, 1] inside the brain).

Cost: the branch encoders do not depend on the subset (`MultiBranchGenerator.encode`), so each is
run once per slice and only modal attention, fusion and the decoder run per subset
(`SubsetSyntheses`); a generator without `encode` (the single-input baseline) is called once per
subset instead. The leave-one-out subsets run on every `stride`-th slice of the stack only (and
its last), and the spread of the slices between is interpolated linearly along the slice axis
(`slice_spread`); the synthesis itself is made from every input on every slice, as without the
map. `stride=1` is the exact map on every slice; the default `DEFAULT_STRIDE` = 3 keeps the cost
at most 2x a plain synthesis at the paper's size (benchmarks/uncertainty.py; agreement with the
exact map in docs/results.md).

Example:
>>> import numpy as np
>>> from magan_keras.models import MultiBranchGenerator
>>> generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1)
>>> slices = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 4)).astype(np.float32)
>>> subsets = leave_one_out_subsets([1, 1, 1, 0])
>>> subsets.tolist()
[[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
>>> predict_subsets(generator, slices, subsets, "flair", batch_size=2).shape
(4, 3, 16, 16)
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

from magan_keras.inference import generator as inference
from tfds_brats import slicing

DEFAULT_STRIDE = 3


def leave_one_out_subsets(available) -> np.ndarray:
    """The full input set, then each set with one given input left out.

    Args:
        available: `[M]` 0/1 of the given contrasts (at least two, so every subset keeps one).

    Returns:
        float32 `[1 + n, M]` for `n` given contrasts.

    Raises:
        ValueError: fewer than two inputs.

    Example:
    >>> leave_one_out_subsets([1, 0, 1, 0]).tolist()
    [[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    """
    available = np.asarray(available, np.float32)
    given = np.flatnonzero(available > 0)
    if given.size < 2:
        raise ValueError(
            f"the uncertainty needs at least two input contrasts (leave-one-out subsets), got {given.size}"
        )
    subsets = [available.copy()]
    for k in given:
        subset = available.copy()
        subset[k] = 0.0
        subsets.append(subset)
    return np.stack(subsets)


class SubsetSyntheses(keras.Model):
    """Syntheses of one target from several input subsets, each branch encoder run once.

    Wraps a `MultiBranchGenerator` (anything with `encode` and `decode`; not saved, built per
    call of `predict_subsets`): the encoders see the
    batch's `available` inputs once, then `decode` runs per subset. Equal to calling the generator
    once per subset (tested), cheaper by the encoders' share.

    Args:
        generator: a `MultiBranchGenerator`.
        subsets: `[N, M]` 0/1, each a subset of the batch's `available`.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: dict with `images`, `available`, `target` as the generator takes.

    Returns:
        `[B, N, H, W]` synthesis per subset, in [-1, 1].

    Example:
    >>> import numpy as np
    >>> from magan_keras.models import MultiBranchGenerator
    >>> from magan_keras.models.generator import example_inputs
    >>> model = SubsetSyntheses(MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1),
    ...                         [[1, 1, 1, 0], [0, 1, 1, 0]])
    >>> tuple(model(example_inputs(2, 16, 4)).shape)
    (2, 2, 16, 16)
    """

    def __init__(self, generator, subsets, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.subsets = np.asarray(subsets, np.float32)

    def build(self, input_shape):  # the generator's weights are built already
        self.built = True

    def call(self, inputs):
        encoded = self.generator.encode(inputs, training=False)
        available = ops.cast(ops.convert_to_tensor(inputs["available"]), "float32")
        outputs = []
        for subset in self.subsets:
            mask = available * ops.convert_to_tensor(subset)[None, :]
            outputs.append(self.generator.decode(encoded, mask, training=False)["synthesis"][..., 0])
        return ops.stack(outputs, axis=1)


def predict_subsets(generator, slices, subsets, target, *, batch_size=8, progress=None, context=None) -> np.ndarray:
    """Runs the generator on a stack of slices once per input subset.

    Args:
        generator: from `inference.load_generator`.
        slices: float32 `[K, S, S, M]` in [-1, 1].
        subsets: `[N, M]` 0/1 (e.g. `leave_one_out_subsets`); the first is the full input set.
        target: int channel index or contrast name.
        batch_size: int >= 1. Slices per model call.
        progress: callable taking the number of slices done, or None.
        context: float32 `[K, S, S, M, 2C]` neighbours for a 2.5-D generator (as
            `inference.predict_slices` takes them), or None.

    Returns:
        float32 `[N, K, S, S]` in [-1, 1].
    """
    subsets = np.asarray(subsets, np.float32)
    if not (hasattr(generator, "encode") and hasattr(generator, "decode")):
        return np.stack(
            [
                inference.predict_slices(
                    generator,
                    slices,
                    subset,
                    target,
                    batch_size=batch_size,
                    progress=progress if i == 0 else None,
                    context=context,
                )
                for i, subset in enumerate(subsets)
            ]
        )
    modalities = tuple(generator.modalities)
    target_index = modalities.index(target) if isinstance(target, str) else int(target)
    if np.any(subsets[:, target_index] > 0):
        raise ValueError(f"the target '{modalities[target_index]}' cannot also be an input")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    wrapper = _wrapper(generator, subsets)
    slices = np.asarray(slices, np.float32)
    count, num_modalities = slices.shape[0], len(modalities)
    full = subsets.max(axis=0)
    available = np.repeat(full[None], batch_size, axis=0)
    target_onehot = np.zeros((batch_size, num_modalities), np.float32)
    target_onehot[:, target_index] = 1.0
    k = inference.context_slices_of(generator)
    if k and context is None:
        context = inference.stack_context(slices, k)
    outputs = np.empty((len(subsets),) + slices.shape[:3], np.float32)
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        batch = {"images": slices[start:stop] * full[None, None, None, :]}
        if k:  # missing contrasts zero in every context slice, as in training
            batch["context"] = np.asarray(context[start:stop], np.float32) * full[None, None, None, :, None]
        if stop - start < batch_size:
            for name, value in batch.items():
                batch[name] = np.concatenate(
                    [value, np.zeros((batch_size - (stop - start),) + value.shape[1:], np.float32)]
                )
        result = wrapper.predict_on_batch({**batch, "available": available, "target": target_onehot})
        outputs[:, start:stop] = np.moveaxis(np.asarray(result, np.float32)[: stop - start], 1, 0)
        if progress is not None:
            progress(stop - start)
    return outputs


def sampled_positions(count, stride) -> np.ndarray:
    """The slices of a stack of `count` that get the leave-one-out subsets: every `stride`-th and the last.

    Args:
        count: int >= 0. Slices in the stack.
        stride: int >= 1.

    Raises:
        ValueError: `stride` < 1.

    Example:
    >>> sampled_positions(8, 3).tolist(), sampled_positions(7, 3).tolist(), sampled_positions(3, 1).tolist()
    ([0, 3, 6, 7], [0, 3, 6], [0, 1, 2])
    """
    stride = int(stride)
    if stride < 1:
        raise ValueError(f"the uncertainty stride must be >= 1, got {stride}")
    positions = np.arange(0, count, stride)
    if count and positions[-1] != count - 1:
        positions = np.append(positions, count - 1)
    return positions


def interpolate_slices(values, positions, count) -> np.ndarray:
    """Fills a stack of `count` slices by linear interpolation between the slices at `positions`.

    Args:
        values: float `[P, ...]`, the slices at `positions`.
        positions: int `[P]` increasing, the first 0 and the last `count - 1` (`sampled_positions`).
        count: int. Slices in the stack.

    Returns:
        float32 `[count, ...]`; equal to `values` at `positions`.

    Example:
    >>> interpolate_slices(np.array([[0.0], [3.0], [4.0]]), np.array([0, 3, 4]), 5)[:, 0].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    values = np.asarray(values, np.float32)
    positions = np.asarray(positions)
    if len(positions) == count:
        return values
    where = np.arange(count)
    right = np.clip(np.searchsorted(positions, where), 1, len(positions) - 1)
    left = right - 1
    span = (positions[right] - positions[left]).astype(np.float32)
    weight = ((where - positions[left]) / span).astype(np.float32).reshape((-1,) + (1,) * (values.ndim - 1))
    return (1.0 - weight) * values[left] + weight * values[right]


def slice_spread(
    generator, slices, subsets, target, *, stride=DEFAULT_STRIDE, batch_size=8, progress=None, context=None
):
    """The synthesis from every input and the spread over the subsets, on a stack of slices.

    The first subset (the full input set) runs on every slice; all subsets run on the slices of
    `sampled_positions(len(slices), stride)`, and the spread between them is interpolated
    (`interpolate_slices`). With `stride=1` this is `predict_subsets` on every slice.

    Args:
        generator: from `inference.load_generator`.
        slices: float32 `[K, S, S, M]` in [-1, 1], consecutive slices of one volume.
        subsets: `[N, M]` 0/1 (`leave_one_out_subsets`); the first is the full input set.
        target: int channel index or contrast name.
        stride: int >= 1. The leave-one-out subsets run on every `stride`-th slice.
        batch_size: int >= 1. Slices per model call.
        progress: callable taking the number of slices done, or None.
        context: float32 `[K, S, S, M, 2C]` for a 2.5-D generator, or None (then taken from the
            stack itself, `inference.stack_context`).

    Returns:
        `(synthesis, spread)`: float32 `[K, S, S]` each; the full set's synthesis in [-1, 1] and
        the standard deviation of the subsets' syntheses on the unit scale ([0, 1]).

    Example:
    >>> from magan_keras.models import MultiBranchGenerator
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1)
    >>> slices = np.random.default_rng(0).uniform(-1, 1, (5, 16, 16, 4)).astype(np.float32)
    >>> synthesis, spread = slice_spread(generator, slices, leave_one_out_subsets([1, 1, 1, 0]), "flair")
    >>> synthesis.shape, spread.shape
    ((5, 16, 16), (5, 16, 16))
    """
    subsets = np.asarray(subsets, np.float32)
    slices = np.asarray(slices, np.float32)
    count = slices.shape[0]
    sampled = sampled_positions(count, stride)
    k = inference.context_slices_of(generator)
    if k and context is None:  # before the stack is split, so the neighbours stay the volume's
        context = inference.stack_context(slices, k)

    def run(positions, which):
        part = None if context is None else np.asarray(context)[positions]
        return predict_subsets(
            generator, slices[positions], which, target, batch_size=batch_size, progress=progress, context=part
        )

    synthesis = np.empty(slices.shape[:3], np.float32)
    if count == 0:
        return synthesis, np.zeros_like(synthesis)
    predictions = run(sampled, subsets)
    synthesis[sampled] = predictions[0]
    rest = np.setdiff1d(np.arange(count), sampled)
    if rest.size:
        synthesis[rest] = run(rest, subsets[:1])[0]
    spread = np.clip((predictions + 1.0) / 2.0, 0.0, 1.0).std(axis=0)
    return synthesis, interpolate_slices(spread, sampled, count)


_WRAPPERS = weakref.WeakKeyDictionary()  # generator -> {subsets: SubsetSyntheses}, traced once each


def _wrapper(generator, subsets):
    cache = _WRAPPERS.setdefault(generator, {})
    key = subsets.tobytes()
    if key not in cache:
        cache[key] = SubsetSyntheses(generator, subsets)
    return cache[key]


def synthesize_with_uncertainty(
    generator,
    images,
    available,
    target,
    brain_mask,
    *,
    canvas_size=None,
    batch_size=8,
    progress=None,
    stride=DEFAULT_STRIDE,
):
    """A whole-volume synthesis and its uncertainty map, on the unit scale.

    Args:
        generator: from `inference.load_generator`.
        images: float32 `[X, Y, Z, M]` normalised inputs, missing contrasts zero-filled.
        available: `[M]` 0/1 (at least two inputs).
        target: int channel index or contrast name.
        brain_mask: bool `[X, Y, Z]`.
        canvas_size: int or None (see `inference.synthesize_volume`).
        batch_size: int. Slices per model call.
        progress: callable taking a number of slices done, or None.
        stride: int >= 1. The leave-one-out subsets run on every `stride`-th brain slice and the
            map is interpolated between (`slice_spread`); 1: every slice.

    Returns:
        `(synthesis, uncertainty)`: float32 `[X, Y, Z]` each; the synthesis from every input in
        [0, 1] (exactly what `inference.synthesize_volume` gives, mapped by `to_unit_scale`), the
        standard deviation over the full and leave-one-out syntheses in [0, 0.5] (taken on the
        model's slices, then mapped back to the volume like a synthesis); both 0 outside the
        brain.

    Example:
    >>> from magan_keras.models import MultiBranchGenerator
    >>> generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1)
    >>> mask = np.ones((16, 16, 2), bool)
    >>> images = np.random.default_rng(1).uniform(-1, 1, (16, 16, 2, 4)).astype(np.float32)
    >>> synthesis, spread = synthesize_with_uncertainty(generator, images, [1, 1, 1, 0], "flair", mask)
    >>> synthesis.shape, bool(spread.min() >= 0.0)
    ((16, 16, 2), True)
    """
    brain_mask = np.asarray(brain_mask, bool)
    subsets = leave_one_out_subsets(available)
    canvas_size = inference.canvas_size_of(generator, brain_mask.shape[:2], canvas_size)
    slices, _, _, indices = slicing.to_model_slices(
        images, brain_mask, image_size=int(generator.image_size), canvas_size=canvas_size
    )
    context = inference.volume_context(generator, images, brain_mask, indices, canvas_size)
    # The spread is taken on the model's slices and mapped back once (not once per subset).
    full, spread_slices = slice_spread(
        generator, slices, subsets, target, stride=stride, batch_size=batch_size, progress=progress, context=context
    )
    volume = slicing.from_model_slices(full, indices, brain_mask.shape, canvas_size=canvas_size)
    synthesis = inference.to_unit_scale(np.clip(volume, -1.0, 1.0), brain_mask)
    spread = slicing.from_model_slices(spread_slices, indices, brain_mask.shape, canvas_size=canvas_size, fill=0.0)
    spread = np.clip(spread, 0.0, 0.5).astype(np.float32)  # bilinear resizing with antialias may overshoot
    spread[~brain_mask] = 0.0
    return synthesis, spread


def summarise(uncertainty, brain_mask, tumour_mask=None) -> dict:
    """Mean uncertainty inside the brain and the tumour (JSON-friendly), for flagging a failed case.

    Args:
        uncertainty: float `[X, Y, Z]`.
        brain_mask: bool `[X, Y, Z]`.
        tumour_mask: bool `[X, Y, Z]` or None (no tumour known: `tumour` is None).

    Example:
    >>> u = np.zeros((2, 2, 1)); u[0, 0] = 0.2
    >>> summarise(u, np.ones((2, 2, 1), bool), u > 0)
    {'brain_mean': 0.05, 'brain_p95': 0.17, 'tumour_mean': 0.2, 'tumour_voxels': 1}
    """
    brain = np.asarray(uncertainty, np.float64)[np.asarray(brain_mask, bool)]
    summary = {
        "brain_mean": round(float(brain.mean()), 6) if brain.size else None,
        "brain_p95": round(float(np.percentile(brain, 95)), 6) if brain.size else None,
    }
    if tumour_mask is not None:
        tumour = np.asarray(uncertainty, np.float64)[np.asarray(tumour_mask, bool)]
        summary["tumour_mean"] = round(float(tumour.mean()), 6) if tumour.size else None
        summary["tumour_voxels"] = int(tumour.size)
    else:
        summary["tumour_mean"] = None
        summary["tumour_voxels"] = 0
    return summary
