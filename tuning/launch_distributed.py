"""Distributed search on one machine: a KerasTuner chief and N workers.

    python -m tuning.launch_distributed --workers 2 -- [python -m magan_keras.tune options]
    python -m tuning.launch_distributed --workers 4 --devices 0,1,2,3 --overwrite -- \\
        --data-dir ~/BraTS2021 --image-size 128 --base-filters 64 --max-trials 40 --output-dir runs/tune_brats

It checks the tune options, clears the search folder once when `--overwrite` is
given (every process then runs with `overwrite=False`: KerasTuner processes that
each delete the folder race), writes the folder's `search.json`, then starts
`python -m magan_keras.tune` as the chief (`KERASTUNER_TUNER_ID=chief`; it
prepares the data once and serves the oracle, it never trains) and, once the
chief serves, the workers (`tuner0`, `tuner1`, ...; each takes trials until the
oracle has none left). It waits for all of them and prints the chief's report;
the exit code is the chief's, or 1 when a worker failed.

Re-running the same command resumes the search (finished trials are kept, a
trial whose worker was killed runs again). Each process's output goes to
`<output-dir>/launch_logs/`. With `--devices`, worker i sees only GPU
`devices[i % len(devices)]` (`CUDA_VISIBLE_DEVICES`).

On several machines, run the same command by hand on each with the environment
variables set (see the README): the chief first, on the machine whose address
the workers are given, all with one shared `--output-dir`.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m tuning.launch_distributed",
        description="Start a KerasTuner chief and N workers of python -m magan_keras.tune on this machine.",
        epilog="Options after -- (or any this launcher does not know) go to python -m magan_keras.tune.",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--host", default="127.0.0.1", help="address the chief listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="the chief's port (default: a free one)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="delete the search in --output-dir once, before launching",
    )
    parser.add_argument("--devices", default=None, help="comma-separated GPU ids shared round-robin by the workers")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="stop everything after this many seconds (exit 124)",
    )
    parser.add_argument(
        "--chief-wait",
        type=float,
        default=60.0,
        help="seconds the chief may take to exit after the last worker (default 60)",
    )
    parser.add_argument("--python", default=sys.executable, help="Python interpreter of the processes")
    return parser


def _tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _stop(processes, grace=10.0):
    """SIGTERM, then SIGKILL after `grace` seconds, for the processes still running."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.time() + grace
    for process in processes:
        remaining = max(0.1, deadline - time.time())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv=None):
    parser = build_parser()
    args, tune_argv = parser.parse_known_args(argv)
    tune_argv = [a for a in tune_argv if a != "--"]
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if "--overwrite" in tune_argv:
        parser.error("give --overwrite to the launcher (it clears the folder once), not to the tune command")
    from magan_keras.cli import tune
    from magan_keras.tuning.folder import prepare_output_dir
    from magan_keras.tuning.serve import SERVING_LINE

    tune_parser = tune.build_parser()
    tune_args = tune_parser.parse_args(tune_argv)
    try:
        settings = tune.settings_from_args(tune_args)
        prepare_output_dir(settings, overwrite=args.overwrite)
    except ValueError as error:
        parser.error(str(error))
    logs = os.path.join(settings.output_dir, "launch_logs")
    os.makedirs(logs, exist_ok=True)
    port = args.port or free_port(args.host)
    base_env = {
        **os.environ,
        "KERASTUNER_ORACLE_IP": args.host,
        "KERASTUNER_ORACLE_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    command = [args.python, "-m", "magan_keras.tune", *tune_argv, "--output-dir", settings.output_dir]
    devices = [d for d in (args.devices or "").split(",") if d]
    started = time.time()
    opened = []

    def start(tuner_id, extra_env=None):
        log_path = os.path.join(logs, f"{tuner_id}.log")
        log = open(log_path, "w")
        opened.append(log)
        env = {**base_env, "KERASTUNER_TUNER_ID": tuner_id, **(extra_env or {})}
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        return process, log_path

    def timed_out():
        return args.timeout is not None and time.time() - started > args.timeout

    print(f"Search folder: {settings.output_dir}; oracle on {args.host}:{port}; logs in {logs}", flush=True)
    chief, chief_log = start("chief")
    workers = []
    try:
        # The chief prepares the data, then serves; workers start once it serves.
        while SERVING_LINE not in _tail(chief_log, 200):
            if chief.poll() is not None:
                print(
                    f"error: the chief exited with code {chief.returncode} before serving:\n{_tail(chief_log)}",
                    file=sys.stderr,
                )
                return chief.returncode or 1
            if timed_out():
                raise TimeoutError
            time.sleep(0.5)
        print(f"Chief serving (pid {chief.pid}); starting {args.workers} workers", flush=True)
        for index in range(args.workers):
            extra = {"CUDA_VISIBLE_DEVICES": devices[index % len(devices)]} if devices else None
            workers.append(start(f"tuner{index}", extra))
        while any(process.poll() is None for process, _ in workers):
            if timed_out():
                raise TimeoutError
            time.sleep(1)
        # Normally the chief exits by itself within 20 s of the last worker leaving
        # (KerasTuner's chief polls every 20 s at the end); if a worker died without
        # asking for more trials the chief would wait for it forever, so it is stopped
        # (it then writes its report).
        try:
            chief.wait(timeout=args.chief_wait)
        except subprocess.TimeoutExpired:
            print("The chief is still waiting for workers that have exited; stopping it.", flush=True)
            _stop([chief], grace=60)
    except TimeoutError:
        print(f"error: timed out after {args.timeout} s; stopping the chief and workers", file=sys.stderr)
        _stop([process for process, _ in workers] + [chief])
        return 124
    except KeyboardInterrupt:
        _stop([process for process, _ in workers] + [chief])
        return 130
    finally:
        for log in opened:
            log.close()
    failed_workers = []
    for process, log_path in workers:
        print(f"worker {os.path.basename(log_path)[:-4]}: exit code {process.returncode} ({log_path})")
        if process.returncode != 0:
            failed_workers.append(log_path)
    print(f"chief: exit code {chief.returncode} ({chief_log})")
    for log_path in failed_workers:
        print(f"\n--- end of {log_path} ---\n{_tail(log_path)}", file=sys.stderr)
    report = _tail(chief_log, 400)
    start_at = report.rfind("\nSearch: ")
    print(report[start_at:] if start_at >= 0 else report)
    if chief.returncode != 0:
        return chief.returncode
    return 1 if failed_workers else 0


if __name__ == "__main__":
    sys.exit(main())
