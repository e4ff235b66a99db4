"""`python -m magan_keras.synthesize --data-dir` (`magan_keras.inference.folder`), with and without dropout."""

import nibabel as nib
import numpy as np
import pytest

from magan_keras import MultiBranchGenerator
from magan_keras.cli import evaluate
from magan_keras.cli import synthesize as command
from magan_keras.evaluation.challenge import brasyn_dropout_for_folder
from magan_keras.inference import folder
from magan_keras.inference.synthesis import InputError
from tfds_brats.brats.make_dummy_data import write_fake_subject

SHAPE = (20, 20, 10)


def make_folder(root, count=3):
    files = {}
    for k in range(count):
        subject = f"BraTS-GLI-{k:05d}-000"
        files[subject] = write_fake_subject(root / subject, subject, naming="brats2023", seed=k, shape=SHAPE)
    return files


@pytest.fixture(scope="module")
def generator():
    return MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": 24})


def run(argv, capsys):
    code = command.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_brasyn_dropout_synthesises_each_subjects_pick_and_evaluate_scores_it(model_path, tmp_path, capsys):
    files = make_folder(tmp_path / "val")
    picks = brasyn_dropout_for_folder(tmp_path / "val")
    out = tmp_path / "out"
    argv = ["--model", model_path, "--data-dir", tmp_path / "val", "--brasyn-dropout", "--out-dir", out]
    code, text = run(argv + ["--canvas-size", 24, "--quiet", "--no-input-checks"], capsys)
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}_{c}_synthetic.nii.gz" for s, c in picks.items())
    for subject, contrast in picks.items():
        assert f"{subject}: inputs " in text and f"synthesised {contrast} " in text
        assert contrast not in text.split(f"{subject}: inputs ")[1].split(";")[0].split(", ")  # hidden from the model
        image = nib.load(out / f"{subject}_{contrast}_synthetic.nii.gz")
        np.testing.assert_array_equal(image.affine, nib.load(files[subject]["t1"]).affine)
        assert image.shape == SHAPE and np.ptp(np.asarray(image.dataobj)) > 0
    report = tmp_path / "report"
    scored = ["--predictions", out, "--data-dir", tmp_path / "val", "--brasyn-dropout", "--out-dir", report]
    assert evaluate.main([str(a) for a in scored + ["--quiet", "--no-baselines"]]) == 0, capsys.readouterr().err
    rows = (report / "per_subject.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(r.split(",")[:2] for r in rows) == sorted([s, c] for s, c in picks.items())


def test_a_folder_missing_one_contrast_per_subject_gets_it_and_nothing_is_written_on_a_clash(generator, tmp_path):
    files = make_folder(tmp_path / "val")
    removed = dict(zip(files, ("flair", "t1", "t2")))
    for subject, contrast in removed.items():
        files[subject][contrast].unlink()
    plans = folder.plan_folder(tmp_path / "val")
    assert [(p.subject_id, p.targets) for p in plans] == [(s, (c,)) for s, c in removed.items()]
    out = tmp_path / "out"
    out.mkdir()
    clash = out / "BraTS-GLI-00002-000_t2_synthetic.nii.gz"
    clash.write_bytes(b"keep")
    with pytest.raises(InputError, match=f"{clash} exists"):
        folder.synthesize_folder(generator, tmp_path / "val", out, input_checks=False)
    assert [p.name for p in out.iterdir()] == [clash.name] and clash.read_bytes() == b"keep"
    done = folder.synthesize_folder(generator, tmp_path / "val", out, input_checks=False, max_subjects=2)
    assert [(r.subject_id, tuple(r.outputs), tuple(r.inputs)) for r, _ in done] == [
        ("BraTS-GLI-00000-000", ("flair",), ("t1", "t1ce", "t2")),
        ("BraTS-GLI-00001-000", ("t1",), ("t1ce", "t2", "flair")),
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [clash.name, "BraTS-GLI-00000-000_flair_synthetic.nii.gz", "BraTS-GLI-00001-000_t1_synthetic.nii.gz"]
    )


def test_folder_options_are_checked(generator, tmp_path, capsys):
    make_folder(tmp_path / "val", count=1)
    code, text = run(["--model", "m.keras", "--brasyn-dropout", "--subject-dir", tmp_path, "--out-dir", "o"], capsys)
    assert code == 2 and "give --data-dir" in text
    with pytest.raises(InputError, match="give no --target"):
        folder.synthesize_folder(generator, tmp_path / "val", tmp_path / "o", brasyn_dropout=True, targets=["t1"])
    with pytest.raises(InputError, match="subject BraTS-GLI-00000-000: nothing to synthesise"):
        folder.synthesize_folder(generator, tmp_path / "val", tmp_path / "o")  # a complete subject, no target
    with pytest.raises(InputError, match="lies directly in"):
        folder.plan_folder(tmp_path / "val" / "BraTS-GLI-00000-000", brasyn_dropout=True)
    assert not (tmp_path / "o").exists()
