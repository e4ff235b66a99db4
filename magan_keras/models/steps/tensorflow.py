"""MAGAN's train and test steps on the TensorFlow backend (GradientTape, tf.distribute)."""

import tensorflow as tf

from magan_keras.models.steps.batch import unpack


def cross_replica_mean(value):
    """Mean of `value` over the replicas of the current strategy (identity on one device).

    Keras reports the first replica's logs under a strategy; averaging here makes
    the logged losses and metrics the global-batch values.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def step_logs(model, results):
    """Feeds the trackers with global values and returns the logs.

    Workaround: under MultiWorkerMirroredStrategy Keras reduces every log along
    axis 0 (`reduce_per_replica` in keras/src/backend/tensorflow/trainer.py, see
    keras-team/keras#20585's discussion), which fails on scalars; rank-1 logs
    reduce to the same scalar.
    """
    logs = model.update_trackers(results, reduce=cross_replica_mean)
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


def train_step(model, data):
    """One simultaneous G / D / SR update; returns the logs."""
    inputs, y = unpack(data)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    with tf.GradientTape(persistent=True) as tape:
        results = model.compute_step_losses(inputs, y, training=True)
        # Gradients are summed over replicas by the optimizer: scale to the global mean.
        scaled = {name: results[name] / replicas for _, _, name in model._optimizer_pairs()}
    updates = []
    for optimizer, network, loss_name in model._optimizer_pairs():
        variables = network.trainable_variables
        gradients = tape.gradient(scaled[loss_name], variables)
        updates.append((optimizer, gradients, variables))
    del tape
    for optimizer, gradients, variables in updates:
        optimizer.apply_gradients(zip(gradients, variables))
    return step_logs(model, results)


def test_step(model, data):
    """Scores a batch without updating any weight; returns the logs."""
    inputs, y = unpack(data)
    results = model.compute_step_losses(inputs, y, training=False)
    return step_logs(model, results)
