"""Shared fixtures: tiny, structured batches made on the fly (no data sets needed)."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests' models are tiny and each runs a few steps: XLA's compilation, not the steps,
# is most of the JAX pass. Without LLVM's optimisations (the HLO passes still run) it compiles
# a third faster and the results agree within the tests' tolerances; set before `keras` imports jax.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

if keras.backend.backend() == "jax":
    import jax

    # Keep compiled steps on disk, so that alike models compile once per run (and
    # machine) rather than once per test: the JAX pass is mostly XLA compilation.
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", os.path.join(tempfile.gettempdir(), "magan_keras_jax_cache"))


@pytest.fixture(autouse=True, scope="session")
def float32_machine(tmp_path_factory):
    """`precision="auto"` (the default) resolves to float32 in every test, on every machine.

    Session-wide, so module fixtures see it too. Tests then train the same arithmetic with or
    without bfloat16 units; `tests/training/test_precision.py` sets the machine it needs, and
    scripts run in subprocesses pass `precision="float32"`.
    """
    from magan_keras.training import precision

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision, "CPUINFO", str(tmp_path_factory.getbasetemp() / "no_cpuinfo"))
        patch.setattr(precision, "accelerators", lambda backend=None: [])
        precision.bfloat16_hardware.cache_clear()
        yield
    precision.bfloat16_hardware.cache_clear()


def make_tiny_batch(batch_size=4, image_size=32, num_modalities=4, seed=0):
    """A batch `(inputs, y)` of smooth blob images whose contrasts are related.

    Each contrast is a different non-linear function of the same two random
    smooth "tissue" maps, so the missing target is predictable from the others.
    The targets cycle through the contrasts.
    """
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, image_size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    maps = []
    for _ in range(batch_size):
        tissue = np.zeros((2, image_size, image_size))
        for channel in range(2):
            for _ in range(3):
                cy, cx = rng.uniform(-0.6, 0.6, 2)
                width = rng.uniform(0.15, 0.4)
                tissue[channel] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2))
        maps.append(np.clip(tissue, 0, 1))
    maps = np.stack(maps)  # [B, 2, H, W]
    a, b = maps[:, 0], maps[:, 1]
    contrasts = [a, b, np.sqrt(a * b + 1e-6), np.abs(a - b), a**2, 1 - b]
    images = np.stack(contrasts[:num_modalities], axis=-1) * 2 - 1  # [-1, 1]
    target_index = np.arange(batch_size) % num_modalities
    target = np.eye(num_modalities, dtype="float32")[target_index]
    available = 1.0 - target
    y = images[np.arange(batch_size), :, :, target_index][..., None]
    inputs = {
        "images": (images * available[:, None, None, :]).astype("float32"),
        "available": available.astype("float32"),
        "target": target,
    }
    return inputs, y.astype("float32")


def pytest_collection_modifyitems(items):
    """Runs the modules that hold `slow` tests first, each module's tests kept together and in order.

    With `-n 2` the long end-to-end tests then start early on both workers instead of leaving
    one worker running a 60-80 s test alone at the end; whole modules move, so a module's
    fixtures are still set up once per worker.
    """
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


@pytest.fixture
def tiny_batch():
    return make_tiny_batch()


@pytest.fixture
def tiny_model_kwargs():
    """The smallest MAGAN that still has every part: 32 px, width 4, one residual block."""
    return dict(image_size=32, base_filters=4, res_blocks=1)


def gradients(loss_fn, variables):
    """Gradients of the scalar `loss_fn()` with respect to Keras `variables`, on any backend.

    TensorFlow: `GradientTape`; torch: `torch.autograd.grad`; JAX: `jax.grad` of
    `loss_fn` run in a `keras.StatelessScope` on the variables' values, jitted (one
    compilation is faster than compiling every eager op of the backward). Returns
    backend tensors, `None` where the loss does not depend on a variable (JAX gives
    zeros there instead).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, variables)
    if backend == "torch":
        import torch

        return list(torch.autograd.grad(loss_fn(), [v.value for v in variables], allow_unused=True))
    if backend == "jax":
        import jax

        def loss_of(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_fn()

        return jax.jit(jax.grad(loss_of))([v.value for v in variables])
    raise NotImplementedError(backend)


@pytest.fixture(name="gradients")
def gradients_fixture():
    """The backend-neutral `gradients(loss_fn, variables)` helper."""
    return gradients


def flip_one_compressed_byte(path):
    """Flips one byte inside a `.gz` file's deflate stream so that it still inflates, to other bytes.

    The damaged file decompresses without a deflate error (a reader that stops at the last voxel
    sees only changed values); only gzip's CRC at the end of the stream tells. Returns the offset.
    """
    import gzip
    import zlib

    data = bytearray(open(path, "rb").read())
    original = gzip.decompress(bytes(data))
    flags, start = data[3], 10
    if flags & 4:  # FEXTRA
        start += 2 + int.from_bytes(data[10:12], "little")
    for flag in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            start = data.index(0, start) + 1
    if flags & 2:  # FHCRC
        start += 2
    for offset in range(start + (len(data) - start) // 2, len(data) - 8):
        for bit in range(8):
            trial = bytearray(data)
            trial[offset] ^= 1 << bit
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                out = inflater.decompress(bytes(trial[start:-8]))
            except zlib.error:
                continue
            if inflater.eof and len(out) == len(original) and out != original:
                with open(path, "wb") as stream:
                    stream.write(trial)
                return offset
    raise AssertionError(f"no byte of {path} flips to a stream that still inflates")


@pytest.fixture(name="flip_one_compressed_byte")
def flip_one_compressed_byte_fixture():
    """The `flip_one_compressed_byte(path)` helper (a `.nii.gz` whose gzip CRC fails)."""
    return flip_one_compressed_byte
