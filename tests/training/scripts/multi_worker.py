"""A few steps of `MAGAN.fit` under MultiWorkerMirroredStrategy; one process per worker.

Usage: TF_CONFIG=... python multi_worker.py OUT.npz
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from conftest import make_tiny_batch  # noqa: E402

from magan_keras.training.config import TrainConfig  # noqa: E402
from magan_keras.training.distribution import make_strategy  # noqa: E402
from magan_keras.training.run import build_model  # noqa: E402

strategy = make_strategy("multi_worker")
config = TrainConfig(image_size=32, base_filters=4, res_blocks=1, batch_size=4, precision="float32")
keras.utils.set_random_seed(0)
inputs, y = make_tiny_batch(batch_size=8)
dataset = tf.data.Dataset.from_tensor_slices((inputs, y)).repeat().batch(4)
model = build_model(config, strategy)
history = model.fit(dataset, epochs=2, steps_per_epoch=2, verbose=0).history
assert all(np.isfinite(np.asarray(v)).all() for v in history.values()), history
np.savez(sys.argv[1], *model.get_weights(), g_loss=np.asarray(history["g_loss"]).reshape(-1))
print("worker done", history["g_loss"])
