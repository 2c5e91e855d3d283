"""Helpers of the deployment tests: ports from this suite's own range, processes run by another python."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.parallel import worker_slice
from tests.support.procs import Ports, ServiceProcess

PORTS = Ports(worker_slice(range(int(os.environ.get("SIGAP_DEPLOY_TEST_PORTS", "17200")), 17300)))
"""the deployment tests' range, this worker's share of it (pytest-xdist workers: disjoint shares)"""


def free_port_in_range() -> int:
    """A free loopback port from the deployment tests' range (17200–17299 unless overridden)."""
    return PORTS.take()


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
