"""Runs `python -m magan_keras.train` with the given arguments, for kill-and-resume tests.

An extra option `--sleep-after-epoch S` (consumed here) slows each epoch end so a
test can kill the process mid-run at a known place.
"""

import sys
import time

import keras

from magan_keras.cli import train
from magan_keras.training import run


class SlowEpochs(keras.callbacks.Callback):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch, logs=None):
        print(f"finished epoch {epoch + 1} at step {int(self.model.optimizer.iterations.numpy())}", flush=True)
        time.sleep(self.seconds)

    def on_train_begin(self, logs=None):
        print(f"starting at step {int(self.model.optimizer.iterations.numpy())}", flush=True)


if __name__ == "__main__":
    argv = sys.argv[1:]
    seconds = 0.0
    if "--sleep-after-epoch" in argv:
        index = argv.index("--sleep-after-epoch")
        seconds = float(argv[index + 1])
        del argv[index : index + 2]
    original = run.train
    run.train = lambda config, **kw: original(config, extra_callbacks=[SlowEpochs(seconds)], verbose=0)
    sys.exit(train.main(argv))
