"""`magan_keras.tuning.hypermodel`: trials build what the training command builds; the tuners' defaults."""

import keras_tuner
import pytest

from magan_keras.training.config import TrainConfig
from magan_keras.tuning import hypermodel as hm
from magan_keras.tuning.search_space import load_space


def test_default_initial_points_leave_room_for_the_bayesian_model():
    assert hm.default_initial_points(3, 10) == 5  # KerasTuner's default would be 9 of 10
    assert hm.default_initial_points(3, 4) == 2
    assert hm.default_initial_points(1, 40) == 3


def test_trial_config_takes_the_trials_values():
    hypermodel = hm.MAGANHyperModel(TrainConfig(image_size=32, base_filters=8), load_space("paper"))
    hp = keras_tuner.HyperParameters()
    hp.values.update(gamma=0.2, alpha=3.0, beta=0.1)
    config = hypermodel.trial_config(hp)
    assert (config.gamma, config.alpha, config.beta, config.image_size) == (0.2, 3.0, 0.1, 32)


@pytest.mark.parametrize(
    "kind, tuner_class",
    [
        ("bayesian", hm.BayesianTuner),
        ("random", hm.RandomTuner),
        ("hyperband", hm.HyperbandTuner),
    ],
)
def test_make_tuner_declares_the_space_without_building_a_model(tmp_path, monkeypatch, kind, tuner_class):
    hypermodel = hm.MAGANHyperModel(TrainConfig(), load_space("extended"))
    monkeypatch.setattr(hypermodel, "build", lambda hp: pytest.fail("a model was built to read the space"))
    tuner = hm.make_tuner(kind, hypermodel, max_trials=6, directory=str(tmp_path), max_failures=2)
    assert isinstance(tuner, tuner_class) and tuner.max_failures == 2
    assert [hp.name for hp in tuner.oracle.get_space().space] == hypermodel.space.names


def test_unknown_tuner_and_objective_are_refused():
    with pytest.raises(ValueError, match="tuner must be one of"):
        hm.make_tuner("grid", None)
    with pytest.raises(ValueError, match="objective must be one of"):
        hm.make_objective("fid")
