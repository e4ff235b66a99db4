"""`magan_keras.tuning.oracle`: the workaround of KerasTuner's saved "ongoing" finished trials.

The searches here are KerasTuner's own, through its public API, with a trial that returns
its score at once (no model), so the upstream behaviour is reproduced in a second.
"""

import json

import keras_tuner
import pytest

from magan_keras.tuning import folder, oracle


class InstantTuner(keras_tuner.RandomSearch):
    """A random search whose trial scores its hyperparameter `x`; records the trials it runs."""

    def __init__(self, directory, max_trials=2):
        self.ran = []
        super().__init__(
            hypermodel=None,
            objective=keras_tuner.Objective("score", "min"),
            max_trials=max_trials,
            directory=str(directory),
            project_name="search",
            seed=1,
        )

    def run_trial(self, trial, *args, **kwargs):
        self.ran.append(trial.trial_id)
        return {"score": trial.hyperparameters.Float("x", 0.0, 1.0)}


class ChiefLikeTuner(InstantTuner):
    """Saves as KerasTuner's distributed chief does: once before serving, then only inside the oracle.

    The chief's `search` saves the tuner and starts the server; each worker's trial then ends
    with `oracle.end_trial` alone (the gRPC `EndTrial`), never followed by a tuner save.
    """

    def on_search_begin(self):
        self.save()

    def on_trial_end(self, trial):
        self.oracle.end_trial(trial)


def finished_search(directory):
    """A finished 2-trial search whose saved oracle is what KerasTuner's chief leaves behind."""
    first = ChiefLikeTuner(directory)
    first.search()
    assert first.ran == ["0", "1"]
    state = json.loads((directory / "search" / "oracle.json").read_text())
    assert state["ongoing_trials"] == {"tuner0": "1"}  # saved by end_trial before it popped the trial
    return {t.trial_id: t.score for t in first.oracle.trials.values()}


def test_upstream_reruns_a_finished_trial_without_the_repair(tmp_path):
    # Documents the upstream bug the workaround exists for; if this starts failing, KerasTuner
    # has fixed it and `repair_oracle_state` can go.
    finished_search(tmp_path)
    again = InstantTuner(tmp_path)
    again.search()
    assert again.ran == ["1"]


def test_repaired_finished_search_redoes_no_trial(tmp_path):
    scores = finished_search(tmp_path)
    project = str(tmp_path / "search")
    state = oracle.repair_oracle_state(project, folder.trial_statuses(project))
    assert state["ongoing_trials"] == {} and state["retry_queue"] == []
    again = InstantTuner(tmp_path)
    again.search()
    assert again.ran == []  # fails when repair_oracle_state does nothing: trial 1 runs again
    assert {t.trial_id: t.score for t in again.oracle.trials.values()} == scores
    assert all(t.status == "COMPLETED" for t in again.oracle.trials.values())


def test_repaired_search_extends_without_redoing(tmp_path):
    finished_search(tmp_path)
    project = str(tmp_path / "search")
    oracle.repair_oracle_state(project, folder.trial_statuses(project))
    more = InstantTuner(tmp_path, max_trials=3)
    more.search()
    assert more.ran == ["2"]


def test_repair_requeues_killed_trials_and_drops_finished_ones(tmp_path):
    project = tmp_path / "search"
    for trial_id, status in (("0", "COMPLETED"), ("1", "RUNNING"), ("2", "COMPLETED")):
        (project / f"trial_{trial_id}").mkdir(parents=True)
        (project / f"trial_{trial_id}" / "trial.json").write_text(json.dumps({"trial_id": trial_id, "status": status}))
    state = {"ongoing_trials": {"tuner0": "1", "tuner1": "2"}, "retry_queue": [], "end_order": ["0"]}
    (project / "oracle.json").write_text(json.dumps(state))
    oracle.repair_oracle_state(str(project), folder.trial_statuses(str(project)))
    repaired = json.loads((project / "oracle.json").read_text())
    assert repaired["ongoing_trials"] == {}
    assert repaired["retry_queue"] == ["1"]  # killed mid-trial: runs again, for any tuner id
    assert repaired["end_order"] == ["0", "2"]  # finished: kept, not redone


@pytest.mark.parametrize("content", [None, {"ongoing_trials": {}, "retry_queue": []}])
def test_nothing_to_repair_writes_nothing(tmp_path, content):
    path = tmp_path / "oracle.json"
    if content is not None:
        path.write_text(json.dumps(content))
        before = path.stat().st_mtime_ns
    result = oracle.repair_oracle_state(str(tmp_path), {})
    if content is None:
        assert result is None and not path.exists()
    else:
        assert result == content and path.stat().st_mtime_ns == before


def test_an_empty_oracle_json_left_by_a_kill_is_recovered_from_the_last_good_copy(tmp_path, capsys):
    first = InstantTuner(tmp_path)
    oracle.protect_oracle_file(first.oracle)
    first.search()
    project = tmp_path / "search"
    good = json.loads((project / oracle.GOOD_COPY_FILE).read_text())
    assert good == json.loads((project / "oracle.json").read_text()) and good["end_order"] == ["0", "1"]
    (project / "oracle.json").write_text("")  # killed while KerasTuner rewrote it
    with pytest.raises(json.JSONDecodeError):
        InstantTuner(tmp_path)  # what a resume did before: a traceback, and the search could never resume
    state = oracle.repair_oracle_state(str(project), folder.trial_statuses(str(project)))
    assert state == good and json.loads((project / "oracle.json").read_text()) == good
    err = capsys.readouterr().err
    assert err.startswith(f"note: {project / 'oracle.json'} was empty or not valid JSON") and err.count("\n") == 1
    more = InstantTuner(tmp_path, max_trials=3)
    more.search()
    assert more.ran == ["2"]  # the finished trials are kept


@pytest.mark.parametrize("text", ["", '{"ongoing_trials": {"tuner0"', "[1, 2]"])
def test_a_damaged_oracle_json_without_a_good_copy_is_a_one_line_error(tmp_path, text):
    (tmp_path / "oracle.json").write_text(text)
    with pytest.raises(oracle.OracleStateError, match=r"oracle\.json is empty or not valid JSON") as caught:
        oracle.repair_oracle_state(str(tmp_path), {})
    assert "\n" not in str(caught.value) and (tmp_path / "oracle.json").read_text() == text
