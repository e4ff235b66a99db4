"""`magan_keras.inference.generator`: loading, the preprocessing record, slices, whole volumes."""

import keras
import numpy as np
import pytest

from magan_keras import MAGAN, MultiBranchGenerator
from magan_keras.inference import generator as inference
from tfds_brats import slicing
from tfds_brats.constants import BRATS_CANVAS_SIZE
from tfds_brats.preprocessing import Preprocessing

SIZE = 32  # ChannelCopy's default size (conftest)


def _volume(shape=(24, 20, 6), seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    mask[3:21, 2:18, 1:5] = True
    images = np.where(mask[..., None], rng.uniform(-1, 1, shape + (4,)), -1.0).astype(np.float32)
    available = np.array([1, 1, 1, 0], np.float32)
    return images * available, available, mask


def test_predict_slices_pads_the_last_batch_and_rejects_an_available_target(channel_copy):
    slices = np.random.default_rng(1).uniform(-1, 1, (5, SIZE, SIZE, 4)).astype(np.float32)
    copy = channel_copy(1)
    out = inference.predict_slices(copy, slices, [1, 1, 1, 0], "flair", batch_size=2)
    np.testing.assert_allclose(out, slices[..., 1])
    with pytest.raises(ValueError, match="cannot also be an input"):
        inference.predict_slices(copy, slices, [1, 1, 1, 1], "flair")
    with pytest.raises(ValueError, match="batch_size"):
        inference.predict_slices(copy, slices, [1, 1, 1, 0], "flair", batch_size=0)


def test_the_record_survives_a_save_and_reload(tmp_path):
    record = {"canvas_size": 40, "lower_percentile": 1.0, "upper_percentile": 99.0}
    magan = MAGAN(image_size=16, base_filters=2, res_blocks=1, preprocessing=record)
    magan.save(tmp_path / "m.keras")
    generator = inference.load_generator(tmp_path / "m.keras")
    loaded = inference.preprocessing_of(generator)
    assert not loaded.assumed and loaded.canvas_size == 40 and loaded.lower_percentile == 1.0
    assert inference.preprocessing_note(loaded) is None


def test_a_model_without_a_record_is_assumed_with_a_note(model_path, channel_copy):
    for model in (inference.load_generator(model_path), channel_copy(0)):
        record = inference.preprocessing_of(model)
        assert record.assumed and record.canvas_size == BRATS_CANVAS_SIZE
        assert record.modalities == tuple(model.modalities)
        assert "no preprocessing record" in inference.preprocessing_note(record)


def test_a_record_that_does_not_fit_the_model_is_a_model_error(channel_copy):
    model = channel_copy(0, preprocessing={"modalities": ["t1", "t2"]})
    with pytest.raises(inference.ModelError, match="preprocessing"):
        inference.preprocessing_of(model)


@pytest.mark.parametrize("canvas", [40, 20])  # padded 24 x 20 -> 40, or cropped -> 20
def test_synthesize_volume_slices_on_the_models_canvas_without_a_flag(canvas, monkeypatch):
    keras.utils.set_random_seed(0)
    generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": canvas})
    images, available, mask = _volume()
    used = []
    real = slicing.to_model_slices

    def spy(*args, **kwargs):
        used.append(kwargs["canvas_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(slicing, "to_model_slices", spy)
    volume = inference.synthesize_volume(generator, images, available, "flair", mask)
    assert used == [canvas]
    # The same as slicing by hand on that canvas, and not what the brats canvas gives.
    cut = real(images, mask, image_size=16, canvas_size=canvas)
    predictions = inference.predict_slices(generator, cut.images, available, "flair")
    expected = np.clip(slicing.from_model_slices(predictions, cut.indices, mask.shape, canvas_size=canvas), -1, 1)
    expected[~mask] = -1.0
    np.testing.assert_array_equal(volume, expected)
    brats = inference.synthesize_volume(generator, images, available, "flair", mask, canvas_size=BRATS_CANVAS_SIZE)
    assert not np.allclose(brats, volume)
    assert used[-1] == BRATS_CANVAS_SIZE  # canvas_size= still overrides


def test_synthesize_volume_pads_and_crops_exactly_like_the_record(channel_copy):
    """A copy generator at canvas = model size: no resampling, so the output is the input, cropped."""
    images, available, mask = _volume()
    padded = channel_copy(1, image_size=32, preprocessing=Preprocessing(canvas_size=32))
    np.testing.assert_array_equal(
        inference.synthesize_volume(padded, images, available, "flair", mask), np.where(mask, images[..., 1], -1.0)
    )
    cropped = channel_copy(1, image_size=16, preprocessing=Preprocessing(canvas_size=16))
    volume = inference.synthesize_volume(cropped, images, available, "flair", mask)
    kept = np.zeros(mask.shape, bool)
    kept[4:20, 2:18] = True  # the centre 16 x 16 of 24 x 20
    np.testing.assert_array_equal(volume[kept & mask], images[..., 1][kept & mask])
    assert np.all(volume[~kept] == -1.0)  # what the crop cut away comes back as background


def test_an_old_model_keeps_the_old_canvas_rule(channel_copy):
    images, available, mask = _volume(shape=(32, 32, 4))
    old = channel_copy(2, image_size=32)  # no record: volume at the model's size -> canvas 32
    np.testing.assert_array_equal(
        inference.synthesize_volume(old, images, available, "flair", mask), np.where(mask, images[..., 2], -1.0)
    )
    assert inference.canvas_size_of(old, (32, 32)) == 32 and inference.canvas_size_of(old, (24, 20)) == 256


def _corrupt_one_weight_byte(path):
    """Rewrites the `model.weights.h5` entry of a `.keras` zip with one byte of one weight tensor flipped."""
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    weights = bytearray(entries["model.weights.h5"])
    offsets = []
    with h5py.File(io.BytesIO(bytes(weights)), "r") as h5:
        h5.visititems(lambda _, item: offsets.append(item.id.get_offset()) if isinstance(item, h5py.Dataset) else None)
    offset = max(o for o in offsets if o is not None)  # inside the last tensor's data
    weights[offset + 2] ^= 0x40
    entries["model.weights.h5"] = bytes(weights)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_a_model_with_one_corrupted_weight_byte_is_refused_by_its_checksum(tmp_path, capsys):
    from magan_keras import atomic

    generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    generator.build_on_zeros()
    path = atomic.save_model(generator, tmp_path / "g.keras")
    assert (tmp_path / "g.keras.sha256").read_text().split() == [atomic.file_sha256(path), "g.keras"]
    inference.load_generator(path)
    assert capsys.readouterr().err == ""  # verified: nothing to say
    _corrupt_one_weight_byte(path)
    # the damaged file still loads in Keras, with other weights
    reloaded = keras.saving.load_model(path, compile=False)
    assert any(not np.array_equal(a, b) for a, b in zip(generator.get_weights(), reloaded.get_weights())), (
        "the flipped byte must change a weight"
    )
    with pytest.raises(inference.ModelError, match=r"g\.keras does not match its checksum g\.keras\.sha256") as caught:
        inference.load_generator(path)
    assert "\n" not in str(caught.value)


def test_a_model_without_a_checksum_loads_with_a_one_line_note(tmp_path, capsys):
    generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1)
    generator.build_on_zeros()
    generator.save(tmp_path / "plain.keras")  # not through atomic.save_model: no checksum
    assert inference.load_generator(tmp_path / "plain.keras").image_size == 16
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("note: model file ") and "plain.keras.sha256" in err[0]


@pytest.mark.parametrize("name", ["p\x1b[31md", "t1/../../x", ".."])
def test_a_model_whose_contrast_names_are_unsafe_is_refused_on_load(name, tmp_path):
    import json
    import zipfile

    generator = MultiBranchGenerator(("t1", "t2", "pd"), image_size=16, base_filters=2, res_blocks=1)
    generator.build_on_zeros()
    path = tmp_path / "g.keras"
    generator.save(path)
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    entries["config.json"] = entries["config.json"].decode().replace('"pd"', json.dumps(name)).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    with pytest.raises(inference.ModelError, match="is not a safe name") as caught:
        inference.load_generator(path)
    message = str(caught.value)
    assert f"contrast name {ascii(name)}" in message and "\x1b" not in message and "\n" not in message
