"""deploy/compose.yaml validates against the compose-spec JSON schema and keeps its promises; the image's
Dockerfile and lock file are what deploy/README.md says (pinned base, hashes, non-root, no pip, health).
No servers and no Docker engine: these read the files."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.procs import REPO

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
SCHEMA = DEPLOY / "schemas" / "compose-spec" / "compose-spec.json"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
LOCK = DEPLOY / "container" / "requirements.lock"
SECRET = re.compile(r"(SECRET|PASSWORD|TOKEN|API_KEYS|REDIS_URL|AUTH)")
SIGAP_SERVICES = ("dispatcher", "notifier", "gateway")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))


def validator() -> jsonschema.Draft202012Validator:
    import json

    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text("utf-8")))


def test_compose_validates_against_the_compose_spec() -> None:
    errors = [f"{e.message} at {list(e.absolute_path)}" for e in validator().iter_errors(compose())]
    assert not errors, "\n".join(errors)


def test_the_compose_check_catches_a_wrong_field() -> None:
    bad = compose()
    bad["services"]["gateway"]["depends_on"]["kafka"]["condition"] = "service_ready"
    assert list(validator().iter_errors(bad))
    bad = compose()
    bad["services"]["redis"]["healtcheck"] = {}
    assert list(validator().iter_errors(bad))


def test_every_service_is_health_checked_and_starts_after_what_it_needs() -> None:
    services = compose()["services"]
    for name in ("kafka", "redis", *SIGAP_SERVICES):
        assert services[name]["healthcheck"]["test"], name
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for name in SIGAP_SERVICES:
        assert services[name]["depends_on"] == {
            "topics": {"condition": "service_completed_successfully"},
            "kafka": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }, name
    assert services["topics"]["command"] == ["python", "-m", "services.common.topics"]


def test_kafka_keeps_its_data_on_the_volume_and_redis_has_a_password_and_aof() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in kafka["volumes"]}
    assert mounts[kafka["environment"]["KAFKA_LOG_DIRS"]] == "kafka-data"
    redis = services["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "requirepass" in command
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert "/data" in {v.split(":")[1] for v in redis["volumes"]}
    assert services["gateway"]["environment"]["SIGAP_REDIS_URL"].startswith(
        "redis://default:${REDIS_PASSWORD"
    )


def test_secrets_come_from_the_env_file_never_from_compose_yaml() -> None:
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET.search(key):
                assert "${" in str(value), f"{name}: {key} is written into compose.yaml"


def _stages() -> list[list[str]]:
    stages: list[list[str]] = []
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text("utf-8"))
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_pins_its_base_and_runs_without_root_or_pip() -> None:
    text = DOCKERFILE.read_text("utf-8")
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert re.fullmatch(r"python:3\.12-slim-bookworm@sha256:[0-9a-f]{64}", base)
    stages = _stages()
    assert len(stages) >= 2, "multi-stage"
    assert all(s[0] in ("FROM ${PYTHON_IMAGE} AS build", "FROM ${PYTHON_IMAGE}") for s in stages)
    build, final = "\n".join(stages[0]), "\n".join(stages[-1])
    assert "--require-hashes" in build and "requirements.lock" in build
    assert "pip install" not in final and "pip wheel" not in final
    assert "pip uninstall --yes pip" in final and "ensurepip" in final
    (user,) = re.findall(r"^USER (\S+)$", final, re.M)
    assert not user.startswith(("0", "root"))
    assert "HEALTHCHECK" in final and "services.common.healthcheck" in final
    ignore = (REPO / ".dockerignore").read_text("utf-8").splitlines()
    assert ignore[ignore.index("*")] == "*", "the context is an allow-list"
    assert not {".venv/", ".data/", "tests/", ".git/"} & {
        line.lstrip("!") for line in ignore if line.startswith("!")
    }


def _lock() -> dict[str, str]:
    text = LOCK.read_text("utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    pins: dict[str, str] = {}
    for entry in entries:
        name, version = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", entry).groups()  # type: ignore[union-attr]
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{name} has no hash"
        pins[name.lower().replace("_", "-")] = version
    return pins


def test_lock_pins_every_dependency_with_hashes_as_the_suite_runs_them() -> None:
    pins = _lock()
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    for requirement in project["dependencies"]:
        name, version = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", requirement).groups()  # type: ignore[union-attr]
        assert pins.get(name.lower().replace("_", "-")) == version, requirement
    for name, version in pins.items():
        assert metadata.version(name) == version, f"{name}: lock {version}, venv {metadata.version(name)}"
    closure = _requirements_closure([r.split("==")[0] for r in project["dependencies"]])
    assert closure <= set(pins), f"not locked: {sorted(closure - set(pins))}"


def _requirements_closure(roots: list[str]) -> set[str]:
    """Every distribution the runtime dependencies need, from the installed metadata (extras off)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [r.lower().replace("_", "-") for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name.lower().replace("_", "-"))
    return seen


def test_healthcheck_command(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from services.common.healthcheck import main

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert main([f"{base}/healthz"]) == 0
        assert main([f"{base}/readyz"]) == 1
        assert main(["file:///etc/passwd"]) == 1
    finally:
        server.shutdown()
    assert main(["http://127.0.0.1:1/healthz"]) == 1
