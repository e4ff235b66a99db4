"""One training step on 1 device and under MirroredStrategy on 2 logical CPUs; prints JSON.

Run in its own process: logical devices must be set before TensorFlow starts.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from conftest import make_tiny_batch  # noqa: E402

from magan_keras.training.config import TrainConfig  # noqa: E402
from magan_keras.training.run import build_model  # noqa: E402

config = TrainConfig(image_size=32, base_filters=4, res_blocks=1, batch_size=4, precision="float32")
batch = make_tiny_batch(batch_size=4)
dataset = tf.data.Dataset.from_tensors(batch).repeat()
results = {}
initial = None
for name, strategy in (
    ("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
    ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
):
    keras.utils.set_random_seed(0)
    model = build_model(config, strategy)
    if initial is None:
        initial = model.get_weights()
    else:
        model.set_weights(initial)
    # Plain SGD: Adam's update hardly depends on the gradient's scale, so it would
    # hide a wrongly reduced loss (a sum over replicas instead of the global mean).
    with strategy.scope():
        model.compile(**{f"{p}_optimizer": keras.optimizers.SGD(0.5) for p in ("g", "d", "sr")})
    history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0).history
    results[name] = {
        "replicas": strategy.num_replicas_in_sync,
        "logs": {k: float(np.asarray(v[0]).reshape(-1)[0]) for k, v in history.items()},
        "weights": [w.tolist() for w in model.get_weights()],
    }
json.dump(results, sys.stdout)
