"""`synthesize --uncertainty`: the shared-encoder path, the spread, the written maps and summary."""

import json

import keras
import nibabel as nib
import numpy as np
import pytest

from magan_keras import MultiBranchGenerator
from magan_keras.cli import synthesize as command
from magan_keras.inference import uncertainty
from magan_keras.modalities import BRATS_MODALITIES
from tfds_brats import checks, phantom
from tfds_brats.brats.make_dummy_data import write_fake_subject


class MeanOfInputs(keras.Model):
    """A stub generator whose output depends on the subset: the mean of the available inputs."""

    image_size, modalities, preprocessing = 16, BRATS_MODALITIES, {"canvas_size": 16}

    def call(self, inputs):
        available = keras.ops.cast(inputs["available"], "float32")[:, None, None, :]
        total = keras.ops.sum(inputs["images"] * available, axis=-1, keepdims=True)
        return total / keras.ops.maximum(keras.ops.sum(available, axis=-1, keepdims=True), 1.0)


@pytest.mark.parametrize("decoder_skip", [False, True])
def test_shared_encoders_equal_the_plain_call_per_subset(decoder_skip):
    generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1, decoder_skip=decoder_skip)
    slices = np.random.default_rng(0).uniform(-1, 1, (5, 16, 16, 4)).astype(np.float32)
    subsets = uncertainty.leave_one_out_subsets([1, 1, 1, 0])
    shared = uncertainty.predict_subsets(generator, slices, subsets, "flair", batch_size=2)
    from magan_keras.inference.generator import predict_slices

    for subset, result in zip(subsets, shared):
        plain = predict_slices(generator, slices, subset, "flair", batch_size=2)
        np.testing.assert_allclose(result, plain, atol=2e-6)
    assert np.abs(shared[0] - shared[1]).max() > 1e-4  # the subsets do differ


def test_uncertainty_is_zero_where_subsets_agree_and_positive_where_they_differ():
    images = np.full((16, 16, 2, 4), 0.2, np.float32)
    images[..., 3] = 0.0  # flair missing
    images[:8, :, :, 0] = -0.6  # t1 differs from t1ce and t2 in the left half
    mask = np.ones((16, 16, 2), bool)
    synthesis, spread = uncertainty.synthesize_with_uncertainty(MeanOfInputs(), images, [1, 1, 1, 0], "flair", mask)
    assert spread[10:, :, :].max() < 1e-6  # all inputs equal: every subset gives 0.2
    assert spread[:6, :, :].min() > 0.05  # leaving t1 out changes the synthesis
    np.testing.assert_allclose(synthesis[12, 8, 0], 0.6, atol=1e-5)  # unit scale of 0.2


def test_one_input_is_refused():
    with pytest.raises(ValueError, match="at least two input contrasts"):
        uncertainty.leave_one_out_subsets([0, 0, 1, 0])


def test_command_writes_maps_and_summary(tmp_path, capsys):
    generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1, preprocessing={"canvas_size": 24})
    generator.build_on_zeros()
    model = tmp_path / "g.keras"
    generator.save(model)
    files = write_fake_subject(tmp_path / "s1", "s1", with_seg=True, seed=2)
    argv = ["--model", model, "--subject-dir", tmp_path / "s1", "--target", "flair", "--out-dir", tmp_path / "out"]
    code = command.main([str(a) for a in argv + ["--uncertainty", "--quiet"]])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "flair uncertainty: brain mean" in out and "tumour mean 0." in out
    volume = nib.load(tmp_path / "out" / "s1_flair_uncertainty.nii.gz")
    assert volume.shape == nib.load(files["t1"]).shape
    data = np.asarray(volume.dataobj)
    assert data.max() > 0 and data.min() >= 0
    summary = json.loads((tmp_path / "out" / "s1_uncertainty.json").read_text())
    assert summary["targets"]["flair"]["brain_mean"] > 0 and summary["targets"]["flair"]["tumour_voxels"] > 0


def test_command_stops_on_swapped_files_and_goes_on_when_told(tmp_path, capsys):
    generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1, preprocessing={"canvas_size": 64})
    generator.build_on_zeros()
    model = tmp_path / "g.keras"
    generator.save(model)
    volumes = phantom.make_subject(1, tumour_probability=1.0).volumes
    paths = {}
    for name, given in (("t1", "t2"), ("t1ce", "t1ce"), ("t2", "t1")):  # t1 and t2 swapped
        paths[name] = tmp_path / f"p1_{name}.nii.gz"
        nib.save(nib.Nifti1Image(volumes[given], np.eye(4)), paths[name])
    argv = ["--model", model, "--out-dir", tmp_path / "out", "--quiet"]
    argv += [a for name, path in paths.items() for a in (f"--{name}", path)]
    code = command.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and "t1 and t2 look swapped" in err and str(paths["t1"]) in err and "--no-input-checks" in err
    assert not (tmp_path / "out").exists()
    assert command.main([str(a) for a in argv + ["--no-input-checks"]]) == 0
    assert checks.SWAP_THRESHOLDS[("t1", "t2")] > 0


@pytest.mark.parametrize("context_slices", [0, 1])
def test_strided_map_is_exact_on_its_slices_and_the_synthesis_everywhere(context_slices):
    generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1, context_slices=context_slices)
    slices = np.random.default_rng(3).uniform(-1, 1, (7, 16, 16, 4)).astype(np.float32)
    subsets = uncertainty.leave_one_out_subsets([1, 1, 1, 0])
    exact_synthesis, exact = uncertainty.slice_spread(generator, slices, subsets, "flair", stride=1, batch_size=2)
    synthesis, strided = uncertainty.slice_spread(generator, slices, subsets, "flair", stride=3, batch_size=2)
    np.testing.assert_allclose(synthesis, exact_synthesis, atol=2e-6)  # the synthesis is every slice's own
    sampled = [0, 3, 6]
    np.testing.assert_allclose(strided[sampled], exact[sampled], atol=2e-6)
    np.testing.assert_allclose(strided[1], (2 * exact[0] + exact[3]) / 3, atol=2e-6)  # linear between
    assert np.abs(strided[1] - exact[1]).max() > 1e-5  # and not the exact map there


def test_strided_map_is_exact_when_the_spread_is_linear_along_the_slices():
    images = np.full((16, 16, 7, 4), 0.2, np.float32)
    images[..., 3] = 0.0
    images[..., 0] = np.linspace(0.2, -0.6, 7)[None, None, :]  # t1 departs from the others slice by slice
    mask = np.ones((16, 16, 7), bool)
    _, exact = uncertainty.synthesize_with_uncertainty(MeanOfInputs(), images, [1, 1, 1, 0], "flair", mask, stride=1)
    _, strided = uncertainty.synthesize_with_uncertainty(MeanOfInputs(), images, [1, 1, 1, 0], "flair", mask, stride=3)
    assert exact[:, :, 0].max() < 1e-6 and exact[:, :, 6].min() > 0.05
    np.testing.assert_allclose(strided, exact, atol=1e-5)


def test_stride_is_validated_and_recorded(tmp_path, capsys):
    generator = MultiBranchGenerator(image_size=16, base_filters=4, res_blocks=1, preprocessing={"canvas_size": 24})
    generator.build_on_zeros()
    model = tmp_path / "g.keras"
    generator.save(model)
    write_fake_subject(tmp_path / "s1", "s1", seed=2)
    argv = ["--model", model, "--subject-dir", tmp_path / "s1", "--target", "flair", "--out-dir", tmp_path / "out"]
    argv = [str(a) for a in argv + ["--uncertainty", "--quiet"]]
    with pytest.raises(SystemExit):
        command.main(argv + ["--uncertainty-stride", "0"])
    assert "--uncertainty-stride" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert command.main(argv + ["--uncertainty-stride", "1"]) == 0
    assert json.loads((tmp_path / "out" / "s1_uncertainty.json").read_text())["stride"] == 1
    with pytest.raises(ValueError, match="stride must be >= 1"):
        uncertainty.sampled_positions(4, 0)
