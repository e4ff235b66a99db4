"""`python -m magan_keras.synthesize` (`magan_keras.cli.synthesize`) on tiny NIfTI subjects."""

import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from magan_keras import MultiBranchGenerator, atomic
from magan_keras.cli import synthesize as command
from magan_keras.inference import synthesis
from tfds_brats.brats.make_dummy_data import write_fake_subject


def run(argv, capsys):
    try:
        code = command.main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's own refusals (a count below 1): exit 2 as well
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_entry_point_runs_the_command():  # the library's imports: tests/cli/test_layering.py
    result = subprocess.run(
        [sys.executable, "-m", "magan_keras.synthesize", "--help"], capture_output=True, text=True, check=True
    )
    assert "--canvas-size" in result.stdout and "--subject-dir" in result.stdout


def test_command_line_with_subject_dir_2023_naming(model_path, tmp_path, capsys):
    files = write_fake_subject(
        tmp_path / "BraTS-GLI-00009-000",
        "BraTS-GLI-00009-000",
        naming="brats2023",
        axcodes=("L", "P", "S"),
        with_seg=True,
    )
    for name in ("t1ce", "flair"):
        files[name].unlink()
    out = tmp_path / "out"
    code, text = run(
        [
            "--model",
            model_path,
            "--subject-dir",
            files["t1"].parent,
            "--out-dir",
            out,
            "--figure",
            "--canvas-size",
            32,
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, text
    assert "note: the model carries no preprocessing record" in text  # an old model: said so
    reference = nib.load(files["t1"])
    for name in ("t1ce", "flair"):
        image = nib.load(out / f"BraTS-GLI-00009-000_{name}_synthetic.nii.gz")
        data = np.asarray(image.dataobj)
        assert data.shape == reference.shape and data.dtype == np.float32
        np.testing.assert_array_equal(image.affine, reference.affine)
        stored_mask = (np.asarray(reference.dataobj) != 0) | (np.asarray(nib.load(files["t2"]).dataobj) != 0)
        assert np.all(data[~stored_mask] == 0) and 0 <= data.min() and data.max() <= 1
        assert np.ptp(data[stored_mask]) > 0
    assert (out / "BraTS-GLI-00009-000_synthesis.png").stat().st_size > 1000
    # A second run refuses to overwrite and names the file; --overwrite replaces it.
    code, text = run(
        ["--model", model_path, "--subject-dir", files["t1"].parent, "--out-dir", out, "--canvas-size", 32, "--quiet"],
        capsys,
    )
    assert code == 2 and "BraTS-GLI-00009-000_t1ce_synthetic.nii.gz exists" in text
    code, text = run(
        [
            "--model",
            model_path,
            "--subject-dir",
            files["t1"].parent,
            "--out-dir",
            out,
            "--canvas-size",
            32,
            "--quiet",
            "--overwrite",
        ],
        capsys,
    )
    assert code == 0, text


def test_command_line_with_files_and_target(model_path, subject, tmp_path, capsys):
    out = tmp_path / "out"
    figure = tmp_path / "fig" / "f.png"
    code, text = run(
        [
            "--model",
            model_path,
            "--t1",
            subject["t1"],
            "--t2",
            subject["t2"],
            "--flair",
            subject["flair"],
            "--target",
            "flair,t1ce",
            "--out-dir",
            out,
            "--figure",
            figure,
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == ["s1_flair_synthetic.nii.gz", "s1_t1ce_synthetic.nii.gz"]
    assert figure.stat().st_size > 1000
    assert "s per volume" in text and "canvas 256 px" in text


def test_a_model_with_a_record_needs_no_canvas_flag(subject, tmp_path, capsys):
    generator = MultiBranchGenerator(image_size=16, base_filters=2, res_blocks=1, preprocessing={"canvas_size": 40})
    generator.build_on_zeros()
    atomic.save_model(generator, tmp_path / "g.keras")  # as training saves it: with its checksum
    code, text = run(
        [
            "--model",
            tmp_path / "g.keras",
            "--t1",
            subject["t1"],
            "--t2",
            subject["t2"],
            "--target",
            "flair",
            "--out-dir",
            tmp_path / "out",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, text
    assert "note:" not in text and "canvas 40 px" in text
    written = np.asarray(nib.load(tmp_path / "out" / "s1_flair_synthetic.nii.gz").dataobj)
    expected = synthesis.synthesize_subject(
        generator, {"t1": subject["t1"], "t2": subject["t2"]}, targets=["flair"], canvas_size=40
    )
    (path,) = synthesis.write_outputs(expected, tmp_path / "expected")
    np.testing.assert_array_equal(written, np.asarray(nib.load(path).dataobj))


def test_bad_file_on_the_command_line(model_path, subject, tmp_path, capsys):
    image = nib.load(subject["t2"])
    data = np.asarray(image.dataobj).astype(np.float32)
    data[3, 3, 3] = np.nan
    bad = tmp_path / "bad_t2.nii.gz"
    nib.save(nib.Nifti1Image(data, image.affine), bad)
    code, text = run(
        ["--model", model_path, "--t1", subject["t1"], "--t2", bad, "--out-dir", tmp_path / "o", "--quiet"], capsys
    )
    assert code == 2 and str(bad) in text and "NaN" in text
    assert not (tmp_path / "o").exists()


def test_bad_arguments_are_named(model_path, other_contrasts_model_path, subject, tmp_path, capsys):
    out = tmp_path / "out"
    code, text = run(["--model", model_path, "--t1", subject["t1"], "--target", "pd", "--out-dir", out], capsys)
    assert code == 2 and "unknown contrast 'pd'" in text
    code, text = run(["--model", model_path, "--out-dir", out], capsys)
    assert code == 2 and "no contrasts given" in text
    code, text = run(
        ["--model", model_path, "--t1", subject["t1"], "--subject-dir", subject["t1"].parent, "--out-dir", out], capsys
    )
    assert code == 2 and "not both" in text
    code, text = run(
        ["--model", other_contrasts_model_path, "--t1", subject["t1"], "--flair", subject["flair"], "--out-dir", out],
        capsys,
    )
    assert code == 2 and str(subject["flair"]) in text and "trained on contrasts t1, t2, pd" in text
    code, text = run(
        ["--model", other_contrasts_model_path, "--t1", subject["t1"], "--target", "t1ce", "--out-dir", out], capsys
    )
    assert code == 2 and str(other_contrasts_model_path) in text and "cannot synthesise 't1ce'" in text
    not_a_model = tmp_path / "model.keras"
    not_a_model.write_bytes(b"junk")
    code, text = run(["--model", not_a_model, "--t1", subject["t1"], "--out-dir", out], capsys)
    assert code == 2 and str(not_a_model) in text
    code, text = run(["--model", model_path, "--subject-dir", tmp_path / "nowhere", "--out-dir", out], capsys)
    assert code == 2 and "nowhere" in text
    code, text = run(["--model", model_path, "--subject-dir", subject["t1"].parent, "--out-dir", out], capsys)
    assert code == 2 and "nothing to synthesise" in text
    code, text = run(["--model", model_path, "--t1", subject["t1"], "--canvas-size", 0, "--out-dir", out], capsys)
    assert code == 2 and "--canvas-size" in text
    assert not out.exists()


def test_a_gzip_whose_crc_fails_is_refused_naming_the_file(
    model_path, subject, tmp_path, capsys, flip_one_compressed_byte
):
    flip_one_compressed_byte(subject["t2"])
    out = tmp_path / "out"
    argv = ["--model", model_path, "--t1", subject["t1"], "--t2", subject["t2"], "--out-dir", out, "--quiet"]
    code, text = run(argv, capsys)
    lines = [line for line in text.splitlines() if not line.startswith("note:")]  # the model's own notes
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: subject 's1', file ")
    assert f"file {subject['t2']}: cannot read the file: corrupt gzip stream" in lines[0] and not out.exists()


def test_a_subject_id_that_leaves_the_out_dir_is_refused(model_path, subject, tmp_path, capsys):
    out = tmp_path / "deep" / "out"
    for bad in ("../../X", "a/b", "\x1b[31mred"):
        argv = ["--model", model_path, "--t1", subject["t1"], "--out-dir", out, "--subject-id", bad, "--quiet"]
        code, text = run(argv, capsys)
        assert code == 2 and text == f"error: --subject-id {ascii(bad)} is not a safe name: " + text.split(": ", 2)[2]
        assert "\x1b" not in text and text.count("\n") == 1
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        p.name for p in (tmp_path / "in").rglob("*") if p.is_file()
    )  # nothing written anywhere
    with pytest.raises(synthesis.InputError, match="subject id '../x' is not a safe name"):
        synthesis.output_path(out, "../x", "flair")
    with pytest.raises(synthesis.InputError, match="contrast name 'fl/air' is not a safe name"):
        synthesis.output_path(out, "s1", "fl/air")
