"""Start a Sigap service as a real subprocess for a test, and stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.support.parallel import worker_slice

REPO = Path(__file__).resolve().parents[2]


class Ports:
    """Free loopback ports from `ports`, walked from `start` so that two asked in a row differ."""

    def __init__(self, ports: Sequence[int], start: int = 0) -> None:
        self.ports = ports
        self.next = start

    def take(self) -> int:
        for _ in range(len(self.ports)):
            port = self.ports[self.next % len(self.ports)]
            self.next += 1
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port left in {self.ports}")


FREE_PORTS = Ports(worker_slice(range(22000, 26000)), start=os.getpid())
"""where `free_port` looks: below the kernel's ephemeral range (32768-60999 here), so that an outgoing
connection of another process cannot take a port between the test's choice and the service's bind (a
port the kernel hands out for `bind(0)` can); this worker's share, so two xdist workers never pick the
same one (and apart from the fixed ports of a few tests: 17xxx, 21100-21199, 26379)"""


def free_port() -> int:
    """A loopback port nothing is bound to; two calls in a row give two different ports."""
    return FREE_PORTS.take()


class ServiceProcess:
    """`python -m <module> …` with the test's environment; its output goes to a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, *self.args],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_http(self, url: str, timeout_s: float = 60.0) -> None:
        """Wait until `url` answers 200 (or fail with the log tail)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.args} exited early:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer within {timeout_s}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: a crash, for restart tests."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
