"""One measurement in a fresh process: the worker prints its result on a marked line, the parent reads it.

A fresh process per measurement keeps each one's peak memory, traced functions and thread
settings its own. `report` is called by the worker, `run` by the parent.

Example:
>>> from benchmarks import worker
>>> "No module named" in worker.run("benchmarks.no_such_module", [])["error"]
True
"""

import json
import os
import subprocess
import sys

RESULT_PREFIX = "RESULT "
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def report(result):
    """Prints `result` (a JSON-serialisable dict) on the line `run` reads."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run(module, args, env=None):
    """Runs `python -m module *args` from the repository root; returns the dict its worker reported.

    Args:
        module: str. A benchmark module whose worker mode calls `report`.
        args: list of str.
        env: dict or None. Variables set on top of this process's environment.

    Returns:
        dict: the worker's result, or `{"error": its last error line (or its last line), "stderr":
        the end of its stderr}` when it failed or reported nothing.
    """
    command = [sys.executable, "-m", module, *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    completed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if completed.returncode != 0 or not lines:
        said = [line for line in completed.stderr.splitlines() if line.strip()]
        errors = [line for line in said if "Error" in line] or said or ["no result"]
        return {"error": errors[-1][:200], "stderr": completed.stderr[-3000:]}
    return json.loads(lines[-1][len(RESULT_PREFIX) :])
