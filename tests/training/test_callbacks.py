"""The training run's callbacks: checkpoints that survive a resume, refused settings, the NaN guard."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras import MAGAN
from magan_keras.training.callbacks import AtomicCheckpoint, StopOnNonFiniteLoss, TrainingDivergedError


class ForcedScore(keras.callbacks.Callback):
    """Sets `val_ssim` in the epoch's logs, so a test decides which epoch is best."""

    def __init__(self, scores):
        super().__init__()
        self.scores = list(scores)

    def on_epoch_end(self, epoch, logs=None):
        logs["val_ssim"] = self.scores[epoch]


def compiled(**model_kwargs):
    """A tiny MAGAN compiled eagerly: these tests are about the callbacks, not the step, and an
    eager step costs 2.5 s here against 23 s for the first traced one on TensorFlow."""
    model = MAGAN(**model_kwargs)
    model.compile(run_eagerly=True)
    return model


def fit(model, batch, epochs, initial_epoch, callbacks):
    model.fit(
        tf.data.Dataset.from_tensors(batch).repeat(),
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=1,
        verbose=0,
        callbacks=callbacks,
    )


def test_best_checkpoint_survives_a_resume_after_a_good_epoch(tmp_path, tiny_batch, tiny_model_kwargs):
    folder = tmp_path / "checkpoints"
    model = compiled(**tiny_model_kwargs)
    fit(model, tiny_batch, 1, 0, [ForcedScore([0.9]), AtomicCheckpoint(folder)])
    best_bytes = (folder / "best.keras").read_bytes()
    # The process is killed here; a new one resumes with fresh callbacks (as BackupAndRestore
    # does) and its first epoch is worse: best.keras must stay the good epoch's.
    resumed = AtomicCheckpoint(folder)
    fit(model, tiny_batch, 2, 1, [ForcedScore([None, 0.5]), resumed])
    assert (folder / "best.keras").read_bytes() == best_bytes
    assert json.loads((folder / "best.json").read_text())["epoch"] == 1
    assert resumed.best == pytest.approx(0.9)
    # A better epoch later still replaces it.
    fit(model, tiny_batch, 3, 2, [ForcedScore([None, None, 0.95]), AtomicCheckpoint(folder)])
    assert json.loads((folder / "best.json").read_text()) == {
        "monitor": "val_ssim",
        "mode": "max",
        "value": 0.95,
        "epoch": 3,
    }
    assert keras.saving.load_model(folder / "best.keras").image_size == tiny_model_kwargs["image_size"]


def test_min_mode_keeps_the_lowest(tmp_path, tiny_batch, tiny_model_kwargs):
    folder = tmp_path / "checkpoints"
    model = compiled(**tiny_model_kwargs)
    fit(model, tiny_batch, 3, 0, [ForcedScore([0.3, 0.1, 0.2]), AtomicCheckpoint(folder, mode="min")])
    assert json.loads((folder / "best.json").read_text())["epoch"] == 2


@pytest.mark.parametrize("mode", ["maximum", "MAX", None])
def test_unknown_mode_is_refused(tmp_path, mode):
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        AtomicCheckpoint(tmp_path, mode=mode)


def test_misspelled_monitor_is_refused_naming_the_logs(tmp_path, tiny_batch, tiny_model_kwargs):
    model = compiled(**tiny_model_kwargs)
    with pytest.raises(ValueError, match="'val_sim' is not in the epoch's logs.*g_loss"):
        fit(model, tiny_batch, 1, 0, [AtomicCheckpoint(tmp_path, monitor="val_sim")])
    assert not (tmp_path / "best.keras").exists()


def test_non_finite_loss_stops_with_the_step(tiny_batch, tiny_model_kwargs):
    model = compiled(**tiny_model_kwargs)
    inputs, y = tiny_batch
    broken = (inputs, np.full_like(y, np.nan))
    with pytest.raises(TrainingDivergedError, match="at training step 1"):
        fit(model, broken, 1, 0, [StopOnNonFiniteLoss()])
