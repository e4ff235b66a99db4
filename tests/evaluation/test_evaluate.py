"""The evaluation protocols on hand-made cases, the baselines, and `python -m magan_keras.evaluate`."""

import csv
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from magan_keras import MAGAN
from magan_keras.evaluation import evaluate
from magan_keras.models import metrics
from magan_keras.evaluation import protocols

from magan_keras.evaluation.baselines import Baselines
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats.brats.make_dummy_data import write_fake_subject

SIZE = 16


class ChannelCopy(keras.Model):
    """A stand-in generator whose synthesis is one input channel."""

    def __init__(self, channel, image_size=SIZE, modalities=BRATS_MODALITIES, **kwargs):
        super().__init__(**kwargs)
        self.channel, self.image_size, self.modalities = channel, image_size, tuple(modalities)

    def call(self, inputs):
        return inputs["images"][..., self.channel : self.channel + 1]


def blob_volume(shape=(20, 22, 14), seed=0):
    """Positive values inside an ellipsoid brain, 0 outside; a brighter 'tumour'; its seg."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float64)
    centre = (np.array(shape) / 2.0)[:, None, None, None]
    brain = ((((grid - centre) / (0.4 * np.array(shape))[:, None, None, None]) ** 2).sum(0)) <= 1
    tumour = brain & ((((grid - centre - 2) / 3.0) ** 2).sum(0) <= 1)
    volume = np.where(brain, 100 + 20 * rng.standard_normal(shape), 0.0)
    volume[tumour] += 150
    return volume, brain, np.where(tumour, 2, 0).astype(np.uint8)


# === Protocols ===
def test_identical_volumes_score_perfectly():
    volume, brain, seg = blob_volume()
    scores = protocols.brasyn_metrics(volume, volume, brain, seg)
    for name in ("brasyn_ssim", "brasyn_ssim_tumour", "brasyn_ssim_non_tumour"):
        assert scores[name] == pytest.approx(1.0, abs=1e-9)
    assert scores["brasyn_psnr"] == pytest.approx(100.0)
    model_scale = np.where(brain, volume / volume.max() * 2 - 1, -1.0)
    per_slice = protocols.slice_metrics(model_scale, model_scale, brain)
    assert per_slice["slice_ssim"] == pytest.approx(1.0) and per_slice["slice_mae"] == 0.0
    assert per_slice["slice_psnr"] == pytest.approx(100.0)


def test_brasyn_is_invariant_to_the_predictions_linear_scale_but_not_to_noise():
    volume, brain, seg = blob_volume()
    rescaled = protocols.brasyn_metrics(3.0 * volume, volume, brain, seg)
    assert rescaled["brasyn_ssim"] == pytest.approx(1.0, abs=1e-9)
    noisy = volume + np.where(brain, 30 * np.random.default_rng(1).standard_normal(volume.shape), 0)
    worse = protocols.brasyn_metrics(noisy, volume, brain, seg)
    assert worse["brasyn_ssim"] < 0.95 and worse["brasyn_psnr"] < 40


def test_brasyn_normalise_clips_to_own_percentiles_with_a_non_negative_floor():
    volume = np.arange(-100, 900, dtype=np.float64).reshape(10, 10, 10)
    normalised = protocols.brasyn_normalise(volume)
    high = np.percentile(volume, 99.5)
    assert normalised.min() == 0.0 and normalised.max() == 1.0
    assert normalised[volume <= 0].max() == 0.0  # the lower bound is raised to 0
    assert normalised.flat[500] == pytest.approx(400 / high)
    assert np.all(protocols.brasyn_normalise(np.full((4, 4, 4), 7.0)) == 0)


def test_tumour_scores_are_nan_without_a_tumour():
    volume, brain, _ = blob_volume()
    for seg in (None, np.zeros(volume.shape, np.uint8)):
        scores = protocols.brasyn_metrics(volume, volume, brain, seg)
        assert math.isnan(scores["brasyn_ssim_tumour"]) and math.isnan(scores["brasyn_ssim_non_tumour"])
        assert scores["brasyn_ssim"] == pytest.approx(1.0)


def test_region_ssim_on_a_crop_equals_the_full_map():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0, 1, (2, 30, 28, 26))
    region = np.zeros(a.shape, bool)
    region[10:15, 4:9, 18:22] = True
    full = protocols.ssim_map(a * region, b * region, axes=(0, 1, 2))[region].mean()
    assert protocols._region_ssim(a, b, region) == pytest.approx(full, rel=1e-12)


def test_slice_ssim_map_matches_tf_image_ssim():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 1, (2, 24, 24))
    y = 0.6 * x + 0.4 * y
    ours = protocols.ssim_map(x, y, axes=(0, 1))[5:-5, 5:-5].mean()
    reference = float(metrics.ssim(x[None, :, :, None], y[None, :, :, None])[0])
    assert ours == pytest.approx(reference, abs=1e-5)
    assert float(tf.image.ssim(x[..., None], y[..., None], max_val=1.0)) == pytest.approx(ours, abs=1e-5)


def test_slice_metrics_on_a_known_offset_inside_the_brain_only():
    brain = np.zeros((16, 16, 3), bool)
    brain[4:12, 4:12, :] = True
    truth = np.where(brain, 0.0, -1.0)
    prediction = np.where(brain, 0.2, 0.7)  # +0.1 on the unit scale inside; junk outside is ignored
    scores = protocols.slice_metrics(prediction, truth, brain)
    assert scores["slice_mae"] == pytest.approx(0.1)
    assert scores["slice_psnr"] == pytest.approx(20.0)
    assert len(scores["per_slice"]["mae"]) == 3


# === Baselines ===
def fake_pairs(count=4, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        mask = rng.uniform(size=(12, 12)) > 0.2
        a, b, c = rng.uniform(-0.9, 0.9, (3, 12, 12))
        flair = 0.5 * a - 0.3 * b + 0.1  # a linear function of t1 and t1ce
        images = np.stack([a, b, -c, flair], axis=-1)  # t2 = -c: unrelated to flair
        yield np.where(mask[..., None], images, -1.0), mask


def test_linear_baseline_recovers_a_linear_target():
    baselines = Baselines.fit(fake_pairs())
    weights, bias = baselines.linear_weights("flair", [1, 1, 1, 0])
    np.testing.assert_allclose(weights, [0.5, -0.3, 0.0, 0.0], atol=1e-9)
    assert bias == pytest.approx(0.1)
    images, mask = next(fake_pairs(1, seed=5))
    prediction = baselines.predict("linear", images, [1, 1, 1, 0], "flair", mask)
    np.testing.assert_allclose(prediction[mask], images[..., 3][mask], atol=1e-6)
    assert np.all(prediction[~mask] == -1)


def test_best_single_baseline_inverts_a_contrast_and_picks_the_best_source():
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (4000,))
    images = np.stack([a, rng.uniform(-1, 1, a.shape), np.zeros_like(a), -a], axis=-1)
    baselines = Baselines(bins=64)
    baselines.update(images, np.ones(a.shape, bool))
    assert baselines.best_source("flair", [1, 1, 1, 0]) == 0  # t1 (= -flair), not t1ce (noise)
    prediction = baselines.predict("best_single", images, [1, 1, 1, 0], "flair", np.ones(a.shape, bool))
    assert np.abs(prediction - images[..., 3]).max() < 0.05
    assert baselines.best_source("flair", [0, 1, 1, 0]) in (1, 2)  # only these are available


# === evaluate_model and the command line ===
def fake_split(num_subjects=3, slices=6, seed=0):
    """Slice features of a prepared split, shuffled across subjects as TFDS writes them."""
    rng = np.random.default_rng(seed)
    grid = np.indices((SIZE, SIZE)).astype(np.float32)
    records = []
    for s in range(num_subjects):
        for k in range(slices):
            radius = 5 + (k % 3)
            mask = ((grid - SIZE / 2) ** 2).sum(0) <= radius**2
            base = rng.uniform(-0.5, 0.5, (SIZE, SIZE)).astype(np.float32)
            images = np.stack([base, 0.5 * base, -base, np.abs(base)], axis=-1)
            seg = np.where(mask & (grid[0] > SIZE / 2 + 2), 2, 0).astype(np.uint8)
            records.append({"images": np.where(mask[..., None], images, -1.0).astype(np.float32),
                            "brain_mask": mask, "seg": seg, "has_seg": True,
                            "subject_id": f"subject{s}", "slice_index": np.int32(10 + k)})
    order = rng.permutation(len(records))
    stacked = {key: np.stack([records[i][key] for i in order]) for key in records[0]}
    return tf.data.Dataset.from_tensor_slices(stacked)


def test_split_slices_are_grouped_by_subject_in_slice_order():
    split = fake_split()
    grouped = evaluate.subjects_from_split(split)
    assert [g.subject_id for g in grouped] == ["subject0", "subject1", "subject2"]
    first = grouped[0]
    assert first.images.shape == (SIZE, SIZE, 6, 4) and first.seg is not None
    # Slices ordered by slice_index: the brain radius cycles 5, 6, 7, 5, 6, 7.
    areas = first.brain_mask.sum(axis=(0, 1))
    assert list(np.argsort(areas[:3])) == [0, 1, 2] and areas[0] == areas[3]


def test_evaluate_model_on_a_fake_split_scores_model_and_baselines():
    baselines = Baselines.fit(fake_split(seed=1))
    results = evaluate.evaluate_model(ChannelCopy(0), fake_split(), baselines=baselines)
    assert results.methods == ("magan", "best_single", "linear")
    assert len(results.rows) == 3 * 4 * 3
    for row in results.rows:
        for name in evaluate.METRICS:
            assert np.isfinite(row[name]), (row, name)
    # t1ce = 0.5 t1 exactly: both baselines are near perfect on it; the copy of t1 is not.
    assert results.metric_mean("t1ce", "linear", "slice_mae") < 1e-4
    assert results.metric_mean("t1ce", "best_single", "slice_mae") < 0.01
    assert results.metric_mean("t1ce", "magan", "slice_mae") > 0.05
    summary = {(e["target"], e["method"]): e for e in results.summary()}
    assert summary[("flair", "magan")]["n"] == 3
    markdown = results.to_markdown()
    assert "| flair | linear | 3 |" in markdown and "± " in markdown


def test_evaluate_model_rejects_a_split_of_another_size():
    with pytest.raises(ValueError, match="model takes"):
        evaluate.evaluate_model(ChannelCopy(0, image_size=32), fake_split())


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    MAGAN(image_size=SIZE, base_filters=4, res_blocks=1).save(path)
    return path


def read_csv(path):
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_command_line_on_a_brats_folder(model_path, tmp_path, capsys):
    for i, naming in enumerate(("brats2018-2021", "brats2023")):
        write_fake_subject(tmp_path / "brats" / f"case{i}", f"case{i}", naming=naming,
                           axcodes=("L", "P", "S"), seed=i, shape=(20, 20, 10))
    write_fake_subject(tmp_path / "train" / "case9", "case9", seed=9, shape=(20, 20, 10))
    out = tmp_path / "report"
    argv = ["--model", model_path, "--data-dir", tmp_path / "brats", "--baseline-data-dir",
            tmp_path / "train", "--out-dir", out, "--canvas-size", 24, "--quiet", "--target", "flair,t2"]
    assert evaluate.main([str(a) for a in argv]) == 0, capsys.readouterr().err
    rows = read_csv(out / "per_subject.csv")
    assert len(rows) == 2 * 2 * 3
    assert {r["method"] for r in rows} == {"magan", "best_single", "linear"}
    for row in rows:
        for name in evaluate.METRICS:
            assert np.isfinite(float(row[name])), (row, name)
    summary = read_csv(out / "summary.csv")
    assert len(summary) == 2 * 3 and summary[0]["n"] == "2"
    markdown = (out / "results.md").read_text()
    assert "| flair | best_single | 2 |" in markdown and str(tmp_path / "train") in markdown
    assert (out / "evaluation.png").stat().st_size > 5000
    capsys.readouterr()
    assert evaluate.main([str(a) for a in argv]) == 2  # refuses to overwrite
    assert "per_subject.csv exists" in capsys.readouterr().err


def test_command_line_on_a_prepared_phantom_split(model_path, tmp_path, capsys):
    from tfds_brats.prepare import prepare

    builder = prepare(phantom=True, image_size=SIZE, num_subjects=4, data_dir=tmp_path / "tfds")
    out = tmp_path / "report"
    argv = ["--model", model_path, "--dataset", builder.data_dir, "--split", "test",
            "--out-dir", out, "--quiet"]
    code = evaluate.main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = read_csv(out / "per_subject.csv")
    assert {r["method"] for r in rows} == {"magan", "best_single", "linear"}
    assert all(np.isfinite(float(r["slice_psnr"])) for r in rows)
    assert "split 'train'" in (out / "results.md").read_text()


def test_command_line_errors(model_path, tmp_path, capsys):
    code = evaluate.main(["--model", str(model_path), "--dataset", "brats_phantom/slices_32",
                          "--tfds-data-dir", str(tmp_path / "empty"), "--out-dir", str(tmp_path / "o")])
    assert code == 2 and "tfds_brats.prepare" in capsys.readouterr().err
    code = evaluate.main(["--model", str(model_path), "--dataset", "brats_phantom/no_such_config",
                          "--out-dir", str(tmp_path / "o")])
    assert code == 2 and "no_such_config" in capsys.readouterr().err
    code = evaluate.main(["--model", str(model_path), "--data-dir", str(tmp_path / "none"),
                          "--out-dir", str(tmp_path / "o"), "--no-baselines"])
    assert code == 2 and str(tmp_path / "none") in capsys.readouterr().err
