"""Presets: save, load, predict equal; damaged or incompatible presets are refused with one line."""

import json
import types

import keras
import numpy as np
import pytest

from magan_keras import MAGAN, atomic
from magan_keras.evaluation.results import METRICS, EvaluationResults
from magan_keras.inference import generator as inference
from magan_keras.sharing import preset as presets
from magan_keras.training.config import TrainConfig

from .conftest import tiny_inputs


def _synthesis(model, x):
    return np.asarray(model(x, training=False))


def test_save_load_predict_equal(saved_preset):
    model, folder = saved_preset
    x = tiny_inputs()
    expected = _synthesis(model, x)
    assert float(np.std(expected)) > 1e-4  # a real synthesis, not a constant
    again = MAGAN.from_preset(folder)
    assert isinstance(again, MAGAN) and again.preprocessing == model.preprocessing
    np.testing.assert_array_equal(_synthesis(again, x), expected)
    assert getattr(again, "optimizer", None) is None  # weights only, no optimiser state


def test_keras_own_loader_reads_a_preset_folder(saved_preset):
    model, folder = saved_preset
    x = tiny_inputs()
    plain = keras.saving.load_model(str(folder), compile=False)  # as keras.saving.load_model("hf://...") does
    np.testing.assert_array_equal(_synthesis(plain.generator, x), _synthesis(model.generator, x))


def test_metadata_records_the_model_and_every_file(saved_preset):
    model, folder = saved_preset
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["format_version"] == presets.FORMAT_VERSION
    assert metadata["modalities"] == ["t1", "t1ce", "t2", "flair"]
    assert (metadata["image_size"], metadata["canvas_size"]) == (16, 24)
    assert metadata["versions"]["keras"] == keras.__version__
    assert set(metadata["files"]) == {"config.json", "model.weights.h5", "preprocessing.json", "README.md"}
    for name, digest in metadata["files"].items():
        assert atomic.file_sha256(folder / name) == digest
    assert json.loads((folder / "preprocessing.json").read_text()) == model.preprocessing.to_config()


def test_missing_weights_are_refused(preset_copy):
    (preset_copy / "model.weights.h5").unlink()
    with pytest.raises(presets.PresetError, match=r"copy: model\.weights\.h5 is missing$"):
        MAGAN.from_preset(preset_copy)


def test_changed_weights_are_refused(preset_copy):
    with open(preset_copy / "model.weights.h5", "r+b") as f:
        f.seek(-100, 2)
        byte = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(inference.ModelError, match=r"model\.weights\.h5 has changed since the preset was made"):
        inference.load_generator(preset_copy)


def _edit_metadata(folder, **changes):
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata.update(changes)
    path.write_text(json.dumps(metadata))


def test_edited_metadata_is_refused(preset_copy):
    _edit_metadata(preset_copy, modalities=["t1", "t2", "flair", "t1ce"])
    with pytest.raises(presets.PresetError, match=r"metadata\.json says modalities .* but the model in config\.json"):
        presets.from_preset(preset_copy)


def test_a_newer_format_is_refused(preset_copy):
    _edit_metadata(preset_copy, format_version=presets.FORMAT_VERSION + 1)
    with pytest.raises(presets.PresetError, match=r"format_version 2 is newer than this magan_keras reads \(1\)"):
        presets.from_preset(preset_copy)


def test_broken_metadata_is_refused(preset_copy):
    (preset_copy / "metadata.json").write_text("{not json")
    with pytest.raises(presets.PresetError, match=r"metadata\.json is not valid JSON"):
        presets.from_preset(preset_copy)
    (preset_copy / "metadata.json").unlink()
    with pytest.raises(presets.PresetError, match=r"metadata\.json is missing"):
        presets.from_preset(preset_copy)


def test_other_contrasts_are_refused(saved_preset):
    with pytest.raises(presets.PresetError, match=r"is for contrasts t1, t1ce, t2, flair .*not t1, t2, pd"):
        presets.load_generator_from_preset(saved_preset[1], modalities=("t1", "t2", "pd"))


def test_an_existing_folder_is_kept_unless_overwrite(saved_preset, tmp_path):
    model, _ = saved_preset
    folder = presets.save_to_preset(model, tmp_path / "p")
    first = presets.validate_preset(folder)["files"]["model.weights.h5"]
    with pytest.raises(presets.PresetError, match="exists and is not empty"):
        presets.save_to_preset(model, folder)
    variable = model.generator.trainable_weights[0]
    original = variable.numpy()
    try:
        variable.assign(original + 1.0)
        presets.save_to_preset(model, folder, overwrite=True)
    finally:
        variable.assign(original)
    second = presets.validate_preset(folder)["files"]["model.weights.h5"]
    assert second != first  # the new weights replaced the old ones, and the new preset checks out
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(presets.PresetError, match="not a magan_keras preset"):
        presets.save_to_preset(model, tmp_path / "notes", overwrite=True)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "p"]  # no staging folders left


def _fake_run(run_dir):
    """A run folder's files, written by the writers the training run uses."""
    config = TrainConfig(num_subjects=4, image_size=16, base_filters=4, res_blocks=1, epochs=1, output_dir=str(run_dir))
    atomic.write_json(run_dir / "config.json", config.to_dict())
    test_metrics = {
        c: {"psnr": 20.0 + i, "ssim": 0.5 + i / 10, "mae": 0.05 * (i + 1)}
        for i, c in enumerate(("t1", "t1ce", "t2", "flair"))
    }
    atomic.write_json(run_dir / "test_metrics.json", test_metrics)
    rows = [
        {"subject_id": s, "target": "flair", "method": method, "slices": 3, **{m: value for m in METRICS}}
        for method, base in (("magan", 0.8125), ("linear", 0.625))
        for s, value in (("a", base), ("b", base + 0.0625))
    ]
    EvaluationResults(rows, ("flair",), ("magan", "linear"), {}, ["test"]).write(run_dir / "evaluation", figure=False)


def test_the_card_holds_the_runs_scores(saved_preset, tmp_path):
    model, _ = saved_preset
    run_dir = tmp_path / "run"
    _fake_run(run_dir)
    builder = types.SimpleNamespace(
        info=types.SimpleNamespace(
            full_name="brats_phantom/slices_16_num_subjects4/1.0.0",
            version="1.0.0",
            metadata={"split_subjects": {"train": ["a", "b"], "validation": ["c"], "test": ["d"]}, "subjects_found": 4},
            splits={"train": types.SimpleNamespace(num_examples=13), "test": types.SimpleNamespace(num_examples=6)},
        ),
        builder_config=types.SimpleNamespace(description="simulated subjects"),
    )
    folder = presets.save_to_preset(model, tmp_path / "preset", run_dir=run_dir, builder=builder)
    card = (folder / "README.md").read_text()
    assert "| t1 | 20.00 | 0.5000 | 0.0500 |" in card and "| flair | 23.00 | 0.8000 | 0.2000 |" in card
    # the evaluation summary: mean ± (population) std over the two subjects, per protocol, model and baseline
    assert "| flair | magan | 2 | 0.8438 ± 0.0312 | 0.8438 ± 0.0312 |" in card
    assert "| flair | linear | 2 | 0.6562 ± 0.0312 |" in card
    assert "BraSyn challenge protocol" in card and "per-slice protocol" in card
    assert "**Not for clinical use.**" in card and "license: apache-2.0" in card and "@article{magan" in card
    assert "train 2, validation 1, test 1" in card and "brats_phantom/slices_16_num_subjects4" in card
    assert "BraTS data" not in card  # trained on the phantom: no BraTS terms or citations
    training = json.loads((folder / "training_config.json").read_text())
    assert training["num_subjects"] == 4 and "output_dir" not in training and "data_dir" not in training
    metadata = presets.validate_preset(folder)
    assert metadata["training_data"]["split_subjects"] == {"train": 2, "validation": 1, "test": 1}
    assert presets.training_config_file(folder) == folder / "training_config.json"


def test_a_run_folder_given_as_a_preset_points_at_its_preset(tmp_path):
    (tmp_path / "run" / "preset").mkdir(parents=True)
    (tmp_path / "run" / "preset" / "metadata.json").write_text("{}")
    with pytest.raises(inference.ModelError, match=r"not a magan_keras preset folder\); a training run's preset is "):
        inference.load_generator(tmp_path / "run")
