"""Runs `python -m magan_keras.train` with the given arguments, for kill-and-resume tests.

Every epoch end prints `finished epoch E at step S`. An extra option `--pause-after-epoch E`
(consumed here) then waits there for up to ten minutes, so that a test can kill the process
at a known place without slowing the other epochs.
"""

import sys
import time

import keras

from magan_keras.cli import train
from magan_keras.training import run


class PausedEpochs(keras.callbacks.Callback):
    def __init__(self, pause_after):
        super().__init__()
        self.pause_after = pause_after

    def on_epoch_end(self, epoch, logs=None):
        print(f"finished epoch {epoch + 1} at step {int(self.model.optimizer.iterations.numpy())}", flush=True)
        if epoch + 1 == self.pause_after:
            time.sleep(600)

    def on_train_begin(self, logs=None):
        print(f"starting at step {int(self.model.optimizer.iterations.numpy())}", flush=True)


if __name__ == "__main__":
    argv = sys.argv[1:]
    pause_after = 0
    if "--pause-after-epoch" in argv:
        index = argv.index("--pause-after-epoch")
        pause_after = int(argv[index + 1])
        del argv[index : index + 2]
    original = run.train
    run.train = lambda config, **kw: original(config, extra_callbacks=[PausedEpochs(pause_after)], verbose=0)
    sys.exit(train.main(argv))
