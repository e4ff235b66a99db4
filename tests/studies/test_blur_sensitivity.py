import csv
import itertools
import os

import numpy as np
import pytest

from magan_keras.evaluation.protocols import slice_metrics
from studies import blur_sensitivity
from studies.blur_sensitivity import blur_in_brain


def test_blur_keeps_the_background_and_constant_brains():
    mask = np.zeros((16, 16, 2), bool)
    mask[4:12, 4:12] = True
    constant = np.where(mask, 0.3, -1.0)
    np.testing.assert_allclose(blur_in_brain(constant, mask, 1.5), constant, atol=1e-12)
    np.testing.assert_array_equal(blur_in_brain(constant, mask, 0), constant)
    with pytest.raises(ValueError, match="sigma"):
        blur_in_brain(constant, mask, -1)


def test_more_blur_scores_lower_on_texture():
    rng = np.random.default_rng(0)
    mask = np.zeros((32, 32, 3), bool)
    mask[4:28, 4:28] = True
    truth = np.where(mask, rng.uniform(-0.5, 0.5, mask.shape), -1.0)
    scores = [slice_metrics(blur_in_brain(truth, mask, s), truth, mask)["slice_ssim"] for s in (0, 0.5, 1, 2)]
    assert scores[0] == 1.0
    assert all(a > b for a, b in itertools.pairwise(scores)), scores


def test_command_on_a_prepared_phantom_split(tmp_path, capsys):
    from tfds_brats.prepare import prepare

    builder = prepare(phantom=True, image_size=16, num_subjects=4, data_dir=tmp_path / "tfds")
    out = tmp_path / "blur"
    code = blur_sensitivity.main(["--dataset", str(builder.data_dir), "--sigmas", "0", "1", "--output-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    with open(out / "blur_sensitivity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 2 * 2  # targets x sources x sigmas
    by_key = {(r["target"], r["source"], float(r["sigma"])): float(r["slice_ssim"]) for r in rows}
    for target in ("t1", "t1ce", "t2", "flair"):
        assert by_key[(target, "truth", 0.0)] == 1.0
        assert by_key[(target, "truth", 1.0)] < 1.0
        assert 0 < by_key[(target, "linear", 0.0)] < 1.0
    assert "| t1ce | linear |" in (out / "blur_sensitivity.md").read_text()
    assert (out / "blur_sensitivity.png").stat().st_size > 5000


def test_command_rejects_a_negative_sigma(tmp_path, capsys):
    assert blur_sensitivity.main(["--sigmas", "-1", "--output-dir", str(tmp_path)]) == 2
    assert "--sigmas" in capsys.readouterr().err


def test_outputs_are_replaced_whole_and_a_failed_write_keeps_the_previous_ones(tmp_path, monkeypatch):
    from magan_keras import atomic

    rows = [
        {"target": "t1", "source": s, "sigma": g, "slice_ssim": 1.0 - g / 4, "slice_psnr": 30.0, "subjects": 1}
        for s in blur_sensitivity.SOURCES
        for g in (0.0, 1.0)
    ]
    paths = blur_sensitivity.write_outputs(rows, str(tmp_path), "first")
    before = {name: open(path, "rb").read() for name, path in paths.items()}
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in paths.values())

    def failing_save(figure, path):
        raise OSError("disk full")

    monkeypatch.setattr(atomic, "save_figure", failing_save)
    with pytest.raises(OSError, match="disk full"):
        blur_sensitivity.write_outputs(rows, str(tmp_path), "second")
    assert open(paths["png"], "rb").read() == before["png"]
    assert "second" in open(paths["md"]).read()  # the files before the failure were replaced whole
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in paths.values())
