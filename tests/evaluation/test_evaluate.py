"""`evaluate_model` (`magan_keras.evaluation.evaluate`) on fake splits and BraTS folders."""

import numpy as np
import pytest

from magan_keras import MAGAN
from magan_keras.evaluation import evaluate
from magan_keras.evaluation.baselines import Baselines
from magan_keras.evaluation.results import METRICS
from magan_keras.inference import generator as inference
from tfds_brats import examples
from tfds_brats.brats.make_dummy_data import write_fake_subject


def test_evaluate_model_on_a_fake_split_scores_model_and_baselines(fake_split, channel_copy):
    baselines = Baselines.fit(fake_split(seed=1))
    results = evaluate.evaluate_model(channel_copy(0), fake_split(), baselines=baselines)
    assert results.methods == ("magan", "best_single", "linear")
    assert len(results.rows) == 3 * 4 * 3
    for row in results.rows:
        for name in METRICS:
            assert np.isfinite(row[name]), (row, name)
    # t1ce = 0.5 t1 exactly: both baselines are near perfect on it; the copy of t1 is not.
    assert results.metric_mean("t1ce", "linear", "slice_mae") < 1e-4
    assert results.metric_mean("t1ce", "best_single", "slice_mae") < 0.01
    assert results.metric_mean("t1ce", "magan", "slice_mae") > 0.05
    summary = {(e["target"], e["method"]): e for e in results.summary()}
    assert summary[("flair", "magan")]["n"] == 3
    markdown = results.to_markdown()
    assert "| flair | linear | 3 |" in markdown and "± " in markdown
    assert set(results.examples) == {"t1", "t1ce", "t2", "flair"}


def test_evaluate_model_checks_targets_and_sizes(fake_split, channel_copy):
    with pytest.raises(ValueError, match="model takes"):
        evaluate.evaluate_model(channel_copy(0, image_size=32), fake_split())
    with pytest.raises(ValueError, match="'pd' is not one of the model's contrasts"):
        evaluate.evaluate_model(channel_copy(0), fake_split(), targets=["pd"])
    with pytest.raises(ValueError, match="BraTS folder has the contrasts"):
        evaluate.evaluate_model(channel_copy(0, modalities=("t1", "t2")), "some/folder")
    with pytest.raises(ValueError, match="no subject"):
        evaluate.evaluate_model(channel_copy(0), [])


def write_folder(folder, count=2):
    for i in range(count):
        write_fake_subject(folder / f"case{i}", f"case{i}", seed=i, shape=(20, 20, 10))
    return folder


def test_folder_subjects_use_the_models_saved_preprocessing(tmp_path, monkeypatch):
    """The model's minimum brain fraction picks the scored slices; its canvas is left to inference."""
    folder = write_folder(tmp_path / "brats")
    model = MAGAN(
        image_size=16, base_filters=4, res_blocks=1, preprocessing={"canvas_size": 24, "min_brain_fraction": 0.4}
    )
    canvases = []
    synthesize_volume = inference.synthesize_volume

    def spy(*args, canvas_size=None, **kwargs):
        canvases.append(canvas_size)
        return synthesize_volume(*args, canvas_size=canvas_size, **kwargs)

    monkeypatch.setattr(inference, "synthesize_volume", spy)
    results = evaluate.evaluate_model(model, folder, targets=["flair"])
    subject = next(evaluate.subjects_from_folder(folder))
    expected = len(examples.usable_slice_indices(subject.brain_mask, 0.4))
    assert expected < len(examples.usable_slice_indices(subject.brain_mask, 0.05))
    assert {r["slices"] for r in results.rows if r["subject_id"] == "case0"} == {expected}
    assert canvases == [None, None]  # inference reads the canvas from the model
    assert not any("no preprocessing record" in note for note in results.notes)
    evaluate.evaluate_model(model, folder, targets=["flair"], canvas_size=32, max_subjects=1)
    assert canvases[-1] == 32  # an explicit canvas still wins


def test_a_model_without_a_preprocessing_record_is_noted(fake_split, channel_copy):
    results = evaluate.evaluate_model(channel_copy(1), fake_split(num_subjects=1), targets=["flair"])
    assert any("no preprocessing record" in note for note in results.notes)
    assert results.methods == ("magan",) and np.isfinite(results.seconds_per_volume)


def test_model_prediction_at_the_model_size_is_minus_one_outside_the_brain(fake_split, channel_copy):
    subject = evaluate.subjects_from_split(fake_split(num_subjects=1))[0]
    available = np.array([1, 1, 1, 0], np.float32)
    volume = evaluate.model_prediction(channel_copy(0), subject, available, 3)
    assert volume.shape == subject.brain_mask.shape
    assert np.all(volume[~subject.brain_mask] == -1.0)
    np.testing.assert_allclose(volume[subject.brain_mask], subject.images[..., 0][subject.brain_mask], atol=1e-6)
