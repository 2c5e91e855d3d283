"""The secured broker and Redis of `deploy/local/secure.sh` (SASL_SSL with SCRAM-SHA-512 and mutual TLS
on Kafka; TLS and an ACL user on Redis), started for these tests and stopped after them. They run beside
the plain broker and Redis of the rest of the suite, on ports of their own (17292–17296)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from services.common.config import Settings
from tests.support.procs import REPO
from tests.support.suite_redis import without_users

SCRIPT = REPO / "deploy" / "local" / "secure.sh"


def _env_lines() -> dict[str, str]:
    out = subprocess.run(["bash", str(SCRIPT), "env"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def secure_infra() -> Iterator[dict[str, str]]:
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"], check=False, capture_output=True, text=True, timeout=240
    )
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        yield _env_lines()
    finally:
        subprocess.run(
            ["bash", str(SCRIPT), "stop"], check=False, capture_output=True, text=True, timeout=120
        )


@pytest.fixture
def secure_env(secure_infra: dict[str, str], test_env: dict[str, str]) -> dict[str, str]:
    """A service's environment for the secured broker and Redis, with the test's own prefixes."""
    keep = {k: v for k, v in secure_infra.items() if not k.startswith("SIGAP_SECURE_")}
    return {**without_users(test_env), **keep}  # the secured Redis has its own ACL user


@pytest.fixture
def secure_settings(secure_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in secure_env.items():
        monkeypatch.setenv(name, value)
    return Settings()
