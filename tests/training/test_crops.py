"""Training on random crops of full-resolution slices: the options, and whole slices synthesised after."""

import contextlib
import io

import keras
import numpy as np
import pytest

from magan_keras.training.config import TrainConfig
from magan_keras.training.run import load_splits, make_datasets, prepared_builder, train

TINY = dict(image_size=32, base_filters=4, res_blocks=1, epochs=1, steps_per_epoch=2, batch_size=2, validation_steps=1)


def test_crops_need_the_size_free_attention_and_a_valid_size():
    with pytest.raises(ValueError, match="needs pooled_attention true"):
        TrainConfig(image_size=64, crop_size=32)
    with pytest.raises(ValueError, match=r"multiple of 4 in \[16, image_size=64\]"):
        TrainConfig(image_size=64, crop_size=30, pooled_attention=True)
    with pytest.raises(ValueError, match=r"multiple of 4 in \[16, image_size=64\]"):
        TrainConfig(image_size=64, crop_size=128, pooled_attention=True)
    with pytest.raises(ValueError, match="crop_size must be 0"):
        TrainConfig(crop_size=-8)
    assert TrainConfig(image_size=64, crop_size=32, pooled_attention=True).crop_size == 32
    assert TrainConfig(image_size=64, crop_size=32, modal_attention=False).crop_size == 32  # nothing size-bound
    assert TrainConfig().crop_size == 0 and not TrainConfig().pooled_attention  # whole slices, the paper's MA


@pytest.mark.slow
def test_a_model_trained_on_crops_synthesises_whole_slices(tmp_path):
    config = TrainConfig(
        **TINY,
        crop_size=16,
        pooled_attention=True,
        num_subjects=4,
        output_dir=str(tmp_path / "run"),
        tfds_data_dir=str(tmp_path / "tfds"),
    )
    splits = load_splits(config, prepared_builder(config))
    train_batches, validation_batches = make_datasets(config, splits)
    assert train_batches.element_spec[0]["images"].shape[1:3] == (16, 16)
    assert validation_batches.element_spec[0]["images"].shape[1:3] == (32, 32)  # validated on whole slices

    with contextlib.redirect_stdout(io.StringIO()):
        result = train(config, verbose=0)
    generator = keras.saving.load_model(result.model_path).generator  # the saved model, as a user loads it
    assert generator.pooled_attention and generator.image_size == 32
    inputs, _ = next(iter(validation_batches))
    synthesis = np.asarray(generator({k: np.asarray(v) for k, v in inputs.items()}))
    assert synthesis.shape == (2, 32, 32, 1) and np.all(np.isfinite(synthesis))
    assert set(result.test_metrics) == {"t1", "t1ce", "t2", "flair"}  # scored on whole test slices
    assert "32 px (trained on random 16 px crops)" in open(result.report_path).read()
