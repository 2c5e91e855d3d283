"""`sigap demo` (`make demo`): post a flood in Kelurahan Manisrenggo and follow it live: its timeline,
the messages of the outbox, and the offers answered through their links as a volunteer's phone would."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
import uuid
from typing import Any

import httpx

from schemas import reference
from services.cli.api import Api, add_api_options, default_url, local_key
from services.cli.console import EXIT_FAILED, CliError, err, fail, wib
from services.cli.incidents import kelurahan_code, parse_need, print_incident
from services.common.config import get_settings

DEMO_KELURAHAN = "Manisrenggo"
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


async def answer_link(url: str, action: str) -> str:
    """Answer through the volunteer's page, as a phone would: GET it, then POST the form."""
    async with httpx.AsyncClient(timeout=15.0, follow_redirects=False) as client:
        page = await client.get(url)
        match = _CSRF.search(page.text)
        if page.status_code != 200 or not match:
            return f"page answered {page.status_code}"
        answer = await client.post(url, data={"action": action, "csrf": match.group(1)})
        return "ok" if answer.status_code == 303 else f"POST answered {answer.status_code}"


class DemoWatcher:
    """Follows one incident: prints its timeline and the messages of the outbox, and answers offers
    through their links the way a volunteer's phone would (the first declines, the others accept)."""

    def __init__(self, ops: Api, admin: Api | None, incident_id: str, answer: bool) -> None:
        self.ops = ops
        self.admin = admin
        self.incident_id = incident_id
        self.answer = answer
        self.started = time.monotonic()
        self.timeline_seen = 0
        self.messages_seen: set[str] = set()
        self.answered: set[str] = set()
        self.status = ""
        self.doc: dict[str, Any] | None = None

    async def poll_incident(self) -> None:
        try:
            self.doc = await self.ops.call("GET", f"/api/v1/incidents/{self.incident_id}")
        except CliError:
            return  # not materialised by the dispatcher yet
        assert self.doc is not None  # noqa: S101 - the gateway answered a document
        for entry in self.doc["timeline"][self.timeline_seen :]:
            detail = f" — {entry['detail']}" if entry.get("detail") else ""
            print(f"  {wib(entry['at'], True)}  {entry['event']}{detail}")
        self.timeline_seen = len(self.doc["timeline"])
        if self.doc["status"] != self.status:
            self.status = self.doc["status"]
            print(f"  → status {self.status} after {time.monotonic() - self.started:.1f}s")

    async def poll_outbox(self) -> None:
        if self.admin is None:
            return
        items = (await self.admin.call("GET", "/api/v1/outbox", params={"limit": 200}))["items"]
        for message in reversed(items):
            if (
                message.get("incident_id") != self.incident_id
                or message["notification_id"] in self.messages_seen
            ):
                continue
            self.messages_seen.add(message["notification_id"])
            to = message.get("volunteer_id") or message["address"]
            print(f"  ✉ to {to} ({message['kind']}): {message['subject']}")
            link = message.get("response_url")
            if link:
                print(f"      {link}")
            if (
                link
                and self.answer
                and message["kind"] == "offer"
                and message["offer_id"] not in self.answered
            ):
                action = "accept" if self.answered else "decline"
                self.answered.add(message["offer_id"])
                label = "Terima" if action == "accept" else "Tolak"
                print(f"      the volunteer taps “{label}” on the page: {await answer_link(link, action)}")

    def finished(self) -> bool:
        status = self.doc["status"] if self.doc else ""
        return status in ("staffed", "closed", "cancelled") or (status == "understaffed" and not self.answer)


def flood_body(needs: list[str] | None) -> dict[str, Any]:
    """The demo's incident: a severe flood at the centroid of Kelurahan Manisrenggo."""
    kel = reference.kelurahan(kelurahan_code(DEMO_KELURAHAN))
    body: dict[str, Any] = {
        "type": "flood",
        "severity": "severe",
        "title": f"Banjir luapan Sungai Brantas di {kel.name}",
        "description": "Air 60–80 cm masuk permukiman di bantaran sungai; warga lansia perlu dievakuasi.",
        "location": {"lat": kel.lat, "lon": kel.lon},
        "affected_people": 120,
    }
    if needs:
        body["needs"] = [parse_need(n) for n in needs]
    return body


async def demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = args.url or default_url(settings)
    ops = Api(url, args.key or os.environ.get("SIGAP_API_KEY") or local_key(settings, "operator"))
    admin_key = os.environ.get("SIGAP_ADMIN_KEY") or local_key(settings, "admin")
    kel = reference.kelurahan(kelurahan_code(DEMO_KELURAHAN))
    body = flood_body(args.needs)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    incident_id = (await ops.call("POST", "/api/v1/incidents", json=body, headers=key))["id"]
    print(f"posted {incident_id}: flood (severe) in Kel. {kel.name}, Kec. {kel.kecamatan_name}")
    print(f"board: {settings.public_url.rstrip('/')}/board")
    watcher = DemoWatcher(ops, Api(url, admin_key) if admin_key else None, incident_id, not args.no_accept)
    deadline = watcher.started + args.timeout
    while time.monotonic() < deadline and not watcher.finished():
        await watcher.poll_incident()
        await watcher.poll_outbox()
        await asyncio.sleep(0.5)
    if watcher.doc is None:
        fail(f"{incident_id} never appeared: is the dispatcher running? (sigap tail shows the topics)")
    print()
    print_incident(watcher.doc)
    if watcher.doc["status"] != "staffed" and watcher.answer:
        err(f"the incident is {watcher.doc['status']} after {args.timeout:.0f}s")
        return EXIT_FAILED
    return 0


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser("demo", help="post a flood in Kelurahan Manisrenggo and follow it")
    parser.add_argument("--no-accept", action="store_true", help="only watch; nobody answers the offers")
    parser.add_argument("--needs", action="append", help="unit[:skill]:count instead of the run card")
    parser.add_argument("--timeout", type=float, default=90.0)
    add_api_options(parser)
    parser.set_defaults(coro=demo)
