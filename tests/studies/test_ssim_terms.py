"""SSIM's luminance, contrast and structure terms, and `python -m studies.ssim_terms`."""

import csv

import numpy as np

from magan_keras import MAGAN
from magan_keras.evaluation.protocols import ssim_map, ssim_terms
from studies import ssim_terms as experiment
from studies.ssim_terms import region_terms


def test_terms_multiply_to_the_ssim_map():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (2, 24, 20, 3))
    y = 0.6 * x + 0.4 * y
    terms = ssim_terms(x, y, axes=(0, 1))
    product = terms["luminance"] * terms["contrast"] * terms["structure"]
    np.testing.assert_allclose(product, ssim_map(x, y, axes=(0, 1)), atol=1e-9)
    assert 0.3 < terms["structure"].mean() < 0.99


def textured_brain(seed, shape=(32, 32, 3)):
    brain = np.zeros(shape, bool)
    brain[4:28, 4:28] = True
    texture = np.random.default_rng(seed).uniform(-0.6, 0.6, shape)
    return np.where(brain, texture, -1.0), brain


def test_terms_tell_a_flattened_copy_from_a_wrong_pattern():
    truth, brain = textured_brain(0)
    seg = np.zeros(brain.shape, np.uint8)
    seg[10:16, 10:16] = 1
    indices = np.arange(brain.shape[2])
    same = region_terms(truth, truth, brain, seg, indices)
    assert all(abs(same[r][t] - 1.0) < 1e-9 for r in ("healthy", "tumour") for t in same[r])
    flattened = region_terms(np.where(brain, 0.4 * truth, -1.0), truth, brain, seg, indices)["healthy"]
    assert flattened["structure"] > 0.9 and flattened["contrast"] < 0.9  # windows at the brain edge see background
    other, _ = textured_brain(1)
    wrong = region_terms(other, truth, brain, seg, indices)["healthy"]
    assert wrong["contrast"] > 0.95 and wrong["structure"] < 0.4
    assert np.isnan(region_terms(truth, truth, brain, None, indices)["tumour"]["structure"])


def test_command_on_a_prepared_phantom_split(tmp_path, capsys):
    from tfds_brats.prepare import prepare

    builder = prepare(phantom=True, image_size=16, num_subjects=4, data_dir=tmp_path / "tfds")
    model = tmp_path / "tiny.keras"
    MAGAN(image_size=16, base_filters=4, res_blocks=1).save(model)
    out = tmp_path / "terms"
    code = experiment.main(
        ["--model", str(model), str(model), "--dataset", str(builder.data_dir), "--output-dir", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    with open(out / "ssim_terms.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 3 * 2  # targets x (magan, best_single, linear) x regions
    for row in rows:
        if row["region"] == "healthy":
            terms = [float(row[f"{t}_mean"]) for t in ("luminance", "contrast", "structure")]
            assert all(-1.0 <= v <= 1.0 for v in terms), row
        if row["method"] == "magan":
            assert row["models"] == "2" and float(row["ssim_std"]) == 0.0  # the same file twice
    assert "| t1ce | healthy | linear |" in (out / "ssim_terms.md").read_text()
    assert (out / "ssim_terms.png").stat().st_size > 5000


def test_command_names_a_missing_model(tmp_path, capsys):
    missing = tmp_path / "nope.keras"
    assert experiment.main(["--model", str(missing), "--output-dir", str(tmp_path / "o")]) == 2
    assert str(missing) in capsys.readouterr().err
