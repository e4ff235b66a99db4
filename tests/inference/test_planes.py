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


def test_one_model_per_plane_synthesises_each_planes_slices(channel_copy):
    images, mask = brain_volume((16, 14, 10), seed=2)
    record = {"canvas_size": 16}
    models = plane_synthesis.PlaneModels(
        channel_copy(0, image_size=16, preprocessing=record),
        {"coronal": channel_copy(1, image_size=16, preprocessing=record)},
    )
    available = np.float32([1, 1, 1, 0])
    fused = plane_synthesis.synthesize_planes(
        models, images * available, available, "flair", mask, planes="axial,coronal"
    )
    expected = (images[..., 0].astype(np.float64) + images[..., 1]) / 2  # axial copies t1, coronal t1ce
    np.testing.assert_allclose(fused[mask], expected[mask], atol=1e-6)
    sagittal = plane_synthesis.synthesize_planes(
        models, images * available, available, "flair", mask, planes="sagittal"
    )
    np.testing.assert_array_equal(sagittal[mask], images[..., 0][mask])  # no model of its own: the default
    axial_own = plane_synthesis.PlaneModels(models.default, {"axial": models.for_plane("coronal")})
    assert axial_own.channel == 1  # axial-only paths (predict_on_batch, --uncertainty) use the axial model


def test_plane_models_record_the_planes_each_model_was_trained_for(channel_copy):
    axial = channel_copy(0, image_size=16, preprocessing={"canvas_size": 16})
    coronal = channel_copy(0, image_size=16, preprocessing={"canvas_size": 16, "planes": ["coronal"]})
    sagittal_as_axial = channel_copy(0, image_size=16, preprocessing={"canvas_size": 16})
    models = plane_synthesis.PlaneModels(axial, {"coronal": coronal, "sagittal": sagittal_as_axial})
    assert models.preprocessing.planes == ("axial", "coronal")  # the sagittal model never saw sagittal slices
    with pytest.raises(plane_synthesis.inference.ModelError, match="--plane-model coronal: the model's preprocessing"):
        plane_synthesis.PlaneModels(
            axial, {"coronal": channel_copy(0, image_size=16, preprocessing={"canvas_size": 32})}
        )
    with pytest.raises(plane_synthesis.inference.ModelError, match="--plane-model sagittal: the model's contrasts"):
        plane_synthesis.PlaneModels(axial, {"sagittal": channel_copy(0, image_size=16, modalities=("t1", "t2"))})


def test_plane_model_on_the_command_lines(model_path, tmp_path, subject, capsys):
    import nibabel as nib

    from magan_keras import MAGAN

    other = tmp_path / "other.keras"
    MAGAN(image_size=32, base_filters=4, res_blocks=1).save(other)  # other random weights
    subject_dir = str(subject["t1"].parent)

    def flair(name, *options):
        out = tmp_path / name
        argv = ["--subject-dir", subject_dir, "--target", "flair", "--out-dir", str(out), "--quiet", *options]
        assert synthesize_command.main(argv) == 0, capsys.readouterr().err
        (path,) = out.glob("*flair*.nii.gz")
        return np.asarray(nib.load(path).dataobj)

    planes_option = ["--planes", "axial,coronal", "--no-input-checks"]
    own = flair("own", "--model", str(model_path), "--plane-model", f"coronal={other}", *planes_option)
    swapped = flair("swapped", "--model", str(other), "--plane-model", f"axial={model_path}", *planes_option)
    single = flair("single", "--model", str(model_path), *planes_option)
    np.testing.assert_array_equal(own, swapped)  # axial by model_path, coronal by other, either way round
    assert not np.array_equal(own, single)

    argv = ["--model", str(model_path), "--subject-dir", subject_dir, "--out-dir", str(tmp_path / "bad")]
    assert synthesize_command.main([*argv, "--plane-model", f"sagittal={other}"]) == 2
    assert "--plane-model sagittal: sagittal is not in --planes (axial); add it there" in capsys.readouterr().err
    assert synthesize_command.main([*argv, "--planes", "axial,coronal", "--plane-model", "coronal=missing.keras"]) == 2
    assert "model file missing.keras does not exist" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").glob("*.nii.gz"))
    evaluate_argv = ["--model", str(model_path), "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "r")]
    assert evaluate_command.main([*evaluate_argv, "--plane-model", "coronal"]) == 2
    assert "--plane-model 'coronal': expected PLANE=FILE" in capsys.readouterr().err
