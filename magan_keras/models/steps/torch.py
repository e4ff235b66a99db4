"""MAGAN's train and test steps on the PyTorch backend (`torch.autograd.grad`).

One forward (`model.compute_step_losses`), then each network's own loss is
differentiated with respect to that network's weights only: `g_loss` to G, `d_loss`
to D, `sr_loss` to SR. `torch.autograd.grad` returns the gradients instead of
accumulating them in `.grad`, so D's and G's gradients never mix (a plain
`backward()` of each loss would add `g_loss`'s gradient into D's `.grad`), and
`retain_graph=True` keeps the shared graph for the next loss.
"""

import torch

from magan_keras.models.steps.batch import unpack


def train_step(model, data):
    """One simultaneous G / D / SR update; returns the logs."""
    inputs, y = unpack(data)
    results = model.compute_step_losses(inputs, y, training=True)
    pairs = model._optimizer_pairs()
    updates = []
    for k, (optimizer, network, loss_name) in enumerate(pairs):
        variables = network.trainable_variables
        gradients = torch.autograd.grad(
            results[loss_name],
            [v.value for v in variables],
            retain_graph=k < len(pairs) - 1,
            allow_unused=True,
        )
        updates.append((optimizer, gradients, variables))
    with torch.no_grad():
        for optimizer, gradients, variables in updates:
            optimizer.apply(list(gradients), variables)
    return model.update_trackers({name: value.detach() for name, value in results.items()})


def test_step(model, data):
    """Scores a batch without updating any weight; returns the logs."""
    inputs, y = unpack(data)
    with torch.no_grad():
        results = model.compute_step_losses(inputs, y, training=False)
    return model.update_trackers(results)
