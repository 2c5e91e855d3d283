"""The whole Sigap stack as real processes for end-to-end tests: dispatcher, notifier and gateway, on the
real Kafka broker and Redis, with the test's own topic and key prefixes and free ports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from schemas.reference import kelurahan
from tests.support import waiting
from tests.support.procs import ServiceProcess, free_port

OPERATOR = {"Authorization": "Bearer dev-operator-key"}
COORDINATOR = {"Authorization": "Bearer dev-coordinator-key"}
ADMIN = {"Authorization": "Bearer dev-admin-key"}
MANISRENGGO = "35.71.02.1015"

T = TypeVar("T")


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    procs: list[ServiceProcess] = field(default_factory=list)

    def logs(self) -> str:
        return "\n\n".join(f"--- {' '.join(p.args)}\n{p.log_tail(40)}" for p in self.procs)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def start_stack(test_env: dict[str, str], tmp_path: Path, **extra: str) -> Stack:
    http_port, dispatcher_port, notifier_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{http_port}"
    (tmp_path / "faust").mkdir(exist_ok=True)
    env = {
        **test_env,
        "SIGAP_HTTP_PORT": str(http_port),
        "SIGAP_PUBLIC_URL": url,
        "SIGAP_DISPATCHER_PORT": str(dispatcher_port),
        "SIGAP_NOTIFIER_PORT": str(notifier_port),
        "SIGAP_DATA_DIR": str(tmp_path),
        "SIGAP_CHANNELS": "outbox",
        **extra,
    }
    stack = Stack(url, env)
    specs = [
        (
            ["-m", "services.dispatcher", "worker", "-l", "info"],
            f"http://127.0.0.1:{dispatcher_port}/healthz",
        ),
        (["-m", "services.notifier", "worker", "-l", "info"], f"http://127.0.0.1:{notifier_port}/healthz"),
        (["-m", "services.gateway"], f"{url}/readyz"),
    ]
    try:
        for args, _ in specs:
            name = args[1].rsplit(".", 1)[-1]
            stack.procs.append(ServiceProcess(args, env, tmp_path / f"{name}.log").start())
        for proc, (_, health) in zip(stack.procs, specs, strict=True):
            proc.wait_http(health, timeout_s=90)
    except BaseException:
        stack.stop()
        raise
    return stack


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, stack: Stack, timeout_s: float = 45
) -> T:
    """Poll `check` until it returns something truthy (the stack's logs when it never does)."""
    try:
        value: T = await waiting.eventually(check, timeout_s, what, every_s=0.25)
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}\n{stack.logs()}") from None
    return value


def volunteer(ident: str, *, dlat: float = 0.0, skills: tuple[str, ...] = ("evacuation",)) -> dict[str, Any]:
    home = kelurahan(MANISRENGGO)
    return {
        "id": ident,
        "name": f"Relawan {ident}",
        "phone": f"0813-4000-{int(ident[-3:]):04d}",
        "unit": "tagana",
        "skills": list(skills),
        "home_kelurahan_code": MANISRENGGO,
        "location": {"lat": round(home.lat + dlat, 6), "lon": home.lon},
        "channels": [{"type": "outbox", "address": ident}],
        "on_duty": True,
    }


async def register_volunteers(client: httpx.AsyncClient, stack: Stack, people: list[dict[str, Any]]) -> None:
    for person in people:
        answer = await client.post("/api/v1/volunteers", json=person, headers=COORDINATOR)
        assert answer.status_code == 202, answer.text
    wanted = {p["id"] for p in people}

    async def roster_ready() -> bool:
        items = (await client.get("/api/v1/volunteers", headers=OPERATOR)).json()["items"]
        return wanted <= {v["id"] for v in items if v["status"] == "available"}

    await eventually(roster_ready, "the dispatcher to materialise the roster", stack)


async def offer_messages(client: httpx.AsyncClient, incident_id: str) -> list[dict[str, Any]]:
    items = (await client.get("/api/v1/outbox", headers=ADMIN)).json()["items"]
    return [m for m in items if m.get("incident_id") == incident_id and m["kind"] == "offer"]
