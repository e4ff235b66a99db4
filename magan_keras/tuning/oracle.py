"""The one workaround of a KerasTuner bug: a saved oracle that lists finished trials as ongoing.

Upstream behaviour (KerasTuner 1.4.8, `keras_tuner/src/engine/oracle.py`): `Oracle.end_trial`
saves `oracle.json` *before* it removes the finished trial from `ongoing_trials`, and
`Oracle.reload` puts every trial listed as ongoing on the retry queue. A single-process tuner
saves again right after (`Tuner.on_trial_end`), but KerasTuner's distributed chief saves only
when a trial starts or ends: its last save, made as the last trial ends, lists that trial as
ongoing, and so does the save of a chief killed after a trial ended. Resuming such a search
runs a COMPLETED or FAILED trial again and overwrites its result. No upstream issue number
was found for this (keras-team/keras-tuner#976, fixed by #977, is the neighbouring "the chief
does not save before serving" bug). `serve.serve_oracle` saves once more at the end, so the
repair matters for a chief that was killed and for folders left by KerasTuner's own chief.

Example:
>>> import json, os, tempfile
>>> project = tempfile.mkdtemp()
>>> os.mkdir(os.path.join(project, "trial_0"))
>>> _ = open(os.path.join(project, "trial_0", "trial.json"), "w").write(
...     json.dumps({"trial_id": "0", "status": "COMPLETED"}))
>>> _ = open(os.path.join(project, "oracle.json"), "w").write(
...     json.dumps({"ongoing_trials": {"tuner0": "0"}, "retry_queue": [], "end_order": []}))
>>> state = repair_oracle_state(project, {"0": "COMPLETED"})
>>> state["ongoing_trials"], state["retry_queue"], state["end_order"]
({}, [], ['0'])
"""

import json
import os
import sys

from magan_keras import atomic

ORACLE_FILE = "oracle.json"
# A copy of the last `oracle.json` that parsed, beside it: KerasTuner rewrites the file in place
# (`open(path, "w")`), so a kill mid-write leaves it empty or cut short.
GOOD_COPY_FILE = "oracle.last_good.json"


class OracleStateError(ValueError):
    """A saved oracle that is damaged and cannot be recovered; the message names the file."""


def repair_oracle_state(project_dir, statuses):
    """Rewrites `oracle.json` so a resumed search redoes no finished trial; returns the new state.

    Finished trials (COMPLETED or FAILED in their `trial.json`) leave `ongoing_trials` and
    are recorded as ended; unfinished ones (their process was killed) go to the retry queue,
    which any tuner (a worker with another id included) takes first. Without this,
    KerasTuner's `Oracle.reload` would retry every trial still listed as ongoing. `oracle.json`
    is not rewritten when no trial is listed as ongoing.

    Args:
        project_dir: KerasTuner's project folder (`TuneSettings.project_dir`).
        statuses: `{trial_id: status}` of the saved trials (`folder.trial_statuses`).

    An `oracle.json` left empty or invalid (a kill while KerasTuner rewrote it) is first
    replaced by the last good copy (`oracle.last_good.json`, kept by `protect_oracle_file` and
    here), with a note on stderr; a good state is copied there.

    Returns:
        the oracle state (a dict), or None when there is no `oracle.json`.

    Raises:
        OracleStateError: `oracle.json` is damaged and there is no good copy to recover from.

    Example:
    >>> import tempfile
    >>> repair_oracle_state(tempfile.mkdtemp(), {}) is None
    True
    """
    path = os.path.join(project_dir, ORACLE_FILE)
    if not os.path.isfile(path):
        return None
    state = _read_state(path)
    if state is None:
        state = _recover(project_dir, path)
    atomic.write_json(os.path.join(project_dir, GOOD_COPY_FILE), state)
    ongoing = state.get("ongoing_trials") or {}
    if not ongoing:
        return state
    retry = state.setdefault("retry_queue", [])
    end_order = state.setdefault("end_order", [])
    for trial_id in ongoing.values():
        if statuses.get(trial_id) in ("COMPLETED", "FAILED"):
            # Saved by end_trial before it popped the trial: it ended, keep its result.
            if trial_id not in end_order:
                end_order.append(trial_id)
        elif trial_id not in retry:
            # Its process was killed mid-trial: what reload would do, for any tuner id.
            retry.append(trial_id)
    # Emptied, so reload has nothing to requeue.
    state["ongoing_trials"] = {}
    atomic.write_json(path, state)
    return state


def protect_oracle_file(oracle):
    """Makes `oracle.save()` write `oracle.json` atomically and keep a good copy beside it.

    KerasTuner's `Oracle.save` writes the file in place; this instance's save (called by
    `end_trial`, the tuner and the chief's server alike) writes the same state with
    `magan_keras.atomic.write_json` instead, then copies it to `oracle.last_good.json`.

    Args:
        oracle: a KerasTuner `Oracle` of this process (not a worker's client of the chief's).

    Returns:
        the oracle.

    Example:
    >>> import os, tempfile, keras_tuner
    >>> project = tempfile.mkdtemp()
    >>> oracle = keras_tuner.oracles.RandomSearchOracle(keras_tuner.Objective("score", "min"), max_trials=1)
    >>> oracle._set_project_dir(project, "search")
    >>> protect_oracle_file(oracle).save()
    >>> sorted(os.listdir(os.path.join(project, "search")))
    ['oracle.json', 'oracle.last_good.json']
    """

    def save():
        path = oracle._get_oracle_fname()  # pylint: disable=protected-access
        state = oracle.get_state()
        atomic.write_json(path, state)
        atomic.write_json(os.path.join(os.path.dirname(path), GOOD_COPY_FILE), state)

    oracle.save = save
    return oracle


def _read_state(path):
    """The state in `path`, or None when it is empty or not a JSON object."""
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) else None


def _recover(project_dir, path):
    """Restores `oracle.json` from the good copy (with a note), or raises `OracleStateError`."""
    copy = os.path.join(project_dir, GOOD_COPY_FILE)
    state = _read_state(copy) if os.path.isfile(copy) else None
    if state is None:
        raise OracleStateError(
            f"{path} is empty or not valid JSON (a kill while KerasTuner rewrote it) and there is no good copy "
            f"({GOOD_COPY_FILE}) to recover from; start the search again with --overwrite"
        )
    atomic.write_json(path, state)
    print(
        f"note: {path} was empty or not valid JSON (a kill while KerasTuner rewrote it); restored the last "
        f"good copy {GOOD_COPY_FILE} (trials it does not list as ended are run again)",
        file=sys.stderr,
    )
    return state
