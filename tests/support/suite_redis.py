"""The test suite's Redis, with one owner per key space enforced (DESIGN.md §1, `services/common/acl.py`).

The suite never changes the ACL of a Redis it did not start: it starts one of its own through the
project's script (`deploy/local/redis.sh`, on `SIGAP_TEST_REDIS_PORT` or a free port, data in a
temporary folder) and stops it at the end; each pytest-xdist worker starts its own (on
`SIGAP_TEST_REDIS_PORT` plus the worker's number when that is set). Under `make test-cluster`
(`SIGAP_REDIS_CLUSTER=true`) it uses the cluster `SIGAP_REDIS_URL` names, which that target started
for the tests (shared by the workers: every test has its own prefix and users).

Each test's Redis prefix gets its own three service users (`sigap-<service>-<tag>`, random passwords),
limited to that prefix, created before the test and deleted after it; the services under test connect
as them (`SIGAP_REDIS_USER_<SERVICE>`, `SIGAP_REDIS_PASSWORD_<SERVICE>`), so a service writing another's
keys fails the test with NOPERM. The tests' own client (`redis` fixture) is the default user: it seeds
and inspects every key space.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis, RedisCluster

from services.common.acl import SERVICES, acl_user
from services.common.redis import Service
from tests.support.parallel import worker_index
from tests.support.procs import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TestUsers:
    """The three service users of one test's Redis prefix."""

    __test__ = False  # not a test class

    redis_prefix: str
    names: dict[Service, str]
    passwords: dict[Service, str]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for service in SERVICES:
            out[f"SIGAP_REDIS_USER_{service.upper()}"] = self.names[service]
            out[f"SIGAP_REDIS_PASSWORD_{service.upper()}"] = self.passwords[service]
        return out

    def settings(self) -> dict[str, str]:
        """The same as `Settings` fields."""
        return {name.removeprefix("SIGAP_").lower(): value for name, value in self.env().items()}


def without_users(env: dict[str, str]) -> dict[str, str]:
    """`env` with the services' ACL users blanked (the `settings` fixture also puts them in
    `os.environ`, which service processes inherit): for a Redis other than the suite's (a test's own,
    the secured one), where they do not exist and the URL's credentials apply."""
    blank = {f"SIGAP_REDIS_{kind}_{s.upper()}": "" for kind in ("USER", "PASSWORD") for s in SERVICES}
    return {**env, **blank}


class SuiteRedis:
    def __init__(self) -> None:
        self.cluster = os.environ.get("SIGAP_REDIS_CLUSTER", "false").lower() in {"1", "true", "yes"}
        self._data_dir: str | None = None
        self._started = False
        if self.cluster:
            self.url = os.environ.get("SIGAP_REDIS_URL", "redis://127.0.0.1:7101/0")
        else:
            fixed = os.environ.get("SIGAP_TEST_REDIS_PORT")  # under xdist: one port per worker from there
            port = str(int(fixed) + worker_index()) if fixed else str(free_port())
            self.url = f"redis://127.0.0.1:{port}/0"

    def _script_env(self) -> dict[str, str]:
        assert self._data_dir is not None
        return {**os.environ, "SIGAP_REDIS_URL": self.url, "SIGAP_DATA_DIR": self._data_dir}

    def start(self) -> None:
        """Start the suite's own Redis once (nothing to start on a cluster)."""
        if self._started or self.cluster:
            return
        self._data_dir = tempfile.mkdtemp(prefix="sigap-test-redis-")
        subprocess.run(
            ["bash", str(REPO / "deploy" / "local" / "redis.sh"), "start"],
            env=self._script_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self._started = True

    def stop(self) -> None:
        if not self._started:
            return
        subprocess.run(
            ["bash", str(REPO / "deploy" / "local" / "redis.sh"), "stop"],
            env=self._script_env(),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._started = False
        shutil.rmtree(self._data_dir or "", ignore_errors=True)

    def admin(self) -> Any:
        if self.cluster:
            return RedisCluster.from_url(self.url, decode_responses=True)
        return Redis.from_url(self.url, decode_responses=True)

    @staticmethod
    def users(redis_prefix: str) -> TestUsers:
        """Names and passwords for a prefix's service users (not created yet)."""
        tag = re.sub(r"[^A-Za-z0-9]", "", redis_prefix)[:24]
        return TestUsers(
            redis_prefix,
            {s: f"sigap-{s}-{tag}" for s in SERVICES},
            {s: secrets.token_urlsafe(18) for s in SERVICES},
        )

    def create(self, users: TestUsers) -> None:
        client = self.admin()
        try:
            for service in SERVICES:
                user = acl_user(service, users.redis_prefix, users.names[service])
                options = user.setuser(users.passwords[service])
                if self.cluster:
                    options["target_nodes"] = RedisCluster.ALL_NODES
                client.acl_setuser(**options)
        finally:
            client.close()

    def drop(self, users: TestUsers) -> None:
        client = self.admin()
        try:
            extra = {"target_nodes": RedisCluster.ALL_NODES} if self.cluster else {}
            client.acl_deluser(*users.names.values(), **extra)
        finally:
            client.close()


SUITE_REDIS = SuiteRedis()
