"""`precision="auto"`: bfloat16 maths where the hardware has bfloat16 units, float32 elsewhere.

`mixed_bfloat16` (bfloat16 maths, float32 weights and losses) trains 1.74x faster at the
paper's size on CPUs with AVX512_BF16 (benchmarks/README.md) and matched float32's scores
on the three real leave-one-out folds within their spread (docs/results.md). Without
bfloat16 units it is emulated and slower (6-7 s against float32's 1.4-2 s per 128 px step on
a CPU without AVX512_BF16), so `"auto"` picks it only where the hardware has them:

- a GPU of compute capability 8.0 or newer (Ampere on; every visible GPU must have it), or a TPU;
- with no accelerator and the TensorFlow backend, a CPU whose flags list `avx512_bf16` or
  `amx_bf16` (x86) or `bf16` (aarch64), read from `/proc/cpuinfo` (elsewhere, float32). The
  JAX and torch backends stay float32 on a CPU: their bfloat16 CPU speed was not measured.

`TrainConfig` resolves `"auto"` when it is validated, so a run's `config.json` records the
precision that trained it, and resuming compares that.
"""

import functools
import os

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
MIN_GPU_CAPABILITY = (8, 0)
CPUINFO = "/proc/cpuinfo"


def cpu_bfloat16_flag(cpuinfo):
    """The first bfloat16 flag of a `/proc/cpuinfo` text (`flags` on x86, `Features` on aarch64), or None.

    Args:
        cpuinfo: str. The file's text.

    Example:
    >>> cpu_bfloat16_flag("flags\\t\\t: fpu avx2 avx512f avx512_bf16\\n")
    'avx512_bf16'
    >>> cpu_bfloat16_flag("Features\\t: fp asimd sve bf16 i8mm\\n")
    'bf16'
    >>> cpu_bfloat16_flag("flags\\t\\t: fpu avx2 avx512f\\n") is None
    True
    """
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            present = set(value.split())
            for flag in CPU_BFLOAT16_FLAGS:
                if flag in present:
                    return flag
    return None


def accelerators(backend=None):
    """`(kind, capability)` of each visible accelerator for the Keras backend: GPUs and TPUs.

    `capability` is a GPU's compute capability `(major, minor)` (None where the backend does not
    say), None for a TPU. An empty list means the model trains on the CPU.

    Args:
        backend: "tensorflow", "jax" or "torch" (default `keras.backend.backend()`).
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # Physical devices only: listing logical ones starts the runtime (see `distribution.py`).
        found = [
            ("gpu", tf.config.experimental.get_device_details(gpu).get("compute_capability"))
            for gpu in tf.config.list_physical_devices("GPU")
        ]
        return found + [("tpu", None) for _ in tf.config.list_physical_devices("TPU")]
    if backend == "jax":
        import jax

        found = []
        for device in jax.devices():
            if device.platform in ("gpu", "cuda", "rocm"):
                capability = getattr(device, "compute_capability", None)
                found.append(("gpu", tuple(int(p) for p in str(capability).split(".")[:2]) if capability else None))
            elif device.platform == "tpu":
                found.append(("tpu", None))
        return found
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return []
        return [("gpu", tuple(torch.cuda.get_device_capability(i))) for i in range(torch.cuda.device_count())]
    return []


@functools.cache
def bfloat16_hardware(backend=None):
    """Why this machine has bfloat16 units the backend uses (a short text), or None.

    Looks at the accelerators first (the model runs there when there is one), then, for the
    TensorFlow backend, the CPU.

    Args:
        backend: "tensorflow", "jax" or "torch" (default `keras.backend.backend()`).

    Example:
    >>> reason = bfloat16_hardware()
    >>> reason is None or isinstance(reason, str)
    True
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    found = accelerators(backend)
    if found:
        if all(kind == "tpu" for kind, _ in found):
            return "TPU"
        capabilities = [capability for kind, capability in found if kind == "gpu"]
        if capabilities and all(c is not None and tuple(c) >= MIN_GPU_CAPABILITY for c in capabilities):
            return "GPU compute capability " + ", ".join(f"{c[0]}.{c[1]}" for c in capabilities)
        return None
    if backend != "tensorflow" or not os.path.exists(CPUINFO):
        return None
    try:
        with open(CPUINFO, encoding="utf-8", errors="replace") as f:
            flag = cpu_bfloat16_flag(f.read())
    except OSError:
        return None
    return f"CPU with {flag}" if flag else None


def resolve_precision(precision):
    """`precision` with `"auto"` replaced by `mixed_bfloat16` or `float32` for this machine.

    Args:
        precision: one of `PRECISIONS`.

    Raises:
        ValueError: `precision` is not one of `PRECISIONS`.

    Example:
    >>> resolve_precision("float32")
    'float32'
    >>> resolve_precision("auto") in ("float32", "mixed_bfloat16")
    True
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if bfloat16_hardware() else "float32"
