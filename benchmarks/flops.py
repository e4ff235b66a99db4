"""Counting the floating-point work of MA-GAN's training step (for GFLOP/s figures).

Forward FLOPs of each network are counted by TensorFlow's graph profiler on the
traced forward pass, written with the plain Keras ops (every multiply and add of
convolutions, dense layers, normalisation and attention); a training step's backward pass costs about twice
its forward pass (the usual rule: one product for the input gradient, one for the
weight gradient), so a step counts 3x the forward FLOPs of each network it
differentiates. Per MA-GAN step that is:

- G: forward + backward (3x G's forward);
- D: forward on the real and the synthetic batch (2 x batch), backward on both for
  D's update, and through the synthetic half again for G's update;
  counted as 3x D's forward on 2 x batch;
- SR: forward + backward under the joint schedule (3x), forward only otherwise.

Example:
    from benchmarks.flops import training_step_flops
    flops = training_step_flops(model, batch_size=2)
"""

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from tensorflow.python.profiler import model_analyzer, option_builder


def forward_flops(function, *specs):
    """FLOPs of one call of `function` on inputs of the given `tf.TensorSpec`s.

    Traced with the plain Keras ops (`kernels.reference_kernels()`), so the count is the
    model's maths, not whichever faster kernel computes it.
    """
    from magan_keras.layers import kernels

    with kernels.reference_kernels():
        concrete = tf.function(function).get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(concrete)
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    info = model_analyzer.profile(graph=frozen.graph, options=options)
    return int(info.total_float_ops)


def training_step_flops(model, batch_size):
    """FLOPs of one `MAGAN.train_step` at `batch_size` (see the module docstring)."""
    s, m = model.image_size, len(model.modalities)
    images = tf.TensorSpec((batch_size, s, s, m), tf.float32)
    vector = tf.TensorSpec((batch_size, m), tf.float32)
    image1 = tf.TensorSpec((batch_size, s, s, 1), tf.float32)
    g = forward_flops(
        lambda x, a, t: model.generator({"images": x, "available": a, "target": t}), images, vector, vector
    )
    double = lambda spec: tf.TensorSpec((2 * batch_size,) + tuple(spec.shape[1:]), tf.float32)  # noqa: E731
    d = forward_flops(
        lambda x, a, t, c: model.discriminator({"images": x, "available": a, "target": t, "candidate": c}),
        double(images),
        double(vector),
        double(vector),
        double(image1),
    )
    total = 3 * g + 3 * d
    if model.self_representation is not None:
        sr = forward_flops(lambda y: model.self_representation(y), image1)
        total += (3 if model.trains_self_representation else 1) * sr
    return total
