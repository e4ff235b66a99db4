"""`precision="mixed_bfloat16"`: bfloat16 maths, float32 weights and losses, restored policy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras.training.config import TrainConfig
from magan_keras.training.run import build_model


def test_mixed_bfloat16_trains_with_float32_weights_and_saves_its_policy(tmp_path, tiny_batch):
    config = TrainConfig(image_size=32, base_filters=4, res_blocks=1, precision="mixed_bfloat16")
    model = build_model(config)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    layers = [la for la in model._flatten_layers(include_self=False) if isinstance(la, keras.layers.Conv2D)]
    assert layers and all(la.compute_dtype == "bfloat16" and la.kernel.dtype == "float32" for la in layers)
    synthesis = model(tiny_batch[0])
    assert keras.ops.convert_to_numpy(synthesis).dtype == np.float32
    history = model.fit(tf.data.Dataset.from_tensors(tiny_batch).repeat(), epochs=1, steps_per_epoch=3, verbose=0)
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    model.save(tmp_path / "bf16.keras")
    loaded = keras.saving.load_model(tmp_path / "bf16.keras")
    assert loaded.generator.fusion.compute_dtype == "bfloat16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(tiny_batch[0])), keras.ops.convert_to_numpy(model(tiny_batch[0])), atol=1e-6
    )


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="float16")
