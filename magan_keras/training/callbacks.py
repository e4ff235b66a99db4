"""Callbacks of a training run: atomic checkpoints, NaN guard, per-epoch sample grids."""

import json
import math
import os

import keras
import numpy as np

from magan_keras import atomic
from magan_keras.training import plots


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite; the message names the step."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first step whose losses are not finite, with its number.

    It raises instead of setting `stop_training`, so the epoch never ends and no
    checkpoint or backup is written with the broken weights: the last good
    checkpoint stays.

    Args:
        keys: log names to watch.
    """

    def __init__(self, keys=("g_loss", "d_loss", "sr_loss")):
        super().__init__()
        self.keys = tuple(keys)

    def on_train_batch_end(self, batch, logs=None):
        for key in self.keys:
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(np.asarray(value).reshape(-1)[0])):
                step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
                raise TrainingDivergedError(
                    f"{key} became {float(np.asarray(value).reshape(-1)[0])} at training step {step} "
                    f"(epoch {self._epoch + 1}, batch {batch + 1}); stopped, the last good checkpoint is kept"
                )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model each epoch to `last.keras` and, when `monitor` improves, `best.keras`.

    Both are written atomically (`magan_keras.atomic.save_model`). The best value so far is
    kept beside them in `best.json` (monitor, mode, value, epoch), so a run resumed by
    `BackupAndRestore` after a kill compares against it instead of starting from scratch: a
    worse first epoch after the resume never replaces `best.keras`.

    Args:
        directory: folder of the checkpoints.
        monitor: str. Log name to select the best epoch by (`val_ssim`); an epoch whose logs
            lack it raises `ValueError` naming the logs there are.
        mode: `"max"` or `"min"`; anything else raises.
        enabled: bool. False on non-chief workers of a multi-worker run.

    Example:
    >>> import tempfile
    >>> AtomicCheckpoint(tempfile.mkdtemp(), mode="maximum")
    Traceback (most recent call last):
    ...
    ValueError: AtomicCheckpoint: mode must be 'max' or 'min', got 'maximum'
    """

    MODES = ("max", "min")

    def __init__(self, directory, monitor="val_ssim", mode="max", enabled=True):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"AtomicCheckpoint: mode must be 'max' or 'min', got {mode!r}")
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"AtomicCheckpoint: monitor must be a log name, got {monitor!r}")
        self.directory = os.fspath(directory)
        self.monitor = monitor
        self.mode = mode
        self.enabled = enabled
        self.best = None
        self.best_epoch = None

    @property
    def state_path(self):
        return os.path.join(self.directory, "best.json")

    def _improves(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_train_begin(self, logs=None):
        # A resumed run: the best so far is what the earlier process recorded.
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                state = json.load(f)
            if state.get("monitor") == self.monitor and state.get("mode") == self.mode:
                self.best, self.best_epoch = float(state["value"]), int(state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"AtomicCheckpoint: monitor {self.monitor!r} is not in the epoch's logs {sorted(logs)}")
        if not self.enabled:
            return
        atomic.save_model(self.model, os.path.join(self.directory, "last.keras"))
        value = float(np.asarray(logs[self.monitor]).reshape(-1)[0])
        if math.isfinite(value) and self._improves(value):
            self.best, self.best_epoch = value, epoch + 1
            atomic.save_model(self.model, os.path.join(self.directory, "best.keras"))
            atomic.write_json(
                self.state_path,
                {"monitor": self.monitor, "mode": self.mode, "value": value, "epoch": epoch + 1},
            )


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG grid (inputs, truth, synthesis, |error|) of fixed examples each epoch.

    Also logs the synthesis to TensorBoard as image summaries when a writer folder
    is given (TensorFlow's `tf.summary`).

    Args:
        batch: `(inputs, y)` numpy batch of a few examples.
        modalities: contrast names.
        directory: folder for `epoch_XXX.png`.
        tensorboard_dir: folder of TensorBoard image summaries, or None.
        enabled: bool. False on non-chief workers.
    """

    def __init__(self, batch, modalities, directory, tensorboard_dir=None, enabled=True):
        super().__init__()
        self.inputs, self.y = batch
        self.modalities = tuple(modalities)
        self.directory = os.fspath(directory)
        self.tensorboard_dir = tensorboard_dir
        self.enabled = enabled
        self.paths = []

    def on_epoch_end(self, epoch, logs=None):
        if not self.enabled:
            return
        synthesis = keras.ops.convert_to_numpy(self.model(self.inputs, training=False))
        path = os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png")
        plots.sample_grid(self.inputs, self.y, synthesis, self.modalities, path, title=f"epoch {epoch + 1}")
        self.paths.append(path)
        if self.tensorboard_dir:
            self._log_images(epoch, synthesis)

    def _log_images(self, epoch, synthesis):
        import tensorflow as tf

        to_unit = lambda x: np.clip((np.asarray(x) + 1.0) / 2.0, 0.0, 1.0)  # noqa: E731
        writer = tf.summary.create_file_writer(os.path.join(self.tensorboard_dir, "images"))
        with writer.as_default():
            tf.summary.image("synthesis", to_unit(synthesis), step=epoch + 1, max_outputs=8)
            tf.summary.image("ground_truth", to_unit(self.y), step=epoch + 1, max_outputs=8)
            tf.summary.image("abs_error", np.abs(to_unit(synthesis) - to_unit(self.y)), step=epoch + 1, max_outputs=8)
        writer.close()


class FinishTraining(keras.callbacks.Callback):
    """When `fit` returns: saves the final model to `model_path` and `last_path` (atomically), then calls `on_done`.

    Put it first among the callbacks, so that this runs before `BackupAndRestore` deletes its
    backup: a kill here leaves the backup, and the rerun (whose `fit` has no epoch left)
    comes back here. `on_done` records that training is finished (the run marker).

    Args:
        model_path: the run's `model.keras`.
        last_path: the checkpoint `last.keras` (rewritten, so a kill while it was saved leaves no stale one).
        on_done: called with no arguments after both saves.
        enabled: False on the non-chief workers of a distributed run.
    """

    def __init__(self, model_path, last_path, on_done, enabled=True):
        super().__init__()
        self.model_path = model_path
        self.last_path = last_path
        self.on_done = on_done
        self.enabled = enabled

    def on_train_end(self, logs=None):
        if not self.enabled:
            return
        atomic.save_model(self.model, self.last_path)
        atomic.save_model(self.model, self.model_path)
        self.on_done()
