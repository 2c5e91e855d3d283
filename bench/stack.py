"""The services under measurement, each a real subprocess on the bench's own topics and Redis prefix."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.machine import REPO, peak_rss_mb

log = logging.getLogger(__name__)

OPERATOR_KEY = "bench-operator-key-0123456789"
ADMIN_KEY = "bench-admin-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_profiler(proc: subprocess.Popen[bytes]) -> None:
    """Stop a py-spy recorder so that it writes its profile (SIGINT), killing it if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *self.args],
                env={**os.environ, **self.env},
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        log.info("started %s (pid %d), log %s", self.name, self.proc.pid, self.log_path)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the service's process group; SIGKILL it after `timeout_s`."""
        if not self.alive() or self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", self.name, timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class Stack:
    """Dispatcher, notifier and gateway on one prefix. `env` is what every service gets."""

    env: dict[str, str]
    logs_dir: Path
    http_port: int = field(default_factory=free_port)
    services: dict[str, Service] = field(default_factory=dict)
    wrap_dispatcher: list[str] = field(default_factory=list)  # e.g. a profiler's command line
    dispatcher_port: int = field(default_factory=free_port)
    notifier_port: int = field(default_factory=free_port)
    extra_dispatcher_ports: dict[str, int] = field(default_factory=dict)  # add_dispatcher's workers

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        env = {
            **self.env,
            "SIGAP_HTTP_HOST": "127.0.0.1",
            "SIGAP_HTTP_PORT": str(self.http_port),
            "SIGAP_PUBLIC_URL": self.base_url,
            "SIGAP_DISPATCHER_PORT": str(self.dispatcher_port),
            "SIGAP_NOTIFIER_PORT": str(self.notifier_port),
            "SIGAP_API_KEYS": f"operator:{OPERATOR_KEY},admin:{ADMIN_KEY}",
            "SIGAP_CHANNELS": "outbox",
            # the watcher reads the outbox list from its head: a long list means no offer is trimmed away
            "SIGAP_OUTBOX_MAX": "20000",
        }
        specs = {
            "dispatcher": [*self.wrap_dispatcher, "-m", "services.dispatcher", "worker", "-l", "info"],
            "notifier": ["-m", "services.notifier", "worker", "-l", "info"],
            "gateway": ["-m", "services.gateway"],
        }
        for name, args in specs.items():
            service = Service(name, args, env, self.logs_dir / f"{name}.log")
            service.start()
            self.services[name] = service

    def check_alive(self) -> None:
        for service in self.services.values():
            if not service.alive():
                raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")

    def wait_gateway(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.3)
        raise TimeoutError(
            f"the gateway did not answer within {timeout_s}s:\n{self.services['gateway'].log_tail()}"
        )

    def add_dispatcher(self) -> str:
        """Start one more dispatcher worker in the same consumer group (its own metrics port); returns
        its name (`dispatcher-2`, …). Partitions move to it in a rebalance."""
        name = f"dispatcher-{sum(1 for n in self.services if n.startswith('dispatcher')) + 1}"
        port = free_port()
        env = {**self.services["dispatcher"].env, "SIGAP_DISPATCHER_PORT": str(port)}
        args = ["-m", "services.dispatcher", "worker", "-l", "info"]
        service = Service(name, args, env, self.logs_dir / f"{name}.log")
        service.start()
        self.services[name] = service
        self.extra_dispatcher_ports[name] = port
        return name

    def dispatcher_metrics_url(self, name: str) -> str:
        port = self.dispatcher_port if name == "dispatcher" else self.extra_dispatcher_ports[name]
        return f"http://127.0.0.1:{port}/metrics"

    @property
    def metrics_urls(self) -> list[str]:
        return [self.dispatcher_metrics_url("dispatcher"), f"http://127.0.0.1:{self.notifier_port}/metrics"]

    def peak_rss_mb(self) -> dict[str, float | None]:
        return {
            name: peak_rss_mb(s.pid) if s.pid and s.alive() else None for name, s in self.services.items()
        }

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()
