"""The phantom through-plane study: its variants, its end-to-end run and page section, its reuse."""

import os

from magan_keras.training.config import TrainConfig
from studies import ablation, through_plane


def test_variants_set_the_context_and_the_planes():
    base = TrainConfig(image_size=32)
    configs = {v: ablation.variant_config(base, v, 1, "runs", through_plane.VARIANTS) for v in through_plane.VARIANTS}
    assert configs["2d"].context_slices == 0 and configs["2d"].planes == "axial"
    assert configs["context_2"].context_slices == 2 and configs["context_2"].planes == "axial"
    assert configs["planes"].planes == "axial,coronal,sagittal" and configs["planes"].context_slices == 0
    assert configs["planes_context_1"].context_slices == 1
    assert configs["planes"].output_dir == os.path.join("runs", "planes", "seed1")


def test_planes_3x_trains_the_three_plane_model_three_times_as_long():
    base = TrainConfig(image_size=32, epochs=5)
    config = ablation.variant_config(base, "planes_3x", 2, "runs", through_plane.study_options(base))
    assert config.epochs == 15 and config.steps_per_epoch == base.steps_per_epoch
    assert config.planes == "axial,coronal,sagittal" and config.context_slices == 0
    assert config.output_dir == os.path.join("runs", "planes_3x", "seed2")


def test_per_plane_scores_the_2d_run_with_the_coronal_and_sagittal_runs(tmp_path, monkeypatch):
    calls = []

    def fake_score_run(config, folder, plane_folders=None):
        calls.append((os.path.basename(os.path.dirname(folder)), plane_folders))
        return {"scores": {"fused/t1": {"brain_ssim": 0.5}}, "seconds": {"fused": 1.0}}

    monkeypatch.setattr(through_plane, "score_run", fake_score_run)
    folders = {
        (v, seed): str(tmp_path / v / f"seed{seed}") for v in ("2d", "coronal_only", "sagittal_only") for seed in (0, 1)
    }
    del folders[("sagittal_only", 1)]  # seed 1 has no sagittal model: no per_plane row
    for folder in folders.values():
        os.makedirs(folder)
    results = through_plane.score_study(folders, dict.fromkeys(folders), str(tmp_path))
    assert sorted(results) == [("2d", 0), ("2d", 1), ("per_plane", 0)]
    assert [c for c in calls if c[1]] == [
        ("2d", {"coronal": folders[("coronal_only", 0)], "sagittal": folders[("sagittal_only", 0)]})
    ]
    assert not any(c[0] in ("coronal_only", "sagittal_only") for c in calls)  # never scored alone
    assert os.path.isfile(tmp_path / "per_plane" / "seed0" / "through_plane.json")
    calls.clear()
    through_plane.score_study(folders, dict.fromkeys(folders), str(tmp_path))
    assert calls == []  # kept scores are reused
