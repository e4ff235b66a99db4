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

from magan_keras import atomic


def repair_oracle_state(project_dir, statuses):
    """Rewrites `oracle.json` so a resumed search redoes no finished trial; returns the new state.

    Finished trials (COMPLETED or FAILED in their `trial.json`) leave `ongoing_trials` and
    are recorded as ended; unfinished ones (their process was killed) go to the retry queue,
    which any tuner (a worker with another id included) takes first. Without this,
    KerasTuner's `Oracle.reload` would retry every trial still listed as ongoing. Nothing is
    written when no trial is listed as ongoing.

    Args:
        project_dir: KerasTuner's project folder (`TuneSettings.project_dir`).
        statuses: `{trial_id: status}` of the saved trials (`folder.trial_statuses`).

    Returns:
        the oracle state (a dict), or None when there is no `oracle.json`.

    Example:
    >>> import tempfile
    >>> repair_oracle_state(tempfile.mkdtemp(), {}) is None
    True
    """
    path = os.path.join(project_dir, "oracle.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        state = json.load(f)
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
