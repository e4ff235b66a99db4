"""`tf.distribute` strategies by name, and who writes the run's files."""

import json
import os

STRATEGY_NAMES = ("auto", "mirrored", "one_device", "multi_worker")


def make_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: `"auto"` (MirroredStrategy over all visible GPUs when there are
            several, the default strategy otherwise), `"mirrored"`, `"one_device"`
            (the first GPU, or the CPU) or `"multi_worker"`
            (`MultiWorkerMirroredStrategy` configured by `TF_CONFIG`).

    Example:
    >>> from magan_keras import MAGAN
    >>> strategy = make_strategy("auto")
    >>> with strategy.scope():
    ...     model = MAGAN(image_size=32, base_filters=4, res_blocks=1)
    >>> strategy.num_replicas_in_sync >= 1
    True
    """
    import tensorflow as tf

    if name not in STRATEGY_NAMES:
        raise ValueError(f"strategy must be one of {STRATEGY_NAMES}, got {name!r}")
    # Physical, not logical, devices: listing logical ones starts the runtime, after
    # which MultiWorkerMirroredStrategy can no longer configure its collectives.
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if "TF_CONFIG" not in os.environ:
        raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable (see the README)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief():
    """True unless `TF_CONFIG` names this process a non-chief worker.

    The chief is the task of type `chief`, or worker 0 when there is none. Only
    the chief writes checkpoints, figures and reports.
    """
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    kind, index = task.get("type"), int(task.get("index", 0))
    if kind in (None, "chief"):
        return True
    has_chief = "chief" in config.get("cluster", {})
    return kind == "worker" and index == 0 and not has_chief
