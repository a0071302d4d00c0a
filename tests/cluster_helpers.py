"""Start `xrayviewer train --distribute multiworker` workers as separate processes on this
machine (127.0.0.1, free ports), as two machines would run it. Used by tests/test_distribute.py
and benchmarks/distributed_fixture_timing.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_ports(n: int) -> list[int]:
    """``n`` ports free on 127.0.0.1 right now (bound together, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def start_workers(n: int, dataset, work: Path, extra_args: list[str]) -> list[tuple[subprocess.Popen, Path, Path]]:
    """(process, its --out folder, its stderr log) per worker; each has its own per-user home
    (cache), as separate machines would."""
    ports = free_ports(n)
    workers = []
    for i in range(n):
        out, home, log = work / f"out{i}", work / f"home{i}", work / f"worker{i}.log"
        env = dict(os.environ, TF_CONFIG=tf_config(ports, i), XRAYVIEWER_HOME=str(home),
                   PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(log, "w") as err, open(work / f"worker{i}.out", "w") as stdout:
            proc = subprocess.Popen([sys.executable, "-m", "xrayviewer", "train", str(dataset), "--out", str(out),
                                     "--distribute", "multiworker", *extra_args],
                                    cwd=REPO, env=env, stdout=stdout, stderr=err)
        workers.append((proc, out, log))
    return workers


def stop_all(workers) -> None:
    for proc, _out, _log in workers:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
