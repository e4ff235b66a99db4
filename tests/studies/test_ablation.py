"""The ablation study: variants, aggregation over seeds, the results page."""

import csv
import json
import os

import pytest

from magan_keras.training.config import TrainConfig
from studies import ablation


def write_summary(folder, rows):
    os.makedirs(os.path.join(folder, "evaluation"), exist_ok=True)
    columns = ["target", "method", "n"] + [f"{m}_mean" for m in ablation.REPORTED]
    with open(os.path.join(folder, "evaluation", "summary.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for target, method, value in rows:
            writer.writerow(
                {"target": target, "method": method, "n": 1, **{f"{m}_mean": value for m in ablation.REPORTED}}
            )


def test_variants_switch_exactly_their_parts(tmp_path):
    base = TrainConfig(image_size=32)
    full = ablation.variant_config(base, "full", 3, str(tmp_path))
    assert (full.modal_attention, full.intra_attention, full.sr_supervision, full.seed) == (True, True, True, 3)
    off = ablation.variant_config(base, "all_off", 0, str(tmp_path))
    assert (off.modal_attention, off.intra_attention, off.sr_supervision) == (False, False, False)
    assert ablation.variant_config(base, "no_sr", 0, str(tmp_path)).modal_attention
    assert full.output_dir != off.output_dir
    pix2pix = ablation.variant_config(base, "pix2pix", 0, str(tmp_path))
    assert pix2pix.generator == "single_input" and full.generator == "multi_branch"
    assert (pix2pix.modal_attention, pix2pix.intra_attention, pix2pix.sr_supervision) == (False, False, False)


def test_aggregate_gives_mean_and_spread_over_seeds(tmp_path):
    folders = {}
    for seed, value in ((0, 0.5), (1, 0.7)):
        folder = str(tmp_path / f"full{seed}")
        write_summary(folder, [("flair", "magan", value), ("flair", "linear", 0.4)])
        folders[("full", seed)] = folder
    table = ablation.aggregate(folders)
    mean, std, n = table[("flair", "full")]["slice_ssim"]
    assert (mean, n) == (pytest.approx(0.6), 2) and std == pytest.approx(0.1414, abs=1e-3)
    assert table[("flair", "baseline: linear")]["slice_ssim"][0] == pytest.approx(0.4)
    markdown = ablation.results_table(table, ["flair"], ["full", "baseline: linear"])
    assert "| full | 0.6000 ± 0.1414" in markdown


@pytest.mark.slow
def test_study_end_to_end_writes_the_results_page(tmp_path, capsys):
    page = tmp_path / "docs" / "results.md"
    argv = [
        "--variants",
        "full",  # a table of several variants: test_aggregate_*; what each variant switches: above
        "--seeds",
        "0",  # the spread over seeds: test_aggregate_gives_mean_and_spread_over_seeds
        "--image-size",
        "32",
        "--base-filters",
        "4",
        "--res-blocks",
        "1",
        "--num-subjects",
        "6",
        "--batch-size",
        "4",
        "--validation-steps",
        "1",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--output-dir",
        str(tmp_path / "study"),
        "--tfds-data-dir",
        str(tmp_path / "tfds"),
        "--results-page",
        str(page),
    ]
    assert ablation.main(argv) == 0
    text = page.read_text()
    for name in ("full", "baseline: linear", "Target: flair", "python -m studies.ablation"):
        assert name in text
    assert (page.parent / "figures" / "ablation_samples.png").is_file()
    assert (page.parent / "figures" / "ablation_ssim_distributions.png").is_file()
    # A second call reuses the finished runs instead of training again.
    before = os.path.getmtime(tmp_path / "study" / "full" / "seed0" / "model.keras")
    assert ablation.main(argv) == 0
    assert os.path.getmtime(tmp_path / "study" / "full" / "seed0" / "model.keras") == before
    # Finished runs of another configuration (a changed default, another option) are refused, not
    # silently mixed into the table; the page and the runs stay as they were.
    page_before = page.read_text()
    capsys.readouterr()
    assert ablation.main(argv + ["--lambda-l1", "50"]) == 2
    error = capsys.readouterr().err
    assert str(tmp_path / "study" / "full" / "seed0") in error and "lambda_l1" in error
    assert page.read_text() == page_before
    assert os.path.getmtime(tmp_path / "study" / "full" / "seed0" / "model.keras") == before


def test_decoder_skip_study_keeps_pix2pix_single_input(tmp_path):
    base = TrainConfig(image_size=32, decoder_skip=True)
    configs = {v: ablation.variant_config(base, v, 0, str(tmp_path)) for v in ablation.VARIANTS}
    assert all(configs[v].decoder_skip for v in ablation.VARIANTS if v != "pix2pix")
    assert configs["pix2pix"].generator == "single_input" and not configs["pix2pix"].decoder_skip


def test_study_checks_every_run_before_training_any(tmp_path, monkeypatch):
    """A conflicting finished run of the last variant stops the study before the first trains."""
    from magan_keras.training import run

    trained = []
    monkeypatch.setattr(run, "train", lambda config, verbose=2: trained.append(config.output_dir))
    base = TrainConfig(image_size=32)
    last = ablation.variant_config(base.replace(lambda_l1=50.0), "pix2pix", 1, str(tmp_path))
    os.makedirs(last.output_dir)
    with open(os.path.join(last.output_dir, run.CONFIG_FILE), "w") as f:
        json.dump(last.to_dict(), f)
    open(os.path.join(last.output_dir, run.FINISHED_FILE), "w").close()
    with pytest.raises(run.RunFolderError, match="pix2pix seed 1.*lambda_l1"):
        ablation.run_study(base, list(ablation.VARIANTS), [0, 1], str(tmp_path))
    assert trained == []
