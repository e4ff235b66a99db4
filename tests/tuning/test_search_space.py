"""`magan_keras.tuning.search_space`: built-in and custom spaces, checked against TrainConfig and the model's bounds."""

import keras_tuner
import pytest

from magan_keras.models import presets
from magan_keras.tuning import search_space


def test_builtin_spaces_load_by_name():
    assert set(search_space.builtin_space_names()) >= {"paper", "extended"}
    paper = search_space.load_space("paper")
    assert paper.names == ["gamma", "alpha", "beta"]
    assert (paper.hyperparameters["gamma"].min, paper.hyperparameters["gamma"].max) == (0.0, 1.0)
    assert paper.hyperparameters["alpha"].sampling == "log" and paper.hyperparameters["beta"].sampling == "log"
    assert {"lambda_l1", "lambda_ssim", "learning_rate", "lr_decay"} <= set(search_space.load_space("extended").names)
    with pytest.raises(search_space.SearchSpaceError, match="paper"):
        search_space.load_space("no_such_space")


@pytest.mark.parametrize(
    "hyperparameters, message",
    [
        ({"gama": {"type": "float", "min": 0, "max": 1}}, "gama"),
        ({"gamma": {"type": "float", "min": 0, "max": 1, "smapling": "log"}}, "smapling"),
        ({"gamma": {"type": "float", "min": 0, "max": 1.5}}, "gamma"),
        ({"alpha": {"type": "float", "min": 0, "max": 10, "sampling": "log"}}, "min > 0"),
        ({"modal_attention": {"type": "float", "min": 0, "max": 1}}, "modal_attention"),
        ({"gan_loss": {"type": "choice", "values": ["vanilla", "wgan"]}}, "wgan"),
        ({"epochs": {"type": "int", "min": 1, "max": 5}}, "epochs"),
        ({"gamma": {"type": "float", "min": "0", "max": 1}}, "min"),
        ({"gamma": {"type": "uniform", "min": 0, "max": 1}}, "type"),
        ({}, "hyperparameters"),
    ],
)
def test_invalid_space_files_name_the_file_and_the_problem(write_space, hyperparameters, message):
    path = write_space(hyperparameters)
    with pytest.raises(search_space.SearchSpaceError) as error:
        search_space.load_space(path)
    assert "bad_space.json" in str(error.value) and message in str(error.value)


@pytest.mark.parametrize(
    "name, spec, bound",
    [
        # Far past what validate_options accepts: refused when the file loads, the bound in the message.
        ("res_blocks", {"type": "int", "min": 1, "max": 10**8}, f"[0, {presets.MAX_RES_BLOCKS}]"),
        ("res_blocks", {"type": "int", "min": 1, "max": 1e8}, f"[0, {presets.MAX_RES_BLOCKS}]"),  # 1e8 is a float
        ("base_filters", {"type": "int", "min": 8, "max": 4096}, f"[1, {presets.MAX_BASE_FILTERS}]"),
        ("base_filters", {"type": "int", "min": 0, "max": 16}, f"[1, {presets.MAX_BASE_FILTERS}]"),
        ("base_filters", {"type": "choice", "values": [8, 4096]}, f"[1, {presets.MAX_BASE_FILTERS}]"),
        ("sr_pretrain_steps", {"type": "int", "min": 0, "max": 10**12}, "[0, 1000000000]"),
    ],
)
def test_searched_sizes_are_bounded_by_the_model_validator(write_space, name, spec, bound):
    path = write_space({name: spec})
    with pytest.raises(search_space.SearchSpaceError) as error:
        search_space.load_space(path)
    message = str(error.value)
    assert "bad_space.json" in message and name in message and bound in message, message


def test_space_at_the_model_bounds_loads(tmp_path):
    path = tmp_path / "largest.toml"
    path.write_text(
        f'[hyperparameters.res_blocks]\ntype = "int"\nmin = 0\nmax = {presets.MAX_RES_BLOCKS}\n'
        f'[hyperparameters.base_filters]\ntype = "int"\nmin = 1\nmax = {presets.MAX_BASE_FILTERS}\n'
    )
    space = search_space.load_space(str(path))
    assert space.hyperparameters["res_blocks"].max == presets.MAX_RES_BLOCKS
    # The same through a TOML file written with a float exponent: refused, with the bound.
    path.write_text('[hyperparameters.res_blocks]\ntype = "int"\nmin = 1\nmax = 1e8\n')
    with pytest.raises(search_space.SearchSpaceError, match=r"largest\.toml.*res_blocks.*\[0, 64\]"):
        search_space.load_space(str(path))


def test_toml_space_by_path_with_every_type(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "mixed"\n'
        '[hyperparameters.gamma]\ntype = "float"\nmin = 0.0\nmax = 1.0\nstep = 0.25\n'
        '[hyperparameters.res_blocks]\ntype = "int"\nmin = 1\nmax = 3\n'
        '[hyperparameters.gan_loss]\ntype = "choice"\nvalues = ["vanilla", "lsgan"]\n'
        '[hyperparameters.intra_attention]\ntype = "boolean"\n'
    )
    space = search_space.load_space(str(path))
    assert space.name == "mine" and space.names == ["gamma", "res_blocks", "gan_loss", "intra_attention"]
    hp = keras_tuner.HyperParameters()
    values = {name: spec.declare(hp) for name, spec in space.hyperparameters.items()}
    assert space.contains(values) and values["gan_loss"] == "vanilla"
