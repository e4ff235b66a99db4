"""MAGAN's train and test steps on the JAX backend (stateless forward, `jax.vjp`).

JAX's trainer is functional: `fit` hands `train_step` the values of the model's
trainable, non-trainable, optimiser and metric variables and takes new values back.
It threads only `model.optimizer.variables`, so on this backend `model.optimizer`
is an `OptimizerGroup`: a view whose `variables` are G's, D's and SR's optimisers'
variables, one after the other. Each optimiser keeps its own settings (learning rate,
betas, schedule), so different learning rates for G, D and SR behave as on
TensorFlow and torch. The group is not saved itself: the three optimisers are, under
their own names, so a `.keras` file is the same whichever backend wrote it.

The forward runs once (`model.compute_step_losses` inside a `keras.StatelessScope`);
`jax.vjp` then pulls back each network's own loss (`g_loss` to G, `d_loss` to D,
`sr_loss` to SR), as TensorFlow's persistent tape does. Under `jit`, XLA drops the
parts of each pull-back that nobody reads. With `keras.distribution.DataParallel`
the step is one global program over the global batch: losses are global means and
need no replica scaling.
"""

import jax
import keras
from jax import numpy as jnp

from magan_keras.models.steps.batch import unpack


class OptimizerGroup:
    """Several Keras optimisers seen as one by the JAX trainer (`model.optimizer` on JAX).

    `variables` concatenates the members' variables; `iterations` and
    `learning_rate` are the first member's (G's), which is what `model.optimizer`
    means on the other backends, so callbacks such as `LearningRateScheduler` act on
    G's optimiser everywhere. It is not a `KerasSaveable`: saving skips it and saves
    the members under their own attribute names.

    Args:
        optimizers: sequence of built `keras.optimizers.Optimizer`, G's first.

    Example:
    >>> import keras
    >>> first, second = keras.optimizers.Adam(), keras.optimizers.Adam()
    >>> first.build([keras.Variable([1.0, 2.0])])
    >>> second.build([keras.Variable([3.0])])
    >>> group = OptimizerGroup([first, second])
    >>> parts = group.split([v.value for v in group.variables])
    >>> [len(part) for part in parts] == [len(first.variables), len(second.variables)]
    True
    """

    built = True

    def __init__(self, optimizers):
        self.optimizers = list(optimizers)

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def iterations(self):
        return self.optimizers[0].iterations

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.optimizers[0].learning_rate = value

    def split(self, values):
        """Cuts values laid out as `variables` into one list per member."""
        lists, start = [], 0
        for optimizer in self.optimizers:
            stop = start + len(optimizer.variables)
            lists.append(list(values[start:stop]))
            start = stop
        return lists

    def index(self, optimizer):
        """Position of `optimizer` among the members (by identity)."""
        return next(i for i, member in enumerate(self.optimizers) if member is optimizer)


def forward(model, trainable, non_trainable, inputs, y, training):
    """`model.compute_step_losses` on the given variable values.

    Returns:
        `(results, non_trainable)`: the loss and metric dict and the new
        non-trainable values.
    """
    mapping = list(zip(model.trainable_variables, trainable))
    mapping += list(zip(model.non_trainable_variables, non_trainable))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        results = model.compute_step_losses(inputs, y, training=training)
    return results, [scope.get_current_value(v) for v in model.non_trainable_variables]


def update_trackers(model, metrics_values, results):
    """`model.update_trackers` on the given tracker values; returns `(logs, new values)`."""
    mapping = list(zip(model.metrics_variables, metrics_values))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = model.update_trackers(results)
    return logs, [scope.get_current_value(v) for v in model.metrics_variables]


def train_step(model, state, data):
    """One simultaneous G / D / SR update on the trainer's state; returns `(logs, state)`."""
    trainable, non_trainable, optimizer_values, metrics_values = state
    inputs, y = unpack(data)
    pairs = model._optimizer_pairs()
    position = {id(v): i for i, v in enumerate(model.trainable_variables)}

    def step_losses(trainable_values):
        results, new_non_trainable = forward(model, trainable_values, non_trainable, inputs, y, True)
        return [results[name] for _, _, name in pairs], (results, new_non_trainable)

    losses, pull_back, (results, non_trainable) = jax.vjp(step_losses, list(trainable), has_aux=True)
    trainable = list(trainable)
    optimizer_values = model.optimizer.split(optimizer_values)
    for k, (optimizer, network, _) in enumerate(pairs):
        (gradients,) = pull_back([jnp.ones_like(v) if j == k else jnp.zeros_like(v) for j, v in enumerate(losses)])
        owned = [position[id(v)] for v in network.trainable_variables]
        slot = model.optimizer.index(optimizer)
        new_values, optimizer_values[slot] = optimizer.stateless_apply(
            optimizer_values[slot], [gradients[i] for i in owned], [trainable[i] for i in owned]
        )
        for i, value in zip(owned, new_values):
            trainable[i] = value
    logs, metrics_values = update_trackers(model, metrics_values, results)
    optimizer_values = [v for values in optimizer_values for v in values]
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)


def test_step(model, state, data):
    """Scores a batch without updating any weight; returns `(logs, state)`."""
    trainable, non_trainable, metrics_values = state
    inputs, y = unpack(data)
    results, non_trainable = forward(model, trainable, non_trainable, inputs, y, False)
    logs, metrics_values = update_trackers(model, metrics_values, results)
    return logs, (trainable, non_trainable, metrics_values)
