"""The distributed search's chief: it serves the oracle to the workers and never trains.

KerasTuner decides the roles from its environment variables: `KERASTUNER_ORACLE_IP` and
`KERASTUNER_ORACLE_PORT` (where the chief listens) and `KERASTUNER_TUNER_ID` (`chief`, or a
worker's id such as `tuner0`). `serve_oracle` runs KerasTuner's own chief (`tuner.search()`
with `KERASTUNER_TUNER_ID=chief`, public API only) and adds what a launcher and a resume need:
a "serving" line, a clean stop on SIGTERM and a last save of the oracle.

Example:
>>> import os
>>> os.environ.update(KERASTUNER_ORACLE_IP="10.0.0.1", KERASTUNER_ORACLE_PORT="8000", KERASTUNER_TUNER_ID="chief")
>>> distributed_role()
'chief'
>>> for name in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
...     del os.environ[name]
>>> distributed_role()
'single'
"""

import os
import signal

SERVING_LINE = "Oracle serving on"


def distributed_role():
    """`single`, `chief` or `worker`, from KerasTuner's environment variables.

    Raises:
        ValueError: `KERASTUNER_ORACLE_IP` is set without the port or the tuner id.

    Example:
    >>> import os
    >>> os.environ.update(KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT="8000",
    ...                   KERASTUNER_TUNER_ID="tuner0")
    >>> distributed_role()
    'worker'
    >>> for name in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
    ...     del os.environ[name]
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    missing = [v for v in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if v not in os.environ]
    if missing:
        raise ValueError(f"KERASTUNER_ORACLE_IP is set but {missing} are not (see the README's distributed search)")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


class _Terminated(Exception):
    """SIGTERM arrived (raised from the signal handler in the main thread)."""


def _raise_terminated(signum, frame):
    raise _Terminated()


def serve_oracle(tuner, verbose=1):
    """Serves `tuner`'s oracle until every worker has left; returns why it stopped early, or None.

    KerasTuner's chief polls every second until a worker is told the search is over, then
    every 20 s until the last worker has left (so it exits up to 20 s after it). SIGTERM or
    Ctrl-C stop it; either way the oracle is saved once more, with no trial listed as ongoing
    unless a worker is still training it.

    Args:
        tuner: a KerasTuner tuner made in the chief's environment (`KERASTUNER_TUNER_ID=chief`).
        verbose: the oracle's verbosity.

    Returns:
        None when the search ended, else a message (the chief was stopped).

    Example:
    >>> class Tuner:  # stands in for a KerasTuner tuner: `search` returns at once
    ...     def search(self, verbose): pass
    ...     def save(self): print("saved")
    >>> import os
    >>> os.environ.update(KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT="8000")
    >>> serve_oracle(Tuner())
    Oracle serving on 127.0.0.1:8000
    saved
    >>> for name in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"): del os.environ[name]
    """
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    # Workers wait for the server (gRPC's wait_for_ready), so the line may come just before it listens.
    print(f"{SERVING_LINE} {address}", flush=True)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        tuner.search(verbose=verbose)
    except (_Terminated, KeyboardInterrupt):
        return "the chief was stopped before the workers finished"
    finally:
        signal.signal(signal.SIGTERM, previous)
        tuner.save()
    return None
