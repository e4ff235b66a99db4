"""From a prepared split (TFDS slice examples) to the batches `MAGAN.fit` takes.

A prepared split is a `tf.data.Dataset` of the `tfds_brats` slice features
(`images [S, S, M]` float32 in [-1, 1] with background -1, `brain_mask [S, S]`, and others this
module ignores), e.g. `tfds.builder("brats_phantom/slices_64").as_dataset(split="train")`.
`make_dataset` turns it into

    ({"images": [B, H, W, M], "available": [B, M], "target": [B, M]}, y [B, H, W, 1])

where `target` is the one-hot of the contrast to synthesise, `y` that contrast's image,
`available` 1.0 for each contrast the model is given and `images` zero-filled (0.0, not -1)
wherever `available` is 0. The target is never available. With `include_mask=True` a third
element, the brain mask as float32 `[B, H, W, 1]`, sits in the slot Keras reserves for sample
weights (`keras.utils.unpack_x_y_sample_weight` returns it as `sample_weight`); the model's
inputs stay exactly images/available/target. Use it for masked metrics in evaluation loops.

2.5-D context (`context_slices=K > 0`, for a model with that `context_slices`): the examples
must carry `context [S, S, M, 2K']` with K' >= K (a split prepared with
`context_slices=K'`, `tfds_brats.slicing.to_context_slices`), and `inputs` gains
`"context": [B, H, W, M, 2K]`, the K neighbours on each side (the innermost of the stored ones),
zero-filled for every contrast whose `available` is 0, like `images`. `y` stays the centre
slice's target; flips and intensity scaling treat the neighbours as their centre slice.

Random crops (`crop_size=C`): each example is cut to a `C x C` window at a uniformly drawn
offset (images, context, brain mask and `y` alike), after augmentation. A convolutional
generator trained on crops of full-resolution slices synthesises whole slices at that
resolution; it needs the size-free pooled modal attention (`MAGAN(pooled_attention=True)`),
since the paper's dense one is tied to one spatial size. Without `crop_size` the draws are
exactly those of a pipeline without the option.

Scenarios (which contrasts are missing, drawn per example):
- "one_missing" (the paper's): the target uniformly from the M contrasts, the other M-1 given.
- "random_missing": 1..M-1 contrasts missing (the count uniform, then the set uniform), the
  target uniformly among the missing ones; every missing contrast is zero-filled.
- a contrast name, e.g. "flair": always that target, all the others given.

Randomness is stateless: every draw uses the key `(seed, element index)`, where the index
counts elements after shuffling and repeating. The same seed gives the same batches whatever
the parallelism, and an example's draw does not depend on the batch size.

Distribution: `batch_size` is the GLOBAL batch; Keras `fit` under a `tf.distribute` strategy
(and `strategy.experimental_distribute_dataset`) splits it across replicas, so it must be a
multiple of `strategy.num_replicas_in_sync`. The auto-shard policy is set to DATA on purpose:
FILE sharding needs at least as many input files as workers and fails or leaves workers idle
otherwise (a small prepared split can have a single shard file), and it would not see the
element-level order this pipeline defines. With DATA every worker runs the same pipeline and
keeps its own share of the elements. Give every worker the same `seed`: with `seed=None` the
workers shuffle differently and their shares may overlap.

Backends: the yielded structure holds only float32 tensors, which Keras `fit` converts for
the JAX and torch backends as well.

Example:

```python
import tensorflow_datasets as tfds
from magan_keras.data import make_dataset

split = tfds.builder("brats_phantom/slices_64").as_dataset(split="train")
train = make_dataset(split, batch_size=8, scenario="one_missing", seed=0)
model.fit(train, steps_per_epoch=100, epochs=10)  # repeat=True: give steps_per_epoch.

# Evaluation: every slice once, in order, a fixed target, the brain mask alongside.
test = make_dataset(tfds.builder("brats_phantom/slices_64").as_dataset(split="test"),
                    batch_size=8, scenario="flair", shuffle=False, repeat=False,
                    drop_remainder=False, include_mask=True)
for inputs, y, brain_mask in test:
    ...
```
"""

import numpy as np
import tensorflow as tf

from magan_keras.modalities import BRATS_MODALITIES, SCENARIOS, validate_modalities

MODALITIES = BRATS_MODALITIES

# Left-right is the first in-plane axis of the slices `tfds_brats` writes (rows run along the
# canonical x axis, towards the subject's right).
LEFT_RIGHT_AXIS = 0


def _validate_scenario(scenario, modalities):
    """Index of the fixed target, or None for a random scenario; raises on anything else."""
    valid = SCENARIOS + modalities
    if not isinstance(scenario, str) or scenario.lower() not in valid:
        raise ValueError(f"scenario must be one of {valid}, got {scenario!r}")
    scenario = scenario.lower()
    return None if scenario in SCENARIOS else modalities.index(scenario)


def _validate_arguments(examples, batch_size, shuffle_buffer, seed, max_intensity_scale):
    if not isinstance(examples, tf.data.Dataset):
        raise ValueError(f"examples must be a tf.data.Dataset of feature dicts, got {type(examples).__name__}")
    spec = examples.element_spec
    if not isinstance(spec, dict) or "images" not in spec:
        raise ValueError(f"examples must yield dicts with an 'images' feature, got element_spec {spec!r}")
    for name, value, low in (("batch_size", batch_size, 1), ("shuffle_buffer", shuffle_buffer, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    if not 0.0 <= max_intensity_scale < 1.0:
        raise ValueError(f"max_intensity_scale must be in [0, 1), got {max_intensity_scale!r}")


def _validate_context(spec, context_slices):
    """Raises unless `context_slices` is an int K >= 0 and, for K > 0, the examples carry K neighbours or more."""
    if isinstance(context_slices, bool) or not isinstance(context_slices, (int, np.integer)) or context_slices < 0:
        raise ValueError(f"context_slices must be an int >= 0, got {context_slices!r}")
    if not context_slices:
        return
    stored = spec["context"].shape[-1] // 2 if "context" in spec and spec["context"].shape[-1] is not None else 0
    if stored < context_slices:
        raise ValueError(
            f"context_slices={context_slices} needs examples with a 'context' feature of at least "
            f"{context_slices} neighbours on each side, these have {stored}: prepare the data with "
            f"--context-slices {context_slices}"
        )


def _validate_crop(spec, crop_size):
    """Raises unless `crop_size` is None or an int >= 1 no larger than the slices."""
    if crop_size is None:
        return
    if isinstance(crop_size, bool) or not isinstance(crop_size, (int, np.integer)) or crop_size < 1:
        raise ValueError(f"crop_size must be a positive int or None, got {crop_size!r}")
    size = spec["images"].shape[:2]
    if any(side is not None and crop_size > side for side in size):
        raise ValueError(f"crop_size {crop_size} is larger than the slices ({size[0]} x {size[1]} px)")


def _draw_scenario(key, num_modalities, scenario, fixed_index):
    """(target one-hot [M], available [M]) float32 for one example, from the stateless `key`."""
    if fixed_index is not None:
        target_index = tf.constant(fixed_index, tf.int32)
        target = tf.one_hot(target_index, num_modalities)
        return target_index, target, 1.0 - target
    if scenario == "one_missing":
        target_index = tf.random.stateless_uniform([], key, 0, num_modalities, dtype=tf.int32)
        target = tf.one_hot(target_index, num_modalities)
        return target_index, target, 1.0 - target
    # random_missing: a uniform random order of the contrasts; the first `n` are missing and
    # the first of them is the target.
    count_key, order_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    num_missing = tf.random.stateless_uniform([], count_key, 1, num_modalities, dtype=tf.int32)
    priorities = tf.random.stateless_uniform([num_modalities], order_key)
    ranks = tf.argsort(tf.argsort(priorities))
    target_index = tf.cast(tf.argmin(priorities), tf.int32)
    available = tf.cast(ranks >= num_missing, tf.float32)
    return target_index, tf.one_hot(target_index, num_modalities), available


def _augment(key, images, brain_mask, max_intensity_scale, context=None):
    """Random left-right flip of images, mask and context (if not None) together, then per-contrast scaling.

    Scaling maps x to -1 + (x + 1) * s with s in [1 - a, 1 + a] per contrast, clipped to
    [-1, 1]: the background stays exactly -1 and the range stays [-1, 1]. A contrast's context
    slices get its flip and its scale.
    """
    flip_key, scale_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    flip = tf.random.stateless_uniform([], flip_key) < 0.5
    images = tf.where(flip, tf.reverse(images, [LEFT_RIGHT_AXIS]), images)
    if brain_mask is not None:
        brain_mask = tf.where(flip, tf.reverse(brain_mask, [LEFT_RIGHT_AXIS]), brain_mask)
    scale = tf.random.stateless_uniform(
        [tf.shape(images)[-1]], scale_key, 1.0 - max_intensity_scale, 1.0 + max_intensity_scale
    )
    images = tf.clip_by_value((images + 1.0) * scale - 1.0, -1.0, 1.0)
    if context is None:
        return images, brain_mask
    context = tf.where(flip, tf.reverse(context, [LEFT_RIGHT_AXIS]), context)
    context = tf.clip_by_value((context + 1.0) * scale[:, None] - 1.0, -1.0, 1.0)
    return images, brain_mask, context


def _random_crop(key, crop_size, images, brain_mask=None, context=None):
    """The same uniformly placed `crop_size` window of `images [S, S, M]`, the mask and the context."""
    height, width = tf.shape(images)[0], tf.shape(images)[1]
    row_key, column_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    row = tf.random.stateless_uniform([], row_key, 0, height - crop_size + 1, dtype=tf.int32)
    column = tf.random.stateless_uniform([], column_key, 0, width - crop_size + 1, dtype=tf.int32)

    def cut(x):
        if x is None:
            return None
        window = x[row : row + crop_size, column : column + crop_size]
        return tf.ensure_shape(window, [crop_size, crop_size, *x.shape[2:]])  # static, for the batch shape

    return cut(images), cut(brain_mask), cut(context)


def _example_transform(
    seed,
    num_modalities,
    scenario,
    fixed_index,
    augment,
    max_intensity_scale,
    include_mask,
    context_slices=0,
    crop_size=None,
):
    """The per-element function of the pipeline: (index, features) -> model batch element."""

    def transform(index, features):
        key = tf.stack([tf.constant(seed, tf.int64), tf.cast(index, tf.int64)])
        scenario_key, augment_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        images = tf.cast(features["images"], tf.float32)
        brain_mask = tf.cast(features["brain_mask"], tf.float32) if include_mask else None
        context = _inner_context(features["context"], context_slices) if context_slices else None
        if augment and context is not None:
            images, brain_mask, context = _augment(augment_key, images, brain_mask, max_intensity_scale, context)
        elif augment:
            images, brain_mask = _augment(augment_key, images, brain_mask, max_intensity_scale)
        if crop_size:  # its own key, so runs without crops draw what they always drew
            crop_key = tf.random.experimental.stateless_fold_in(key, 1)
            images, brain_mask, context = _random_crop(crop_key, crop_size, images, brain_mask, context)
        target_index, target, available = _draw_scenario(scenario_key, num_modalities, scenario, fixed_index)
        y = tf.gather(images, target_index, axis=-1)[..., None]
        inputs = {"images": images * available, "available": available, "target": target}
        if context is not None:
            inputs["context"] = context * available[:, None]  # missing contrasts zero in every context slice
        if include_mask:
            return inputs, y, brain_mask[..., None]
        return inputs, y

    return transform


def _inner_context(context, context_slices):
    """The innermost `context_slices` neighbours on each side of a stored `[S, S, M, 2K']` context."""
    context = tf.cast(context, tf.float32)
    stored = context.shape[-1] // 2
    if stored == context_slices:
        return context
    return tf.concat(
        [context[..., stored - context_slices : stored], context[..., stored : stored + context_slices]], axis=-1
    )


def make_dataset(
    examples,
    *,
    batch_size,
    scenario="one_missing",
    modalities=MODALITIES,
    shuffle=True,
    seed=None,
    augment=False,
    max_intensity_scale=0.1,
    repeat=True,
    drop_remainder=True,
    shuffle_buffer=512,
    include_mask=False,
    context_slices=0,
    crop_size=None,
    num_parallel_calls=tf.data.AUTOTUNE,
):
    """Turns a prepared split into `({"images", "available", "target"}, y)` batches.

    Args:
        examples: tf.data.Dataset. Unbatched feature dicts with `images [H, W, M]` in [-1, 1]
            (and `brain_mask [H, W]` when `include_mask`).
        batch_size: int >= 1. The global batch size.
        scenario: str. "one_missing", "random_missing" or a name in `modalities` (fixed target).
        modalities: sequence of str. Contrast names in channel order (M of them).
        shuffle: bool. Shuffle the examples (seeded by `seed`).
        seed: int or None. Seed of the shuffle and of every random draw; None draws one.
            Set it for reproducible runs and for multi-worker training.
        augment: bool. Random left-right flip (images, y and mask together) and per-contrast
            intensity scaling; off by default.
        max_intensity_scale: float in [0, 1). Half-width of the augmentation's scale range.
        repeat: bool. Repeat forever (fit then needs `steps_per_epoch`); each pass is
            reshuffled and draws new scenarios.
        drop_remainder: bool. Drop a last partial batch (static batch shapes).
        shuffle_buffer: int >= 1. Elements in the shuffle buffer.
        include_mask: bool. Yield the brain mask float32 [B, H, W, 1] as a third element.
        context_slices: int K >= 0. With K > 0, `inputs["context"]` `[B, H, W, M, 2K]` from the
            examples' `context` feature (prepared with at least K; see the module docstring).
        crop_size: int or None. Cut every example to a random `crop_size` square (at most the
            slice size); None keeps whole slices.
        num_parallel_calls: int. Parallelism of the per-example map (AUTOTUNE by default);
            it does not change the output.

    Returns:
        tf.data.Dataset of `(inputs, y)` or `(inputs, y, brain_mask)`.

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> split = tf.data.Dataset.from_tensor_slices(
    ...     {"images": np.zeros([6, 16, 16, 4], np.float32), "brain_mask": np.ones([6, 16, 16], bool)})
    >>> inputs, y = next(iter(make_dataset(split, batch_size=2, seed=0)))
    >>> inputs["images"].shape, inputs["available"].shape, y.shape
    (TensorShape([2, 16, 16, 4]), TensorShape([2, 4]), TensorShape([2, 16, 16, 1]))
    """
    modalities = validate_modalities(modalities)
    fixed_index = _validate_scenario(scenario, modalities)
    _validate_arguments(examples, batch_size, shuffle_buffer, seed, max_intensity_scale)
    channels = examples.element_spec["images"].shape[-1]
    if channels is not None and channels != len(modalities):
        raise ValueError(f"modalities has {len(modalities)} names but examples' images have {channels} channels")
    if include_mask and "brain_mask" not in examples.element_spec:
        raise ValueError("include_mask=True needs a 'brain_mask' feature in examples")
    _validate_context(examples.element_spec, context_slices)
    _validate_crop(examples.element_spec, crop_size)
    stateless_seed = int(np.random.SeedSequence().generate_state(1)[0]) if seed is None else int(seed)

    # Keep only what is used, so the shuffle buffer holds no more than it must.
    wanted = ("images", "brain_mask") if include_mask else ("images",)
    wanted += ("context",) if context_slices else ()
    dataset = examples.map(lambda features: {k: features[k] for k in wanted})
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    transform = _example_transform(
        stateless_seed,
        len(modalities),
        scenario.lower(),
        fixed_index,
        augment,
        max_intensity_scale,
        include_mask,
        context_slices,
        crop_size,
    )
    dataset = dataset.enumerate().map(transform, num_parallel_calls=num_parallel_calls, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    options = tf.data.Options()
    # DATA, not FILE or AUTO: see the module docstring.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = seed is not None
    return dataset.with_options(options)
