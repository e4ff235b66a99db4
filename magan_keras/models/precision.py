"""Dtype policies for the subclassed networks: their sub-layers follow the network's policy."""

import contextlib

import keras


@contextlib.contextmanager
def sublayers_follow(network):
    """Makes layers created in the block take `network`'s dtype policy, then restores.

    Keras layers take the global policy when they are created, and a subclassed
    network re-creates its sub-layers in `__init__` when it is loaded, so a network
    built as `MAGAN(dtype="mixed_bfloat16")` must create them under its own policy
    for the policy to survive `model.save` / `keras.saving.load_model`.

    Args:
        network: a `keras.layers.Layer` whose `dtype_policy` is already set.

    Example:
    >>> class Net(keras.Model):
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         with sublayers_follow(self):
    ...             self.dense = keras.layers.Dense(2)
    >>> Net(dtype="mixed_bfloat16").dense.compute_dtype
    'bfloat16'
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(network.dtype_policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
