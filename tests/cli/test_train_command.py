"""`python -m magan_keras.train`: options, run folder, artefacts, kill-and-resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from magan_keras.cli import train
from magan_keras.training.config import TrainConfig

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
TINY = [
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
    "2",
]


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def test_unknown_config_key_stops_before_any_work(tmp_path, capsys):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"epochs": 1, "gama": 0.3}))
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--config", str(config), "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "gama" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--gamma", "1.5"], "gamma"),
        (["--image-size", "30"], "image_size"),
        (["--strategy", "tpu"], "strategy"),
        (["--target", "pd"], "target"),
        (["--epochs", "0"], "epochs"),
        (["--sr-schedule", "never"], "sr_schedule"),
        (["--augment", "maybe"], "augment"),
        (["--generator", "unet"], "generator"),
        (["--generator", "single_input"], "modal_attention"),
        (["--generator", "single_input", "--modal-attention", "false"], "decoder_skip"),
        (["--generator", "single_input", "--modal-attention", "false", "--decoder-skip", "true"], "decoder_skip"),
        (["--decoder-skip", "maybe"], "decoder_skip"),
    ],
)
def test_bad_values_stop_with_a_message(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main([*argv, "--output-dir", str(tmp_path / "run")])
    assert message.replace("_", "") in capsys.readouterr().err.replace("_", "").replace("-", "")
    assert not (tmp_path / "run").exists()


def test_toml_config_and_explicit_options_merge(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('epochs = 3\ngamma = 0.25\ntarget = "flair"\nmodal_attention = false\n')
    args = train.build_parser().parse_args(["--config", str(path), "--epochs", "5"])
    config = train.config_from_args(args)
    assert (config.epochs, config.gamma, config.target, config.modal_attention) == (5, 0.25, "flair", False)
    assert config.data_scenario == "flair"


def test_default_generator_has_the_skip_and_pix2pix_style_needs_it_off():
    default = train.config_from_args(train.build_parser().parse_args([]))
    assert default.model_kwargs()["decoder_skip"] is True and default.generator == "multi_branch"
    paper = train.config_from_args(train.build_parser().parse_args(["--decoder-skip", "false"]))
    assert paper.model_kwargs()["decoder_skip"] is False
    args = ["--generator", "single_input", "--modal-attention", "false", "--decoder-skip", "false"]
    single = train.config_from_args(train.build_parser().parse_args(args))
    assert (single.generator, single.decoder_skip) == ("single_input", False)


def test_default_adds_the_ssim_loss_and_zero_gives_the_papers_loss():
    from magan_keras import MAGAN

    default = train.config_from_args(train.build_parser().parse_args([]))
    assert default.model_kwargs()["lambda_ssim"] == 50.0
    paper = train.config_from_args(train.build_parser().parse_args(["--lambda-ssim", "0"]))
    assert paper.model_kwargs()["lambda_ssim"] == 0.0
    assert MAGAN(image_size=32, base_filters=4, res_blocks=1).lambda_ssim == 50.0  # one set of defaults
    with pytest.raises(ValueError, match="lambda_ssim"):
        train.config_from_args(train.build_parser().parse_args(["--lambda-ssim", "-1"]))


def test_every_config_field_has_an_option():
    options = {a.dest for a in train.build_parser()._actions}
    assert set(TrainConfig.field_names()) <= options


@pytest.mark.slow
def test_end_to_end_writes_every_artefact_and_refuses_to_overwrite(tmp_path, tfds_dir, capsys):
    out = tmp_path / "run"
    argv = [*TINY, "--epochs", "2", "--steps-per-epoch", "3", "--output-dir", str(out), "--tfds-data-dir", tfds_dir]
    assert train.main(argv) == 0
    printed = capsys.readouterr().out
    for name in (
        "model.keras",
        "config.json",
        "metrics.csv",
        "curves.png",
        "report.md",
        "test_metrics.json",
        "checkpoints/last.keras",
        "checkpoints/best.keras",
        "samples/epoch_001.png",
        "samples/epoch_002.png",
        "evaluation/results.md",
        "evaluation/evaluation.png",
        "evaluation/summary.csv",
    ):
        assert (out / name).is_file(), name
    assert any(f.startswith("events") for _, _, files in os.walk(out / "logs") for f in files)
    assert str(out / "report.md") in printed
    report = (out / "report.md").read_text()
    for contrast in ("t1", "t1ce", "t2", "flair"):
        assert f"| {contrast} |" in report
    assert "linear" in report.lower() and "BraSyn" in report  # baselines and both protocols
    saved = json.loads((out / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["image_size"] == 32
    assert len((out / "metrics.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    # The shareable preset: its model card holds the run's own test scores.
    card = (out / "preset" / "README.md").read_text()
    scores = json.loads((out / "test_metrics.json").read_text())
    for contrast, values in scores.items():
        assert f"| {contrast} | {values['psnr']:.2f} | {values['ssim']:.4f} | {values['mae']:.4f} |" in card
    assert json.loads((out / "preset" / "metadata.json").read_text())["image_size"] == 32
    # A finished run is never overwritten without --overwrite.
    before = (out / "model.keras").stat().st_mtime
    assert train.main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "model.keras").stat().st_mtime == before


def test_output_dir_that_is_not_a_run_folder_is_refused(tmp_path, tfds_dir, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    assert train.main([*TINY, "--output-dir", str(tmp_path), "--overwrite", "--tfds-data-dir", tfds_dir]) == 2
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.slow
def test_killed_run_resumes_from_its_backup_and_ends_at_the_planned_step(tmp_path, tfds_dir):
    out = tmp_path / "run"
    argv = [
        sys.executable,
        os.path.join(SCRIPTS, "train_cli.py"),
        *TINY,
        "--epochs",
        "4",
        "--steps-per-epoch",
        "3",
        "--output-dir",
        str(out),
        "--tfds-data-dir",
        tfds_dir,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen(
        [*argv, "--pause-after-epoch", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    deadline = time.time() + 300
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.startswith("finished epoch 2"):
            time.sleep(2)  # let BackupAndRestore write epoch 2's backup
            break
        assert time.time() < deadline, "".join(seen)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    assert not (out / "report.md").exists() and (out / "backup").is_dir()
    second = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "starting at step 6" in second.stdout  # from the backup, not from scratch
    assert "finished epoch 4 at step 12" in second.stdout
    assert "finished epoch 1 " not in second.stdout
    assert (out / "report.md").is_file()
