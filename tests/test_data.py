"""Tests of the input pipeline `magan_keras.data.make_dataset` on tiny in-memory splits."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from magan_keras import data

M = 4
SIZE = 16
NUM_EXAMPLES = 12


def fake_features(num_examples=NUM_EXAMPLES, size=SIZE):
    """Feature dicts like a prepared split: a left-right asymmetric brain, background -1.

    Channel k of example i holds values around 0.2 k - 0.5 + 0.01 i plus a ramp along the
    left-right axis, so every channel and example is recognisable.
    """
    mask = np.zeros([num_examples, size, size], bool)
    mask[:, 2 : size // 2 + 2, 3 : size - 3] = True
    ramp = np.linspace(0.0, 0.3, size, dtype=np.float32)[None, :, None, None]
    values = (0.2 * np.arange(M) - 0.5)[None, None, None, :] + 0.01 * np.arange(num_examples)[:, None, None, None]
    images = np.where(mask[..., None], values + ramp, -1.0).astype(np.float32)
    return {
        "images": images,
        "brain_mask": mask,
        "subject_id": np.array([f"s{i // 4}" for i in range(num_examples)]),
        "slice_index": np.arange(num_examples, dtype=np.int32),
    }


def fake_split(**kwargs):
    return tf.data.Dataset.from_tensor_slices(fake_features(**kwargs))


def take(dataset, num_batches):
    return [tf.nest.map_structure(np.asarray, batch) for batch in dataset.take(num_batches)]


def in_order(scenario, batch_size=4, num_batches=6, **kwargs):
    """Batches of an unshuffled repeated split, with the original example of every element."""
    batches = take(
        data.make_dataset(fake_split(), batch_size=batch_size, scenario=scenario, shuffle=False, seed=1, **kwargs),
        num_batches,
    )
    originals = fake_features()["images"]
    indices = np.arange(num_batches * batch_size) % NUM_EXAMPLES
    return batches, originals[indices].reshape([num_batches, batch_size, SIZE, SIZE, M])


def test_shapes_and_dtypes():
    dataset = data.make_dataset(fake_split(), batch_size=4, seed=0)
    inputs_spec, y_spec = dataset.element_spec
    assert set(inputs_spec) == {"images", "available", "target"}
    assert inputs_spec["images"].shape == (4, SIZE, SIZE, M)
    assert inputs_spec["available"].shape == (4, M) and inputs_spec["target"].shape == (4, M)
    assert y_spec.shape == (4, SIZE, SIZE, 1)
    for spec in (*inputs_spec.values(), y_spec):
        assert spec.dtype == tf.float32


@pytest.mark.parametrize("scenario", ["one_missing", "random_missing", "flair"])
def test_contract_target_y_and_zero_filling(scenario):
    batches, originals = in_order(scenario)
    for (inputs, y), original in zip(batches, originals):
        target, available = inputs["target"], inputs["available"]
        assert np.all(np.isin(target, [0.0, 1.0])) and np.all(target.sum(-1) == 1.0)
        assert np.all((target * available).sum(-1) == 0.0), "the target must never be available"
        target_index = target.argmax(-1)
        np.testing.assert_array_equal(y[..., 0], original[np.arange(4), ..., target_index])
        given = available[:, None, None, :] == 1.0
        np.testing.assert_array_equal(inputs["images"], np.where(given, original, 0.0))
        assert np.all(inputs["images"][~np.broadcast_to(given, original.shape)] == 0.0)


def test_one_missing_gives_all_but_the_target():
    batches, _ = in_order("one_missing", num_batches=12)
    available = np.concatenate([inputs["available"] for inputs, _ in batches])
    targets = np.concatenate([inputs["target"] for inputs, _ in batches]).argmax(-1)
    assert np.all(available.sum(-1) == M - 1)
    assert set(targets) == set(range(M)), "every contrast should be a target sometimes"


def test_random_missing_drops_one_to_m_minus_one():
    batches, _ = in_order("random_missing", num_batches=12)
    missing = np.concatenate([M - inputs["available"].sum(-1) for inputs, _ in batches])
    targets = np.concatenate([inputs["target"] for inputs, _ in batches]).argmax(-1)
    assert missing.min() >= 1 and missing.max() <= M - 1
    assert set(missing.astype(int)) == set(range(1, M)), "every count of missing contrasts should occur"
    assert set(targets) == set(range(M))


def test_fixed_target():
    batches, _ = in_order("FLAIR")
    for inputs, _ in batches:
        np.testing.assert_array_equal(inputs["target"], np.tile([0.0, 0.0, 0.0, 1.0], [4, 1]))
        np.testing.assert_array_equal(inputs["available"], np.tile([1.0, 1.0, 1.0, 0.0], [4, 1]))


def test_scenarios_change_between_passes_over_the_data():
    batches, _ = in_order("one_missing", batch_size=NUM_EXAMPLES, num_batches=4)
    per_pass = [inputs["target"].argmax(-1) for inputs, _ in batches]
    assert any(not np.array_equal(per_pass[0], other) for other in per_pass[1:])


def test_seeded_runs_are_identical_and_independent_of_parallelism():
    def run(seed, parallel):
        return take(
            data.make_dataset(
                fake_split(),
                batch_size=4,
                seed=seed,
                augment=True,
                scenario="random_missing",
                num_parallel_calls=parallel,
            ),
            6,
        )

    first, again, serial, other = run(5, tf.data.AUTOTUNE), run(5, tf.data.AUTOTUNE), run(5, 1), run(6, 1)
    for a, b, c in zip(first, again, serial):
        tf.nest.map_structure(np.testing.assert_array_equal, a, b)
        tf.nest.map_structure(np.testing.assert_array_equal, a, c)
    assert any(not np.array_equal(a[1], d[1]) for a, d in zip(first, other))


def test_shuffle_changes_the_order():
    batches = take(data.make_dataset(fake_split(), batch_size=NUM_EXAMPLES, scenario="t1", seed=0), 1)
    ramp_at_row_2 = 0.3 * 2 / (SIZE - 1)
    example_offsets = np.round((batches[0][1][:, 2, 3, 0] - ramp_at_row_2 + 0.5) / 0.01).astype(int)
    assert sorted(example_offsets) == list(range(NUM_EXAMPLES))
    assert list(example_offsets) != list(range(NUM_EXAMPLES))


def test_evaluation_pass_yields_every_example_once_in_order_with_the_mask():
    dataset = data.make_dataset(
        fake_split(), batch_size=5, scenario="t2", shuffle=False, repeat=False, drop_remainder=False, include_mask=True
    )
    batches = take(dataset, 100)
    assert [len(y) for _, y, _ in batches] == [5, 5, 2]
    features = fake_features()
    y = np.concatenate([y for _, y, _ in batches])
    mask = np.concatenate([m for _, _, m in batches])
    np.testing.assert_array_equal(y[..., 0], features["images"][..., 2])
    assert mask.dtype == np.float32 and mask.shape == (NUM_EXAMPLES, SIZE, SIZE, 1)
    np.testing.assert_array_equal(mask[..., 0], features["brain_mask"].astype(np.float32))


def test_augmentation_flips_everything_together_and_keeps_ranges():
    dataset = data.make_dataset(
        fake_split(),
        batch_size=NUM_EXAMPLES,
        seed=2,
        augment=True,
        max_intensity_scale=0.3,
        include_mask=True,
        shuffle=False,
    )
    features = fake_features()
    mask, flipped_mask = features["brain_mask"][0], features["brain_mask"][0][::-1]
    flips = []
    for inputs, y, brain_mask in take(dataset, 3):
        images, available = inputs["images"], inputs["available"]
        assert images.min() >= -1.0 and images.max() <= 1.0 and y.min() >= -1.0 and y.max() <= 1.0
        for i in range(NUM_EXAMPLES):
            flipped = np.array_equal(brain_mask[i, ..., 0], flipped_mask)
            assert flipped or np.array_equal(brain_mask[i, ..., 0], mask)
            flips.append(flipped)
            # y and every given contrast: brain where the (possibly flipped) mask is, exactly -1 outside.
            inside = brain_mask[i, ..., 0] == 1.0
            assert np.all(y[i][~inside] == -1.0) and np.all(y[i][inside] > -1.0)
            for k in np.flatnonzero(available[i]):
                assert np.all(images[i, ..., k][~inside] == -1.0)
            # The ramp runs along the left-right axis: its direction shows the flip.
            assert (y[i, 9, 8, 0] > y[i, 6, 8, 0]) == (not flipped)  # Rows 6-9: brain either way.
    assert 0 < sum(flips) < len(flips), "some examples should be flipped and some not"


def test_augmentation_scales_intensities_within_the_range():
    def first_y(augment):
        dataset = data.make_dataset(
            fake_split(), batch_size=NUM_EXAMPLES, scenario="t1", seed=2, augment=augment, max_intensity_scale=0.2
        )
        return take(dataset, 1)[0][1]

    plain, jittered = first_y(False), first_y(True)
    # Mean of (x + 1) over the brain is flip-invariant; its ratio is the example's scale
    # (the t1 channel stays below 0, so nothing is clipped here).
    scales = (jittered + 1.0).sum((1, 2, 3)) / (plain + 1.0).sum((1, 2, 3))
    assert np.all(scales >= 0.8 - 1e-5) and np.all(scales <= 1.2 + 1e-5)
    assert scales.std() > 0.02
    np.testing.assert_array_equal((jittered == -1.0).sum((1, 2, 3)), (plain == -1.0).sum((1, 2, 3)))


def test_auto_shard_policy_is_data():
    dataset = data.make_dataset(fake_split(), batch_size=4, seed=0)
    policy = dataset.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA


def test_bad_scenario_lists_the_valid_ones():
    with pytest.raises(ValueError, match="one_missing.*random_missing.*t1.*flair"):
        data.make_dataset(fake_split(), batch_size=2, scenario="two_missing")


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(batch_size=0), "batch_size"),
        (dict(batch_size=2, shuffle_buffer=0), "shuffle_buffer"),
        (dict(batch_size=2, seed=1.5), "seed"),
        (dict(batch_size=2, modalities=("t1", "t2")), "modalities"),
        (dict(batch_size=2, max_intensity_scale=1.0), "max_intensity_scale"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        data.make_dataset(fake_split(), **kwargs)


def test_include_mask_needs_a_mask_and_examples_must_be_a_dataset():
    no_mask = tf.data.Dataset.from_tensor_slices({"images": fake_features()["images"]})
    with pytest.raises(ValueError, match="brain_mask"):
        data.make_dataset(no_mask, batch_size=2, include_mask=True)
    with pytest.raises(ValueError, match="examples"):
        data.make_dataset(fake_features(), batch_size=2)


def test_mirrored_strategy_splits_the_global_batch():
    # In a fresh process: logical CPU devices must be set before TensorFlow starts.
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from magan_keras.data import make_dataset
        images = np.random.default_rng(0).uniform(-1, 1, [8, 16, 16, 4]).astype(np.float32)
        split = tf.data.Dataset.from_tensor_slices({"images": images})
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        batches = strategy.experimental_distribute_dataset(make_dataset(split, batch_size=4, seed=0))
        inputs, y = next(iter(batches))
        print([int(t.shape[0]) for t in strategy.experimental_local_results(y)])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[2, 2]"


def test_keras_fit_takes_the_batches():
    import keras

    images = keras.Input((SIZE, SIZE, M), name="images")
    available = keras.Input((M,), name="available")
    target = keras.Input((M,), name="target")
    condition = keras.layers.Concatenate()([available, target])
    bias = keras.layers.Reshape((1, 1, 1))(keras.layers.Dense(1)(condition))
    output = keras.layers.Add()([keras.layers.Conv2D(1, 3, padding="same")(images), bias])
    model = keras.Model({"images": images, "available": available, "target": target}, output)
    model.compile(optimizer="adam", loss="mae")
    batches = data.make_dataset(fake_split(), batch_size=4, seed=0)
    history = model.fit(batches, steps_per_epoch=2, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def position_split(num_examples=6, size=SIZE):
    """Examples whose every pixel encodes its (row, column) and channel, the mask its row parity."""
    rows, columns = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    position = (rows * size + columns).astype(np.float32) / size**2  # in [0, 1)
    images = np.stack([position + 0.001 * k for k in range(M)], axis=-1)
    images = np.broadcast_to(images, [num_examples, size, size, M]).copy()
    mask = np.broadcast_to(rows % 2 == 0, [num_examples, size, size]).copy()
    return tf.data.Dataset.from_tensor_slices({"images": images, "brain_mask": mask}), images[0]


def test_crops_cut_the_same_window_of_images_target_and_mask():
    crop = 8
    split, whole = position_split()
    dataset = data.make_dataset(
        split, batch_size=6, seed=3, crop_size=crop, include_mask=True, scenario="one_missing", shuffle=False
    )
    assert dataset.element_spec[0]["images"].shape == (6, crop, crop, M)  # static, for the model
    corners = set()
    for inputs, y, brain_mask in take(dataset, 3):
        for i in range(6):
            target = int(np.argmax(inputs["target"][i]))
            corner = float(y[i, 0, 0, 0]) - 0.001 * target
            row, column = divmod(round(corner * SIZE**2), SIZE)  # the window's top-left pixel
            assert 0 <= row <= SIZE - crop and 0 <= column <= SIZE - crop
            window = whole[row : row + crop, column : column + crop]
            np.testing.assert_allclose(y[i, ..., 0], window[..., target], atol=1e-6)
            for k in np.flatnonzero(inputs["available"][i]):
                np.testing.assert_allclose(inputs["images"][i, ..., k], window[..., k], atol=1e-6)
            expected_mask = (np.arange(row, row + crop) % 2 == 0)[:, None].repeat(crop, axis=1)
            np.testing.assert_array_equal(brain_mask[i, ..., 0], expected_mask)
            corners.add((row, column))
    assert len(corners) > 5, f"crops should land at many offsets, got {sorted(corners)}"


def test_crops_leave_the_scenario_draws_alone():
    split, _ = position_split()
    whole = take(data.make_dataset(split, batch_size=6, seed=5, shuffle=False), 2)
    cropped = take(data.make_dataset(split, batch_size=6, seed=5, shuffle=False, crop_size=12), 2)
    for (inputs, _), (cropped_inputs, _) in zip(whole, cropped):
        np.testing.assert_array_equal(inputs["target"], cropped_inputs["target"])
        np.testing.assert_array_equal(inputs["available"], cropped_inputs["available"])


@pytest.mark.parametrize("crop_size", [0, -4, 2.5, True, SIZE + 4])
def test_bad_crop_size_is_refused(crop_size):
    with pytest.raises(ValueError, match="crop_size"):
        data.make_dataset(fake_split(), batch_size=2, crop_size=crop_size)
