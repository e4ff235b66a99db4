"""2.5-D context: `tfds_brats.slicing.to_context_slices`, the builders' `context` feature, the pipeline's masking."""

import contextlib
import io

import numpy as np
import pytest
import tensorflow as tf

from magan_keras.data import make_dataset
from tfds_brats import examples, slicing
from tfds_brats.configs import BratsConfig, PhantomConfig

DEPTH = 9


def encoded_volume(shape=(20, 20, DEPTH), channels=4):
    """A volume whose every voxel says its slice and contrast: `(4 k + c) / 50 - 0.5`, brain everywhere."""
    k = np.arange(shape[2])[:, None]
    c = np.arange(channels)[None, :]
    values = ((4 * k + c) / 50.0 - 0.5).astype(np.float32)  # [Z, M], in [-0.5, 0.3]
    images = np.broadcast_to(values[None, None], shape + (channels,)).copy()
    return images, np.ones(shape, bool)


def decode(value, channel):
    return np.round(((np.asarray(value) + 0.5) * 50.0 - channel) / 4.0).astype(int)


@pytest.mark.parametrize("image_size, canvas_size", [(20, 20), (16, 24)])
def test_context_slices_line_up_with_their_centre_slice(image_size, canvas_size):
    images, mask = encoded_volume()
    indices = np.array([2, 4, 6])
    context = slicing.to_context_slices(images, mask, indices, 2, image_size=image_size, canvas_size=canvas_size)
    assert context.shape == (3, image_size, image_size, 4, 4)
    centre = image_size // 2
    for n, index in enumerate(indices):
        for j, offset in enumerate(slicing.context_offsets(2)):
            # The neighbour is cut exactly as that slice would be as a centre slice ...
            alone = slicing.to_model_slices(
                images, mask, image_size=image_size, canvas_size=canvas_size, indices=[index + offset]
            ).images[0]
            np.testing.assert_array_equal(context[n, ..., j], alone)
            # ... and it is the slice `offset` away, in every contrast.
            for channel in range(4):
                assert decode(context[n, centre, centre, channel, j], channel) == index + offset


def test_edge_slices_are_padded_with_the_background():
    images, mask = encoded_volume()
    context = slicing.to_context_slices(images, mask, [0, 1, DEPTH - 1], 2, image_size=20, canvas_size=20)
    # Offsets -2, -1, 1, 2: below slice 0 and above the last slice there is nothing: -1 everywhere.
    assert np.all(context[0, ..., :2] == -1.0) and np.all(context[2, ..., 2:] == -1.0)
    assert np.all(context[1, ..., 0] == -1.0)
    assert (
        decode(context[1, 10, 10, 0, 1], 0) == 0
        and decode(context[0, 10, 10, 0, 2], 0) == 1
        and decode(context[0, 10, 10, 0, 3], 0) == 2
    )
    assert decode(context[2, 10, 10, 3, 1], 3) == DEPTH - 2


def test_context_offsets_and_a_bad_k():
    assert slicing.context_offsets(1).tolist() == [-1, 1]
    with pytest.raises(ValueError, match="context_slices must be >= 0"):
        slicing.context_offsets(-1)


def test_builder_examples_carry_their_neighbours_from_the_whole_volume():
    images, _ = encoded_volume((8, 8, 5))
    mask = np.zeros((8, 8, 5), bool)
    mask[:, :, 1:4] = True
    mask[:1, :1, 0] = True  # slice 0: too little brain to be an example, still a neighbour
    images[~mask] = -1.0
    low, high = np.zeros(4, np.float32), np.ones(4, np.float32)
    produced = dict(
        examples.slice_examples(
            "s", images, mask, None, low, high, image_size=8, canvas_size=8, min_brain_fraction=0.05, context_slices=1
        )
    )
    assert sorted(produced) == ["s/0001", "s/0002", "s/0003"]
    first = produced["s/0001"]
    assert first["context"].shape == (8, 8, 4, 2)
    np.testing.assert_array_equal(first["context"][..., 0], np.where(mask[..., 0, None], images[:, :, 0], -1.0))
    assert decode(first["context"][4, 4, 2, 1], 2) == 2
    assert np.all(produced["s/0003"]["context"][..., 1] == -1.0)  # slice 4: in the volume, but no brain
    assert decode(produced["s/0003"]["context"][4, 4, 1, 0], 1) == 2
    # Without context the examples are what they always were.
    plain = dict(
        examples.slice_examples(
            "s", images, mask, None, low, high, image_size=8, canvas_size=8, min_brain_fraction=0.05
        )
    )
    assert "context" not in plain["s/0001"]
    np.testing.assert_array_equal(plain["s/0002"]["images"], produced["s/0002"]["images"])


def split_with_context(count=6, size=16, k=1):
    rng = np.random.default_rng(0)
    return tf.data.Dataset.from_tensor_slices(
        {
            "images": rng.uniform(-1, 1, (count, size, size, 4)).astype(np.float32),
            "context": rng.uniform(-1, 1, (count, size, size, 4, 2 * k)).astype(np.float32),
            "brain_mask": np.ones((count, size, size), bool),
        }
    )


@pytest.mark.parametrize("scenario", ["flair", "random_missing"])
def test_missing_contrasts_are_zero_in_every_context_slice(scenario):
    batches = make_dataset(split_with_context(k=2), batch_size=3, scenario=scenario, seed=1, context_slices=2)
    inputs, y = next(iter(batches))
    context, available = inputs["context"].numpy(), inputs["available"].numpy()
    assert context.shape == (3, 16, 16, 4, 4)
    for row in range(3):
        for m in range(4):
            if available[row, m]:
                assert np.abs(context[row, ..., m, :]).min() > 0
            else:
                assert not context[row, ..., m, :].any()
                assert not inputs["images"].numpy()[row, ..., m].any()


def test_the_pipeline_takes_the_inner_neighbours():
    split = split_with_context(k=2)
    stored = next(iter(split))["context"].numpy()
    inputs, _ = next(iter(make_dataset(split, batch_size=1, scenario="flair", shuffle=False, context_slices=1)))
    np.testing.assert_array_equal(inputs["context"].numpy()[0, ..., :3, :], stored[..., :3, 1:3])


def test_augmentation_flips_and_scales_the_neighbours_with_their_slice():
    rng = np.random.default_rng(2)
    images = rng.uniform(-1, 1, (8, 16, 16, 4)).astype(np.float32)
    # Every neighbour a copy of its centre slice: after the same flip and scale they must still be.
    split = tf.data.Dataset.from_tensor_slices({"images": images, "context": np.repeat(images[..., None], 2, -1)})
    inputs, _ = next(iter(make_dataset(split, batch_size=8, scenario="flair", seed=3, augment=True, context_slices=1)))
    augmented = inputs["images"].numpy()
    assert not np.allclose(augmented[..., :3], images[..., :3])  # something was flipped or scaled
    for j in range(2):
        np.testing.assert_allclose(inputs["context"].numpy()[..., j], augmented, atol=1e-6)


def test_a_bad_k_is_refused_with_one_line():
    with pytest.raises(ValueError, match=r"^c: context_slices must be an int in \[0, 8\], got -1$"):
        BratsConfig(name="c", context_slices=-1)
    with pytest.raises(ValueError, match="context_slices must be an int"):
        PhantomConfig(name="p", image_size=16, context_slices=1.5)
    with pytest.raises(ValueError, match="prepare the data with --context-slices 2"):
        make_dataset(split_with_context(k=1), batch_size=2, context_slices=2)
    with pytest.raises(ValueError, match="context_slices must be an int >= 0"):
        make_dataset(split_with_context(k=1), batch_size=2, context_slices=-1)


def test_prepare_refuses_a_bad_k_and_names_context_configs_apart(tmp_path, capsys):
    from tfds_brats.prepare import main, prepare

    assert main(["--phantom", "--image-size", "16", "--num-subjects", "3", "--context-slices", "9",
                 "--data-dir", str(tmp_path)]) == 2  # fmt: skip
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "context_slices must be an int in [0, 8], got 9" in error
    assert "\n" not in error and not any(tmp_path.iterdir())
    with contextlib.redirect_stdout(io.StringIO()):
        builder = prepare(phantom=True, image_size=16, num_subjects=3, data_dir=tmp_path, context_slices=1)
    assert builder.builder_config.name == "slices_16_context_slices1_num_subjects3"
    example = next(iter(builder.as_dataset(split="train")))
    assert example["context"].shape == (16, 16, 4, 2)
    assert "context_slices" not in PhantomConfig(name="p", image_size=16).params()
