"""tf.distribute: a step under R replicas equals a one-device step with the same global batch."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")

pytestmark = pytest.mark.slow


def run_script(name, *args, env=None, timeout=300):
    completed = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_mirrored_step_equals_one_device_step():
    results = json.loads(run_script("mirrored_step.py").strip().splitlines()[-1])
    one, mirrored = results["one"], results["mirrored"]
    assert mirrored["replicas"] == 2 and one["replicas"] == 1
    for a, b in zip(one["weights"], mirrored["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-4, atol=1e-5)
    for key, value in one["logs"].items():
        assert mirrored["logs"][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_localhost_finish_with_identical_weights(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    processes = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, os.path.join(SCRIPTS, "multi_worker.py"), str(tmp_path / f"w{index}.npz")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300))
    finally:
        for process in processes:
            process.kill()
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    first, second = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert set(first.files) == set(second.files) and len(first.files) > 10
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key])
