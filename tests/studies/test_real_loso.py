"""The real-subject leave-one-out study: folds, split files, the finished-run check, the page section."""

import json
import os

import pytest

from magan_keras.training.config import TrainConfig
from studies import real_loso
from tfds_brats.splits import read_split_file, splits_from_file

SUBJECTS = ["TCGA-FG-6692", "BraTS-GLI-00001-000", "TCGA-DU-7294"]


def test_each_subject_is_held_out_once_and_never_trains_its_own_fold():
    splits = real_loso.fold_splits(SUBJECTS)
    assert sorted(splits) == sorted(SUBJECTS)
    for held, mapping in splits.items():
        assert sorted(mapping) == sorted(SUBJECTS)
        assert [s for s, split in mapping.items() if split == "test"] == [held]
        assert sorted(s for s, split in mapping.items() if split == "train") == sorted(set(SUBJECTS) - {held})
        assert "validation" not in mapping.values()


def test_too_few_or_repeated_subjects_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        real_loso.fold_splits(["a"])
    with pytest.raises(ValueError, match=r"\['a'\]"):
        real_loso.fold_splits(["a", "b", "a"])


def test_split_files_read_back_as_the_training_command_reads_them(tmp_path):
    paths = real_loso.write_split_files(real_loso.fold_splits(SUBJECTS), str(tmp_path))
    mapping, digest = read_split_file(paths["TCGA-DU-7294"])
    assert splits_from_file(SUBJECTS, mapping, paths["TCGA-DU-7294"])["test"] == ["TCGA-DU-7294"]
    before = os.path.getmtime(paths["TCGA-DU-7294"])
    again = real_loso.write_split_files(real_loso.fold_splits(SUBJECTS), str(tmp_path))
    assert read_split_file(again["TCGA-DU-7294"])[1] == digest
    assert os.path.getmtime(again["TCGA-DU-7294"]) == before  # unchanged: not rewritten


def test_fold_configs_differ_only_in_split_folders_and_variant(tmp_path):
    (tmp_path / "data").mkdir()
    base = TrainConfig(data_dir=str(tmp_path / "data"), image_size=32)
    paths = real_loso.write_split_files(real_loso.fold_splits(SUBJECTS), str(tmp_path / "splits"))
    plan = real_loso.plan_runs(base, ["default", "bfloat16"], sorted(SUBJECTS), paths, str(tmp_path), "tfds")
    assert len(plan) == 6 and not any(finished for *_, finished in plan)
    configs = {(variant, held): config for variant, held, config, _, _ in plan}
    assert len({c.output_dir for c in configs.values()}) == 6
    assert configs[("bfloat16", "TCGA-DU-7294")].precision == "mixed_bfloat16"
    assert configs[("default", "TCGA-DU-7294")].precision == base.precision
    assert configs[("default", "TCGA-DU-7294")].split_file == paths["TCGA-DU-7294"]


def test_every_variant_is_a_valid_configuration_that_sets_only_its_switches(tmp_path):
    (tmp_path / "data").mkdir()
    base = TrainConfig(data_dir=str(tmp_path / "data"), image_size=128)
    paths = real_loso.write_split_files(real_loso.fold_splits(SUBJECTS), str(tmp_path / "splits"))
    plan = real_loso.plan_runs(base, list(real_loso.VARIANTS), sorted(SUBJECTS)[:1], paths, str(tmp_path), "tfds")
    configs = {variant: config.to_dict() for variant, _, config, _, _ in plan}
    for variant, switches in real_loso.VARIANTS.items():
        changed = {k for k, v in configs[variant].items() if v != configs["default"][k]}
        assert changed == set(switches) | {"output_dir"} or not switches, (variant, changed)
    assert configs["no_lr_decay"]["lr_decay"] == "none" and configs["width_32"]["base_filters"] == 32
    assert {configs["gamma_0.25"]["gamma"], configs["gamma_0.75"]["gamma"]} == {0.25, 0.75}
    assert configs["epochs_2x"]["epochs"] == 2 * base.epochs
    assert {k for k, v in configs["epochs_2x"].items() if v != configs["default"][k]} == {"epochs", "output_dir"}


def test_a_finished_run_with_another_configuration_is_refused(tmp_path):
    from magan_keras.training.run import RunFolderError

    (tmp_path / "data").mkdir()
    base = TrainConfig(data_dir=str(tmp_path / "data"), image_size=32)
    paths = real_loso.write_split_files(real_loso.fold_splits(SUBJECTS[:2]), str(tmp_path / "splits"))
    held = sorted(SUBJECTS[:2])[0]
    config = real_loso.fold_config(base, "default", held, paths[held], str(tmp_path), "tfds")
    os.makedirs(config.output_dir)
    with open(os.path.join(config.output_dir, "config.json"), "w") as f:
        json.dump(config.replace(epochs=base.epochs + 1).to_dict(), f)
    open(os.path.join(config.output_dir, "report.md"), "w").close()
    with pytest.raises(RunFolderError, match="epochs"):
        real_loso.plan_runs(base, ["default"], [held], paths, str(tmp_path), "tfds")


def test_margins_count_a_model_win_as_positive_for_every_metric():
    rows = [
        {"target": "t2", "method": m, "brain_ssim": s, "brain_mae": e}
        for m, s, e in (("magan", 0.6, 0.05), ("best_single", 0.5, 0.08), ("linear", 0.55, 0.06))
    ]
    results = {("default", "a"): {"rows": rows}, ("bfloat16", "a"): {"rows": rows}}
    assert real_loso.margins(results, "default", "brain_ssim")["t2"]["folds"]["a"] == pytest.approx(0.05)
    assert real_loso.margins(results, "default", "brain_mae")["t2"]["folds"]["a"] == pytest.approx(0.01)


def test_the_page_section_is_replaced_and_the_rest_kept():
    page = "# results\n\ntext\n"
    once = real_loso.replace_section(page, "first")
    twice = real_loso.replace_section(once + "after\n", "second")
    assert twice.startswith(page) and twice.endswith("after\n")
    assert "first" not in twice and twice.count(real_loso.SECTION_START) == 1


def test_the_default_always_runs_as_the_reference(tmp_path, monkeypatch, capsys):
    asked = []

    def stop(base, variants, *args, **kwargs):
        asked.append(list(variants))
        raise ValueError("stopped before training")

    monkeypatch.setattr(real_loso, "run_study", stop)
    argv = ["--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out"), "--variants"]
    assert real_loso.main(argv + ["bfloat16", "bfloat16"]) == 2
    assert real_loso.main(argv + ["no_skip", "default"]) == 2
    assert asked == [["default", "bfloat16"], ["default", "no_skip"]]
    assert "the default runs too" in capsys.readouterr().err


def test_the_variant_figure_shows_the_truth_then_each_variant(tmp_path):
    import numpy as np
    from matplotlib.image import imread

    def cuts(value):
        arrays = {}
        for target in ("t1", "t1ce", "t2", "flair"):
            arrays[f"{target}/truth/axial"] = np.full((24, 24), 1.0, np.float16)
            arrays[f"{target}/synthesis/axial"] = np.full((24, 24), value, np.float16)
        return arrays

    path = real_loso.variant_figure({"default": cuts(0.0), "full_res_crop": cuts(0.5)}, "s1", str(tmp_path / "v.png"))
    grey = imread(path)[..., :3].mean(axis=-1)
    thirds = np.array_split(grey, 3, axis=1)  # columns: truth (white), default (black), crop (mid grey)
    black = [float((t < 0.05).mean()) for t in thirds]
    mid = [float((np.abs(t - 0.5) < 0.05).mean()) for t in thirds]
    assert black[1] > 0.2 and black[0] < 0.01 and black[2] < 0.01
    assert mid[2] > 0.2 and mid[0] < 0.01 and mid[1] < 0.01
    with pytest.raises(KeyError):
        real_loso.variant_figure({"default": {}}, "s1", str(tmp_path / "w.png"))
    assert not (tmp_path / "w.png").exists()


def test_a_fold_is_scored_axially_and_fused_through_the_volume(tmp_path):
    import numpy as np

    from magan_keras import MultiBranchGenerator
    from tfds_brats.brats.make_dummy_data import write_fake_subject

    data = tmp_path / "data"
    for k in range(2):
        subject = f"BraTS-GLI-{k:05d}-000"
        write_fake_subject(data / subject, subject, naming="brats2023", seed=k, shape=(20, 20, 10))
    run = tmp_path / "run"
    run.mkdir()
    generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": 24})
    generator.build_on_zeros()
    generator.save(run / "model.keras")
    config = TrainConfig(data_dir=str(data), image_size=16, batch_size=4)
    scored = real_loso.score_through_plane(config, str(run), str(data), "BraTS-GLI-00001-000")
    rows = {(r["fusion"], r["target"]): r for r in scored["rows"]}
    assert sorted(rows) == sorted((f, t) for f in real_loso.FUSIONS for t in ("t1", "t1ce", "t2", "flair"))
    for row in rows.values():
        assert set(real_loso.through_plane_scores()) <= set(row)
        assert all(np.isfinite(row[m]) for m in real_loso.through_plane_scores())
    # The fused synthesis is a different volume from the axial one: its scores differ.
    assert rows[("fused", "flair")]["roughness_z"] != rows[("axial", "flair")]["roughness_z"]
    assert set(scored["seconds"]) == set(real_loso.FUSIONS)
    with np.load(run / real_loso.THROUGH_PLANE_CUTS) as cuts:
        names = set(cuts.files)
        assert cuts["truth/coronal"].shape == (10, 20) and cuts["fused/sagittal"].shape == (10, 20)
    assert names == {
        f"{n}/{p}" for n in ("truth", "axial", "axial_error", "fused", "fused_error") for p in ("coronal", "sagittal")
    }


def test_the_through_plane_figure_shows_truth_then_each_fusion_and_its_error(tmp_path):
    import numpy as np
    from matplotlib.image import imread

    def cuts(axial, fused):
        arrays = {}
        for plane in ("coronal", "sagittal"):
            arrays[f"truth/{plane}"] = np.full((24, 24), 1.0, np.float16)
            arrays[f"axial/{plane}"] = np.full((24, 24), axial, np.float16)
            arrays[f"fused/{plane}"] = np.full((24, 24), fused, np.float16)
            arrays[f"axial_error/{plane}"] = np.full((24, 24), abs(1.0 - axial), np.float16)
            arrays[f"fused_error/{plane}"] = np.full((24, 24), abs(1.0 - fused), np.float16)
        return arrays

    path = real_loso.through_plane_figure({"default": cuts(0.0, 0.5)}, "s1", str(tmp_path / "t.png"))
    grey = imread(path)[..., :3].mean(axis=-1)
    top = np.array_split(np.array_split(grey, 4, axis=0)[0], 3, axis=1)  # coronal: truth, axial, fused
    assert float((top[0] > 0.95).mean()) > 0.2 and float((top[0] < 0.05).mean()) < 0.01
    assert float((top[1] < 0.05).mean()) > 0.2
    assert float((np.abs(top[2] - 0.5) < 0.05).mean()) > 0.2 and float((top[2] < 0.05).mean()) < 0.01
