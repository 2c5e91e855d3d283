"""The probes deploy/k8s gives the dispatcher: while its Redis is away, readiness (`/healthz`) fails and
liveness (`/livez`) holds, so Kubernetes takes the worker out of nothing and restarts nothing; when Redis
is back, the worker is ready again by itself. The worker runs against the suite's broker and a Redis of
this test's own (started and stopped here, on a port of the deployment tests' range)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.config import Settings
from tests.deploy.support import free_port_in_range
from tests.support.procs import ServiceProcess
from tests.support.suite_redis import without_users

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]


class OwnRedis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port_in_range()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], check=False, capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            assert time.monotonic() < deadline, "own redis-server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=3).status_code
    except httpx.HTTPError:
        return 0


def _until(url: str, status: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (got := _status(url)) != status:
        assert time.monotonic() < deadline, f"{url} answered {got}, expected {status}"
        time.sleep(0.2)


def test_dispatcher_stays_alive_and_turns_unready_while_redis_is_away(
    topics: Settings, test_env: dict[str, str], own_redis: OwnRedis, tmp_path: Path
) -> None:
    port = free_port_in_range()
    env = {
        **without_users(test_env),  # a Redis of its own: the default user
        "SIGAP_REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "SIGAP_DATA_DIR": str(tmp_path / "data"),
        "SIGAP_DISPATCHER_PORT": str(port),
    }
    worker = ServiceProcess(["-m", "services.dispatcher", "worker", "-l", "info"], env, tmp_path / "w.log")
    base = f"http://127.0.0.1:{port}"
    try:
        worker.start()
        worker.wait_http(f"{base}/healthz", 90)
        assert _status(f"{base}/livez") == 200
        own_redis.stop()
        _until(f"{base}/healthz", 503)  # unready: Redis does not answer
        for _ in range(10):  # ... for a while, and alive all along
            assert _status(f"{base}/livez") == 200, worker.log_tail()
            time.sleep(0.3)
        own_redis.start()
        _until(f"{base}/healthz", 200)  # ready again without a restart
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        worker.stop()
