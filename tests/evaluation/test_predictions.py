"""`--predictions`: scoring NIfTI files any model wrote, both namings, missing and misplaced files."""

import csv
import shutil

import nibabel as nib
import numpy as np
import pytest

from magan_keras.cli import evaluate
from magan_keras.evaluation import challenge
from magan_keras.evaluation.predictions import PredictionError, PredictionSource, find_predictions
from magan_keras.inference.synthesis import output_path
from tfds_brats.brats.make_dummy_data import write_fake_subject

SHAPE = (20, 20, 10)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def truth(tmp_path):
    """Three BraTS 2023 subjects, one folder each; returns (folder, {subject: files})."""
    folder = tmp_path / "truth"
    files = {}
    for k in range(3):
        subject = f"BraTS-GLI-0000{k}-000"
        files[subject] = write_fake_subject(folder / subject, subject, naming="brats2023", seed=k, shape=SHAPE)
    return folder, files


def write_predictions(folder, files, contrast, noise=0.0, seed=0):
    """Copies of the truth (plus noise) under our naming flat, and the challenge's naming per subject."""
    rng = np.random.default_rng(seed)
    paths = []
    for k, (subject, paths_of) in enumerate(sorted(files.items())):
        image = nib.load(paths_of[contrast])
        data = np.asarray(image.dataobj, np.float32)
        data = data + noise * data.max() * rng.standard_normal(data.shape).astype(np.float32) * (data > 0)
        if k % 2 == 0:
            path = output_path(folder, subject, contrast)
        else:
            path = folder / subject / f"{subject}-{challenge.CHALLENGE_TAGS[contrast]}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(data, image.affine), path)
        paths.append(path)
    return paths


def test_both_namings_are_found_and_a_perfect_prediction_scores_one(truth, tmp_path, capsys):
    folder, files = truth
    write_predictions(tmp_path / "pred", files, "flair")
    found = find_predictions(tmp_path / "pred")
    assert sorted(found.files) == [(s, "flair") for s in sorted(files)]
    assert {p.name for p in found.files.values()} == {
        "BraTS-GLI-00000-000_flair_synthetic.nii.gz",
        "BraTS-GLI-00001-000-t2f.nii.gz",
        "BraTS-GLI-00002-000_flair_synthetic.nii.gz",
    }
    out = tmp_path / "report"
    argv = ["--predictions", tmp_path / "pred", "--data-dir", folder, "--out-dir", out, "--quiet"]
    assert evaluate.main([str(a) for a in argv]) == 0, capsys.readouterr().err
    rows = read_csv(out / "per_subject.csv")
    assert {(r["method"], r["target"]) for r in rows} == {
        (m, "flair") for m in ("predictions", "best_single", "linear")
    }
    ours = [r for r in rows if r["method"] == "predictions"]
    assert len(ours) == 3
    for row in ours:  # the truth itself: every similarity is perfect
        assert float(row["challenge_ssim_non_tumour"]) == pytest.approx(1.0, abs=1e-9)
        assert float(row["brain_ssim"]) == pytest.approx(1.0, abs=1e-9)
        assert float(row["slice_mae"]) == pytest.approx(0.0, abs=1e-7)
    baseline = [r for r in rows if r["method"] == "linear"]
    assert all(float(r["brain_ssim"]) < 0.999 for r in baseline)
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "| flair | predictions | 3 |" in markdown and f"predictions read from {tmp_path / 'pred'}" in markdown
    assert (out / "evaluation.png").stat().st_size > 5000


def test_noise_lowers_the_scores(truth, tmp_path):
    folder, files = truth
    write_predictions(tmp_path / "pred", files, "t1", noise=0.2)
    source = PredictionSource(tmp_path / "pred", "noisy")
    from magan_keras.evaluation.evaluate import evaluate_model

    results = evaluate_model(source, folder)
    assert results.methods == ("noisy",) and results.targets == ("t1",)
    ssim = [r["brain_ssim"] for r in results.rows]
    assert len(ssim) == 3 and all(0.0 < v < 0.9 for v in ssim)
    assert all(0.02 < r["slice_mae"] < 0.5 and r["challenge_ssim_non_tumour"] < 0.99 for r in results.rows)


def test_a_missing_or_misnamed_prediction_is_listed_by_subject_and_contrast(truth, tmp_path, capsys):
    folder, files = truth
    paths = write_predictions(tmp_path / "pred", files, "flair")
    paths[1].rename(paths[1].with_name("BraTS-GLI-00001-000_t2f.nii.gz"))  # misnamed
    paths[2].unlink()  # missing
    out = tmp_path / "report"
    argv = ["--predictions", tmp_path / "pred", "--data-dir", folder, "--out-dir", out, "--quiet"]
    assert evaluate.main([str(a) for a in argv]) == 2
    error = capsys.readouterr().err
    assert "2 missing (subject, contrast): BraTS-GLI-00001-000 flair" in error
    assert "BraTS-GLI-00002-000 flair" in error and "BraTS-GLI-00002-000-t2f.nii.gz" in error
    assert "not named either way" in error and "BraTS-GLI-00001-000_t2f.nii.gz" in error
    assert not out.exists()
    # An explicit target without any file is listed for every subject.
    with pytest.raises(PredictionError, match="3 missing .*BraTS-GLI-00000-000 t2 "):
        source = PredictionSource(tmp_path / "pred")
        source.check(source.expected(folder, ("t2",)))


def test_a_prediction_on_another_grid_stops_with_the_file_named(truth, tmp_path, capsys):
    folder, files = truth
    paths = write_predictions(tmp_path / "pred", files, "flair")
    image = nib.load(paths[1])
    data, affine = np.asarray(image.dataobj), image.affine.copy()
    nib.save(nib.Nifti1Image(data[:, :, :-1], affine), paths[1])  # one slice short
    argv = ["--predictions", tmp_path / "pred", "--data-dir", folder, "--out-dir", tmp_path / "r", "--quiet"]
    assert evaluate.main([str(a) for a in argv]) == 2
    error = capsys.readouterr().err
    assert str(paths[1]) in error and "(20, 20, 9) differs from its truth's (20, 20, 10)" in error
    affine[0, 3] += 2.0
    nib.save(nib.Nifti1Image(data, affine), paths[1])
    assert evaluate.main([str(a) for a in argv]) == 2
    error = capsys.readouterr().err
    assert str(paths[1]) in error and "affine differs" in error and not (tmp_path / "r").exists()


def test_brasyn_dropout_scores_each_subject_on_its_dropped_contrast(truth, tmp_path, capsys):
    folder, files = truth
    dropped = challenge.brasyn_dropout_for_folder(folder)
    tags = challenge.brasyn_dropped_contrasts(sorted(files))
    assert [challenge.CHALLENGE_TAGS[dropped[s]] for s in sorted(files)] == [tags[s] for s in sorted(files)]
    pred = tmp_path / "pred"
    for subject, contrast in dropped.items():
        target = pred / subject / f"{subject}-{challenge.CHALLENGE_TAGS[contrast]}.nii.gz"
        target.parent.mkdir(parents=True)
        shutil.copy(files[subject][contrast], target)
    out = tmp_path / "report"
    argv = ["--predictions", pred, "--data-dir", folder, "--brasyn-dropout", "--out-dir", out, "--quiet"]
    assert evaluate.main([str(a) for a in argv]) == 0, capsys.readouterr().err
    rows = read_csv(out / "per_subject.csv")
    assert {(r["subject_id"], r["target"]) for r in rows if r["method"] == "predictions"} == set(dropped.items())
    assert "dropout_modality.py" in (out / "results.md").read_text(encoding="utf-8")
    assert evaluate.main([str(a) for a in argv] + ["--target", "t1", "--overwrite"]) == 2
    assert "give no --target" in capsys.readouterr().err


def test_a_model_evaluated_with_brasyn_dropout_is_scored_on_each_subjects_pick(truth):
    from magan_keras.evaluation.evaluate import evaluate_model
    from magan_keras.models import MultiBranchGenerator

    folder, _ = truth
    generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": 24})
    results = evaluate_model(generator, folder, brasyn_dropout=True)
    picks = challenge.brasyn_dropout_for_folder(folder)
    assert [(r["subject_id"], r["target"]) for r in results.rows] == list(picks.items())
    assert set(results.targets) == set(picks.values())
    with pytest.raises(ValueError, match="give no --target"):
        evaluate_model(generator, folder, brasyn_dropout=True, targets=["t1"])


def test_a_name_that_is_a_baselines_is_refused(tmp_path):
    (tmp_path / "p").mkdir()
    with pytest.raises(PredictionError, match="--name 'linear'"):
        PredictionSource(tmp_path / "p", "linear")
