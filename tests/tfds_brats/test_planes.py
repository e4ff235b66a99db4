"""Other slice orientations (`tfds_brats.planes`): transposes, `prepare --planes`, the record."""

import contextlib
import io

import numpy as np
import pytest

from tfds_brats import planes
from tfds_brats.configs import BratsConfig, PhantomConfig
from tfds_brats.prepare import main, prepare
from tfds_brats.preprocessing import Preprocessing


def test_each_plane_is_the_transposed_volumes_axial_slice():
    volume = np.random.default_rng(0).uniform(size=(5, 6, 7, 2))
    np.testing.assert_array_equal(planes.to_axial(volume, "coronal")[:, :, 3], volume[:, 3, :])
    np.testing.assert_array_equal(planes.to_axial(volume, "sagittal")[:, :, 2], volume[2, :, :])
    for plane in planes.PLANES:
        np.testing.assert_array_equal(planes.from_axial(planes.to_axial(volume, plane), plane), volume)


def test_the_default_config_and_record_are_unchanged():
    assert "planes" not in PhantomConfig(name="p", image_size=16).params()
    assert "planes" not in Preprocessing().to_config()
    record = Preprocessing(planes=("axial", "sagittal"))
    assert Preprocessing.from_config(record.to_config()).planes == ("axial", "sagittal")
    with pytest.raises(ValueError, match="x: planes: unknown plane 'axil'"):
        BratsConfig(name="x", planes=("axil",))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    with contextlib.redirect_stdout(io.StringIO()):
        axial = prepare(phantom=True, image_size=16, num_subjects=4, data_dir=data_dir)
        three = prepare(phantom=True, image_size=16, num_subjects=4, data_dir=data_dir, planes="axial,coronal,sagittal")
    return axial, three


def test_prepare_planes_cuts_the_train_split_along_every_plane(prepared):
    axial, three = prepared
    assert axial.builder_config.name == "slices_16_num_subjects4"
    assert three.builder_config.name == "slices_16_num_subjects4_planesaxial-coronal-sagittal"
    assert three.builder_config.planes == planes.PLANES
    splits_axial, splits_three = axial.info.splits, three.info.splits
    assert splits_three["train"].num_examples > 2 * splits_axial["train"].num_examples
    for split in ("validation", "test"):  # evaluation stacks axial slices: they stay axial
        assert splits_three[split].num_examples == splits_axial[split].num_examples
    shapes = {tuple(e["images"].shape) for e in three.as_dataset(split="train").take(400).as_numpy_iterator()}
    assert shapes == {(16, 16, 4)}  # 16 x 8 coronal / sagittal slices padded to the canvas
    record = Preprocessing.from_builder_config(three.builder_config, 16)
    assert record.planes == planes.PLANES
    assert Preprocessing.from_builder_config(axial.builder_config, 16).planes == ("axial",)


def test_prepare_command_names_a_bad_plane(tmp_path, capsys):
    code = main(
        ["--phantom", "--image-size", "16", "--num-subjects", "3", "--data-dir", str(tmp_path), "--planes", "x"]
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown plane 'x'; choose from axial, coronal, sagittal (comma-separated)"
    )
    assert not list(tmp_path.rglob("*.tfrecord*"))


def test_the_training_option_is_validated_in_one_place():
    from magan_keras.training.config import TrainConfig

    assert TrainConfig().planes == "axial"
    assert TrainConfig(planes="Sagittal, axial").planes == "sagittal,axial"
    with pytest.raises(ValueError, match="unknown plane 'axal'"):
        TrainConfig(planes="axal")
