"""Learning-rate schedules for G, D and SR: pix2pix's constant-then-linear-decay."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="magan_keras")
class HoldThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Holds the learning rate, then decays it linearly to zero (pix2pix's `linear` policy).

    pix2pix and CycleGAN train `n_epochs` at the initial rate and `n_epochs_decay` more
    while it falls linearly to zero; late updates then stop jittering the adversarial
    equilibrium, which is what the final weights are judged on. Keras has linear decay
    (`PolynomialDecay(power=1)`) but not the constant stretch before it.

    Args:
        initial_learning_rate: the rate for the first `hold_steps` steps.
        hold_steps: optimizer steps at the initial rate.
        decay_steps: steps over which the rate then falls linearly to zero; from
            `hold_steps + decay_steps` on it stays at zero.

    Example:
    >>> schedule = HoldThenLinearDecay(1e-3, hold_steps=100, decay_steps=100)
    >>> [round(float(schedule(step)), 6) for step in (0, 100, 150, 200, 300)]
    [0.001, 0.001, 0.0005, 0.0, 0.0]
    """

    def __init__(self, initial_learning_rate, hold_steps, decay_steps):
        if hold_steps < 0 or decay_steps < 1:
            raise ValueError(f"need hold_steps >= 0 and decay_steps >= 1, got {hold_steps} and {decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.hold_steps = int(hold_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.hold_steps) / self.decay_steps, 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - progress)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "hold_steps": self.hold_steps,
            "decay_steps": self.decay_steps,
        }


def learning_rate_for(config):
    """The learning rate (a float or a schedule) every optimiser of a run uses.

    Args:
        config: a `TrainConfig`; `lr_decay="linear"` holds `learning_rate` for the first
            half of `epochs * steps_per_epoch` steps and decays it to zero over the second.
    """
    if config.lr_decay == "none":
        return config.learning_rate
    total_steps = config.epochs * config.steps_per_epoch
    hold_steps = total_steps // 2
    return HoldThenLinearDecay(
        config.learning_rate, hold_steps=hold_steps, decay_steps=max(1, total_steps - hold_steps)
    )
