"""2.5-D models at inference: whole volumes gather each slice's neighbours as training did; SavedModel; the flag."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras import MultiBranchGenerator
from magan_keras.cli import synthesize as command
from magan_keras.evaluation.evaluate import model_prediction
from magan_keras.evaluation.subjects import SubjectData
from magan_keras.inference import export
from magan_keras.inference import generator as inference
from magan_keras.inference.uncertainty import synthesize_with_uncertainty
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats import slicing

SIZE = 16


class NeighbourCopy(keras.Model):
    """A stand-in 2.5-D generator whose synthesis is one neighbour of one contrast: makes the alignment checkable."""

    def __init__(self, channel, neighbour, context_slices=1, image_size=SIZE, **kwargs):
        super().__init__(**kwargs)
        self.channel, self.neighbour, self.context_slices = channel, neighbour, context_slices
        self.image_size, self.modalities = image_size, BRATS_MODALITIES
        self.preprocessing = {"canvas_size": image_size}

    def call(self, inputs):
        return inputs["context"][..., self.channel, self.neighbour : self.neighbour + 1]


def slice_encoded_volume(depth=6):
    """Every voxel of slice k, contrast c holds `(k + 1) / 10 + c / 100`; brain everywhere but the rim."""
    mask = np.zeros((SIZE, SIZE, depth), bool)
    mask[2:-2, 2:-2] = True
    values = (np.arange(depth)[:, None] + 1) / 10 + np.arange(4)[None, :] / 100
    images = np.broadcast_to(values[None, None], (SIZE, SIZE, depth, 4)).astype(np.float32)
    return np.where(mask[..., None], images, -1.0).astype(np.float32), mask


@pytest.mark.parametrize("neighbour, offset", [(0, -1), (1, 1)])
def test_whole_volumes_get_each_slices_neighbours_as_in_training(neighbour, offset):
    images, mask = slice_encoded_volume()
    available = np.float32([1, 1, 1, 0])
    out = inference.synthesize_volume(NeighbourCopy(1, neighbour), images * available, available, "flair", mask)
    for k in range(images.shape[2]):
        source = k + offset
        expected = images[..., source, 1] if 0 <= source < images.shape[2] else np.full((SIZE, SIZE), -1.0)
        np.testing.assert_allclose(out[..., k][mask[..., k]], expected[mask[..., k]], atol=1e-6)


def test_a_missing_contrasts_neighbours_are_zero_at_inference():
    images, mask = slice_encoded_volume()
    available = np.float32([1, 0, 1, 0])
    out = inference.synthesize_volume(NeighbourCopy(1, 1), images * available, available, "flair", mask)
    assert np.all(out[mask] == 0.0)


def test_stacked_slices_give_the_volumes_context():
    images, mask = slice_encoded_volume()
    slices = slicing.to_model_slices(images, mask, image_size=SIZE, canvas_size=SIZE, indices=np.arange(6)).images
    expected = slicing.to_context_slices(images, mask, np.arange(6), 2, image_size=SIZE, canvas_size=SIZE)
    np.testing.assert_array_equal(inference.stack_context(slices, 2), expected)
    # Evaluation on a prepared split stacks its slices the same way.
    subject = SubjectData("s", images, mask, None, None, np.arange(6), True)
    out = model_prediction(NeighbourCopy(0, 1), subject, np.float32([1, 1, 1, 0]), 3)
    np.testing.assert_allclose(out[..., 2][mask[..., 2]], images[..., 3, 0][mask[..., 2]])


@pytest.fixture(scope="module")
def generator_k1(tmp_path_factory):
    keras.utils.set_random_seed(0)
    generator = MultiBranchGenerator(
        image_size=SIZE, base_filters=2, res_blocks=1, context_slices=1, preprocessing={"canvas_size": 24}
    )
    generator.build_on_zeros()
    path = tmp_path_factory.mktemp("k1") / "k1.keras"
    generator.save(path)
    return generator, path


def test_a_context_model_round_trips_through_the_saved_model(generator_k1, tmp_path):
    generator, path = generator_k1
    written = export.export_generator(path, tmp_path / "serving", version=1)
    signature = tf.saved_model.load(str(written)).signatures["serving_default"]
    assert signature.structured_input_signature[1]["context"].shape.as_list() == [None, SIZE, SIZE, 4, 2]
    rng = np.random.default_rng(1)
    available = np.float32([[1, 1, 1, 0], [0, 1, 1, 1]])
    batch = {
        "images": rng.uniform(-1, 1, (2, SIZE, SIZE, 4)).astype(np.float32) * available[:, None, None],
        "available": available,
        "target": np.float32([[0, 0, 0, 1], [1, 0, 0, 0]]),
        "context": rng.uniform(-1, 1, (2, SIZE, SIZE, 4, 2)).astype(np.float32),
    }
    out = signature(**{k: tf.constant(v) for k, v in batch.items()})["synthesis"].numpy()
    np.testing.assert_allclose(out, generator(batch).numpy(), atol=1e-5)
    info = json.loads((written / "assets.extra" / "magan_keras.json").read_text())
    assert info["context_slices"] == 1 and info["inputs"]["context"]["shape"] == [-1, SIZE, SIZE, 4, 2]
    assert "context" not in export.describe(MultiBranchGenerator(image_size=SIZE, base_filters=2))["inputs"]


def test_a_context_model_synthesises_a_subject_with_uncertainty(generator_k1, subject):
    from magan_keras.inference.synthesis import synthesize_subject

    generator, _ = generator_k1
    result = synthesize_subject(generator, {m: subject[m] for m in ("t1", "t2", "flair")}, uncertainty=True)
    assert result.outputs["t1ce"].shape == (24, 24, 12) and result.uncertainty["t1ce"].shape == (24, 24, 12)
    images, mask = slice_encoded_volume()
    synthesis, _ = synthesize_with_uncertainty(generator, images, [1, 1, 1, 0], "flair", mask)
    plain = inference.synthesize_volume(generator, images * np.float32([1, 1, 1, 0]), [1, 1, 1, 0], "flair", mask)
    np.testing.assert_allclose(synthesis, inference.to_unit_scale(plain, mask), atol=1e-6)


def test_a_context_flag_that_differs_from_the_model_is_refused(generator_k1, subject, tmp_path, capsys):
    _, path = generator_k1
    argv = ["--model", str(path), "--t1", str(subject["t1"]), "--t2", str(subject["t2"]), "--out-dir", str(tmp_path)]
    assert command.main(argv + ["--context-slices", "2", "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1] == f"error: --context-slices 2: {path} was trained with 1 context slices on each side"
    assert not list(tmp_path.glob("*.nii.gz"))
