"""Multi-planar synthesis (`magan_keras.inference.planes`) and `--planes` on the command lines."""

import numpy as np
import pytest

from magan_keras.cli import evaluate as evaluate_command
from magan_keras.cli import synthesize as synthesize_command
from magan_keras.inference import planes as plane_synthesis
from magan_keras.inference import synthesis
from tfds_brats import planes


def brain_volume(shape, seed=0):
    rng = np.random.default_rng(seed)
    grid = np.indices(shape, dtype=np.float64)
    centre = (np.array(shape) / 2.0 - 0.5)[:, None, None, None]
    mask = ((((grid - centre) / (0.42 * np.array(shape))[:, None, None, None]) ** 2).sum(0)) <= 1
    images = np.where(mask[..., None], rng.uniform(-0.9, 0.9, shape + (4,)), -1.0).astype(np.float32)
    return images, mask


def test_fusing_a_model_that_returns_its_input_gives_the_input_back(channel_copy):
    images, mask = brain_volume((16, 14, 10))
    generator = channel_copy(0, image_size=16, preprocessing={"canvas_size": 16})
    available = np.float32([1, 1, 1, 0])
    fused = plane_synthesis.synthesize_planes(
        generator, images * available, available, "flair", mask, planes=planes.PLANES
    )
    np.testing.assert_array_equal(fused[mask], images[..., 0][mask])
    assert np.all(fused[~mask] == -1.0)


def test_voxels_a_planes_canvas_crops_away_are_voted_by_the_others(channel_copy):
    # Depth 24 > canvas 16: coronal and sagittal slices lose z < 4 and z >= 20; axial covers them.
    images, mask = brain_volume((16, 16, 24))
    mask[:, :, :2] = False
    generator = channel_copy(1, image_size=16, preprocessing={"canvas_size": 16})
    available = np.float32([0, 1, 1, 1])
    fused = plane_synthesis.synthesize_planes(
        generator, images * available, available, "t1", mask, planes="coronal,axial"
    )
    np.testing.assert_array_equal(fused[mask], images[..., 1][mask])


def test_axial_alone_is_the_plain_volume_synthesis(channel_copy):
    from magan_keras.inference import generator as inference

    images, mask = brain_volume((12, 12, 6), seed=1)
    generator = channel_copy(2, image_size=16, preprocessing={"canvas_size": 24})  # resized: not exact
    available = np.float32([1, 0, 1, 1])
    plain = inference.synthesize_volume(generator, images * available, available, "t1ce", mask)
    fused = plane_synthesis.synthesize_planes(generator, images * available, available, "t1ce", mask)
    np.testing.assert_array_equal(plain, fused)


def test_a_plane_typo_is_a_one_line_error(model_path, subject, tmp_path, capsys):
    argv = ["--model", str(model_path), "--subject-dir", str(subject["t1"].parent), "--out-dir", str(tmp_path)]
    assert synthesize_command.main([*argv, "--planes", "axial,coronl"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "error: --planes: unknown plane 'coronl'; choose from axial, coronal, sagittal (comma-separated)"
    assert not list(tmp_path.glob("*.nii.gz"))
    evaluate_argv = ["--model", str(model_path), "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "r")]
    assert evaluate_command.main([*evaluate_argv, "--planes", "sagitall"]) == 2
    assert "--planes: unknown plane 'sagitall'" in capsys.readouterr().err


def test_synthesis_notes_planes_the_model_never_saw(channel_copy, subject):
    generator = channel_copy(0, preprocessing={"canvas_size": 32, "planes": ["axial", "coronal"]})
    files = {m: subject[m] for m in ("t1", "t1ce", "t2")}
    result = synthesis.synthesize_subject(generator, files, planes="axial,coronal,sagittal", input_checks=False)
    assert any("sagittal slices, which the model never saw" in note for note in result.notes)
    assert not any("coronal slices, which" in note for note in result.notes)
    loaded = result.inputs["t1"]
    np.testing.assert_allclose(result.outputs["flair"][result.brain_mask], loaded[result.brain_mask], atol=1e-6)
    with pytest.raises(synthesis.InputError, match="--uncertainty is made on axial slices"):
        synthesis.synthesize_subject(generator, files, planes="coronal", uncertainty=True, input_checks=False)
