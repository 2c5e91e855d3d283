"""Helpers of the deployment tests: ports from this suite's own range, processes run by another python."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.support.parallel import worker_slice
from tests.support.procs import ServiceProcess

PORTS = worker_slice(range(int(os.environ.get("SIGAP_DEPLOY_TEST_PORTS", "17200")), 17300))
"""this worker's share of the range (pytest-xdist workers: disjoint shares)"""
_next = 0


def free_port_in_range() -> int:
    """A free loopback port from the deployment tests' range (17200–17299 unless overridden), from this
    worker's share of it."""
    global _next  # noqa: PLW0603 - walk the range once per test run so two ports asked in a row differ
    for _ in range(len(PORTS)):
        port = PORTS[_next % len(PORTS)]
        _next += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


class InstalledProcess(ServiceProcess):
    """`<python> -m <module> …` in `cwd`, with exactly `env` (nothing inherited from the test run, so
    neither the checkout's `SIGAP_DATA_DIR` nor its paths leak in)."""

    def __init__(self, python: Path, args: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> None:
        super().__init__(args, env, log_path)
        self.env = dict(env)
        self.python = python
        self.cwd = cwd

    def start(self) -> InstalledProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(self.python), *self.args],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self
