"""`magan_keras.tuning.serve`: the roles and the chief; a real chief and two workers share one search."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from magan_keras.tuning import serve

ROLE_VARIABLES = ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID")


@pytest.mark.parametrize("tuner_id, role", [("chief", "chief"), ("tuner3", "worker")])
def test_roles_come_from_kerastuners_variables(monkeypatch, tuner_id, role):
    for name in ROLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert serve.distributed_role() == "single"
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT"):
        serve.distributed_role()
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", tuner_id)
    assert serve.distributed_role() == role


class FakeTuner:
    def __init__(self, action=None):
        self.action, self.saved = action, 0

    def search(self, verbose):
        if self.action:
            self.action()

    def save(self):
        self.saved += 1


def test_sigterm_stops_the_chief_cleanly_and_saves(monkeypatch, capsys):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")

    def terminated():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted by the handler
        pytest.fail("SIGTERM did not stop the chief")

    before = signal.getsignal(signal.SIGTERM)
    tuner = FakeTuner(terminated)
    assert serve.serve_oracle(tuner) == "the chief was stopped before the workers finished"
    assert tuner.saved == 1 and signal.getsignal(signal.SIGTERM) == before
    assert f"{serve.SERVING_LINE} 127.0.0.1:8000" in capsys.readouterr().out
    tuner = FakeTuner()
    assert serve.serve_oracle(tuner) is None and tuner.saved == 1


@pytest.mark.slow
def test_chief_and_two_workers_share_one_search(tfds_dir, tmp_path, tiny, trials):
    from magan_keras.cli import tune

    out = str(tmp_path / "search")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable,
        "-m",
        "tuning.launch_distributed",
        "--workers",
        "2",
        "--timeout",
        "420",
        "--",
        *tiny,
        "--tfds-data-dir",
        tfds_dir,
        "--output-dir",
        out,
        "--max-trials",
        "3",
        "--tuner",
        "random",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=480, env=env)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    finished = trials(out)
    assert sorted(finished) == ["0", "1", "2"]
    assert all(t["status"] == "COMPLETED" and math.isfinite(t["score"]) for t in finished.values())
    ran = []
    for worker in ("tuner0", "tuner1"):
        log = open(os.path.join(out, "launch_logs", f"{worker}.log")).read()
        line = next(line for line in log.splitlines() if line.startswith(f"Worker {worker} done"))
        ran += line.split("ran trials: ")[1].split(")")[0].split(", ")
    assert sorted(ran) == ["0", "1", "2"]  # both workers trained, each trial once
    assert os.path.isfile(os.path.join(out, "best_config.toml"))
    # The chief saves once more at the end: no finished trial is left listed as ongoing.
    oracle_path = os.path.join(out, "search", "oracle.json")
    state = json.load(open(oracle_path))
    assert state["ongoing_trials"] == {}
    # KerasTuner's own chief leaves the last finished trial listed as ongoing; a re-run must not redo it.
    state["ongoing_trials"] = {"tuner0": "2"}  # the id a single-process run uses
    json.dump(state, open(oracle_path, "w"))
    assert (
        tune.main([*tiny, "--tfds-data-dir", tfds_dir, "--output-dir", out, "--max-trials", "3", "--tuner", "random"])
        == 0
    )
    assert trials(out) == finished
