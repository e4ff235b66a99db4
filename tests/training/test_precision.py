"""`precision`: `mixed_bfloat16` (bfloat16 maths, float32 weights and losses), and `auto` by hardware."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras.training import precision
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


X86_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n"
X86_NO_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize(
    "cpuinfo, flag", [(X86_BF16, "avx512_bf16"), (X86_NO_BF16, None), (ARM_BF16, "bf16"), ("", None)]
)
def test_cpu_bfloat16_flag_reads_x86_and_arm_cpuinfo(cpuinfo, flag):
    assert precision.cpu_bfloat16_flag(cpuinfo) == flag


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """Sets what `bfloat16_hardware` sees: `machine(cpuinfo, accelerators)`."""

    def set_machine(cpuinfo, found=()):
        path = tmp_path / "cpuinfo"
        path.write_text(cpuinfo)
        monkeypatch.setattr(precision, "CPUINFO", str(path))
        monkeypatch.setattr(precision, "accelerators", lambda backend=None: list(found))
        precision.bfloat16_hardware.cache_clear()

    yield set_machine
    precision.bfloat16_hardware.cache_clear()


@pytest.mark.parametrize(
    "cpuinfo, found, expected",
    [
        (X86_BF16, (), "mixed_bfloat16"),  # a CPU with AVX512_BF16
        (X86_NO_BF16, (), "float32"),  # bfloat16 would be emulated, slower
        (X86_BF16, [("gpu", (7, 5))], "float32"),  # the model runs on the Turing GPU, which has no bfloat16
        (X86_NO_BF16, [("gpu", (8, 0)), ("gpu", (9, 0))], "mixed_bfloat16"),
        (X86_NO_BF16, [("gpu", (8, 6)), ("gpu", (7, 0))], "float32"),  # every replica needs it
        (X86_NO_BF16, [("gpu", None)], "float32"),  # capability unknown: the safe choice
        (X86_NO_BF16, [("tpu", None)], "mixed_bfloat16"),
    ],
)
def test_auto_is_bfloat16_only_where_the_hardware_has_it(machine, cpuinfo, found, expected):
    machine(cpuinfo, found)
    assert precision.resolve_precision("auto") == expected
    assert TrainConfig(precision="auto").precision == expected
    assert TrainConfig().precision == expected  # auto is the default
    assert TrainConfig(precision="float32").precision == "float32"  # an explicit choice is kept


@pytest.mark.parametrize("backend, expected", [("tensorflow", "CPU with avx512_bf16"), ("jax", None), ("torch", None)])
def test_only_tensorflow_takes_bfloat16_on_a_cpu(machine, backend, expected):
    machine(X86_BF16)  # no accelerator
    assert precision.bfloat16_hardware(backend) == expected


def test_a_run_records_the_resolved_precision_and_resumes_with_it(machine, tmp_path):
    from magan_keras.training.run import config_differences

    machine(X86_BF16)
    config = TrainConfig(output_dir=str(tmp_path / "run"))
    saved = config.to_dict()
    assert saved["precision"] == "mixed_bfloat16"
    assert TrainConfig.from_dict(saved).precision == "mixed_bfloat16"
    assert config_differences(saved, TrainConfig(output_dir=str(tmp_path / "run"))) == {}
    machine(X86_NO_BF16)  # the same folder resumed where auto means float32: refused, not silently mixed
    assert config_differences(saved, TrainConfig(output_dir=str(tmp_path / "run"))) == {
        "precision": ("mixed_bfloat16", "float32")
    }


def test_the_training_command_says_what_auto_chose(machine, capsys, monkeypatch):
    from magan_keras.cli import train as train_cli

    machine(X86_BF16)

    def stop(config, **kwargs):
        raise SystemExit(config.precision)

    monkeypatch.setattr("magan_keras.training.run.train", stop)
    with pytest.raises(SystemExit, match="mixed_bfloat16"):  # the config it trains with
        train_cli.main(["--epochs", "1"])
    assert "precision: mixed_bfloat16 (auto: CPU with avx512_bf16)" in capsys.readouterr().out
