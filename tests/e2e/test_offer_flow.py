"""End to end (DESIGN.md §3, §5): an incident posted on the API is matched by the real dispatcher, the
offer lands in the outbox through the real notifier, the volunteer accepts on the link page, and the
incident reads `staffed` on the API. All three services run as processes on the real Kafka and Redis."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from schemas.reference import kelurahan
from services.common.config import Settings
from tests.e2e.stack import (
    MANISRENGGO,
    OPERATOR,
    Stack,
    eventually,
    offer_messages,
    register_volunteers,
    start_stack,
    volunteer,
)
from tests.support.procs import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@pytest.fixture
def stack(topics: Settings, test_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    running = start_stack(test_env, tmp_path)
    yield running
    running.stop()


async def test_post_offer_accept_staffed(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        # two volunteers; V-002 lives nearer, so the dispatcher offers the one slot to V-002 first
        await register_volunteers(
            client, stack, [volunteer("V-001", dlat=0.01), volunteer("V-002", dlat=0.001)]
        )
        home = kelurahan(MANISRENGGO)
        posted = await client.post(
            "/api/v1/incidents",
            json={
                "type": "flood",
                "severity": "severe",
                "title": "Banjir di Manisrenggo",
                "location": {"lat": home.lat, "lon": home.lon},
                "needs": [{"unit": "tagana", "skill": "evacuation", "count": 1}],
            },
            headers={**OPERATOR, "Idempotency-Key": "e2e-1"},
        )
        assert posted.status_code == 202, posted.text
        incident_id = posted.json()["id"]

        messages = await eventually(
            lambda: offer_messages(client, incident_id), "an offer in the outbox", stack
        )
        assert len(messages) == 1  # one slot: one offer, never overstaffed
        offer = messages[0]
        assert offer["volunteer_id"] == "V-002"
        link = urlsplit(offer["response_url"])
        assert f"{link.scheme}://{link.netloc}" == stack.url

        # opening the link (as a chat app's preview would) changes nothing
        page = await client.get(link.path)
        assert page.status_code == 200
        assert "Terima tugas" in page.text
        incident: dict[str, Any] = (
            await client.get(f"/api/v1/incidents/{incident_id}", headers=OPERATOR)
        ).json()
        assert incident["status"] == "dispatching"
        assert [a["status"] for a in incident["assignments"]] == ["offered"]

        csrf = CSRF.search(page.text)
        assert csrf
        answer = await client.post(link.path, data={"action": "accept", "csrf": csrf.group(1)})
        assert answer.status_code == 303

        async def staffed() -> dict[str, Any] | None:
            doc = (await client.get(f"/api/v1/incidents/{incident_id}", headers=OPERATOR)).json()
            return doc if doc["status"] == "staffed" else None

        done = await eventually(staffed, "the incident to read staffed", stack)
        (accepted,) = done["assignments"]
        assert (accepted["volunteer_id"], accepted["status"]) == ("V-002", "accepted")
        assert done["needs"][0]["filled"] == 1 and done["needs"][0]["open"] == 0
        events = [t["event"] for t in done["timeline"]]
        for step in ("reported", "offered", "delivered", "accepted", "staffed"):
            assert step in events, events

        thanks = await client.get(f"{link.path}?done=accept")
        assert "Terima kasih" in thanks.text
        assert 'value="en_route"' in thanks.text
        volunteer_view = (await client.get("/api/v1/volunteers/V-002", headers=OPERATOR)).json()
        assert volunteer_view["status"] == "assigned"
        assert volunteer_view["active_incident_id"] == incident_id


async def test_make_demo_flow(stack: Stack) -> None:
    """What `make up` + `make demo` do: load the demo roster, post the Manisrenggo flood (its run card),
    and follow it until staffed, answering offers through their links (one decline, the rest accept)."""
    env = {
        **os.environ,
        **stack.env,
        "SIGAP_API_URL": stack.url,
        "SIGAP_API_KEY": "dev-operator-key",
        "SIGAP_ADMIN_KEY": "dev-admin-key",
    }

    async def sigap(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            *args,
            env=env,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode or 0, out.decode()

    code, out = await sigap("demo-roster", "load")
    assert code == 0, out
    assert "130 volunteers sent" in out
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:

        async def roster_loaded() -> bool:
            items = (await client.get("/api/v1/volunteers", headers=OPERATOR, params={"limit": 500})).json()
            return len(items["items"]) == 130

        await eventually(roster_loaded, "the demo roster in the read model", stack)
    code, out = await sigap("demo-roster", "load")
    assert "already loaded" in out
    code, out = await sigap("demo", "--timeout", "60")
    assert code == 0, out + stack.logs()
    assert "Kel. Manisrenggo" in out
    assert "→ status staffed" in out
    assert "taps “Tolak”" in out and "taps “Terima”" in out
    assert out.count("/r/") >= 8  # 7 offers of the flood/severe run card, plus the one after the decline
