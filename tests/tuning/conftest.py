"""Shared pieces of the tuning tests: a tiny search's options, the prepared phantom, trial readers."""

import json
import os

import pytest

# A search that trains in seconds: 32 px, width 4, one residual block, 2 steps per trial, float32.
TINY_ARGV = [
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
    "--epochs",
    "1",
    "--steps-per-epoch",
    "2",
    "--validation-steps",
    "1",
    "--verbose",
    "0",
    "--precision",  # as the in-process tests (tests/conftest.py): the same search on every machine
    "float32",
]


@pytest.fixture(scope="session")
def tiny():
    """The options of a tiny search (`TINY_ARGV`), as a new list."""
    return list(TINY_ARGV)


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory):
    """A TFDS folder with the 6-subject phantom prepared once for the session."""
    from magan_keras.training import run
    from magan_keras.training.config import TrainConfig

    folder = str(tmp_path_factory.mktemp("tfds"))
    run.load_splits(TrainConfig(image_size=32, num_subjects=6, tfds_data_dir=folder))
    return folder


def read_trials(output_dir):
    """`{trial_id: trial.json}` of a search folder, each with its file's `mtime`."""
    project = os.path.join(output_dir, "search")
    out = {}
    for entry in sorted(os.listdir(project)):
        path = os.path.join(project, entry, "trial.json")
        if os.path.isfile(path):
            with open(path) as f:
                trial = json.load(f)
            trial["mtime"] = os.stat(path).st_mtime_ns
            out[trial["trial_id"]] = trial
    return out


@pytest.fixture(scope="session")
def trials():
    """`read_trials`: `{trial_id: trial.json}` of a search folder."""
    return read_trials


@pytest.fixture
def write_space(tmp_path):
    """Writes `{"hyperparameters": ...}` as a JSON space file; returns its path."""

    def write(hyperparameters, name="bad_space.json"):
        path = tmp_path / name
        path.write_text(json.dumps({"hyperparameters": hyperparameters}))
        return str(path)

    return write
