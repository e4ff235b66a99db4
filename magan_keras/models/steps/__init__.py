"""The gradient step of MAGAN on each backend, a thin module each; the losses are in `magan_keras.models.losses`."""
