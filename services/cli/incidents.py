"""`sigap incident post|show|list|cancel|close`, through the gateway's HTTP API."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

from schemas import reference
from services.cli.api import add_api_options, api_for
from services.cli.console import err, fail, wib


def kelurahan_code(text: str) -> str:
    """The code of a kelurahan given by code or by name (any case)."""
    if text in reference.all_kelurahan():
        return text
    matches = [k.code for k in reference.all_kelurahan().values() if k.name.lower() == text.strip().lower()]
    if not matches:
        fail(f"unknown kelurahan {text!r} (a name such as Manisrenggo or a code such as 35.71.02.1004)")
    return matches[0]


def parse_need(text: str) -> dict[str, Any]:
    """`unit:count` or `unit:skill:count` as the API's need."""
    parts = text.split(":")
    if len(parts) == 2:
        unit, count = parts
        skill = None
    elif len(parts) == 3:
        unit, skill, count = parts
    else:
        fail(f"--need {text!r}: expected unit:count or unit:skill:count (tagana:water_rescue:2)")
    try:
        return {"unit": unit, "skill": skill or None, "count": int(count)}
    except ValueError:
        fail(f"--need {text!r}: the count must be a number")


def print_incident(doc: dict[str, Any]) -> None:
    print(f"{doc['id']}  {doc['type']} ({doc['severity']}) — {doc['title']}")
    print(
        f"  status {doc['status']} · Kel. {doc.get('kelurahan_name') or doc['kelurahan_code']}"
        f", Kec. {doc.get('kecamatan_name', '-')} · reported {wib(doc['reported_at'])}"
    )
    if doc.get("needs"):
        print("  needs:")
        for need in doc["needs"]:
            what = need["unit"] + (f"/{need['skill']}" if need.get("skill") else "")
            print(
                f"    {what:<28} filled {need['filled']}/{need['count']}"
                f"  offered {need['offered']}  open {need['open']}"
            )
    if doc.get("assignments"):
        print("  assignments:")
        for a in doc["assignments"]:
            who = f"{a['volunteer_id']} {a.get('volunteer_name', '')}".strip()
            what = a["unit"] + (f"/{a['skill']}" if a.get("skill") else "")
            print(
                f"    {a['offer_id']:<24} {who:<28} {what:<24} {a['status']:<9} {a['distance_km']:.1f} km"
                f"  offered {wib(a['offered_at'], True)}  answered {wib(a.get('responded_at'), True)}"
            )
    if doc.get("timeline"):
        print("  timeline:")
        for t in doc["timeline"]:
            print(f"    {wib(t['at'], True)}  {t['event']}{' — ' + t['detail'] if t.get('detail') else ''}")


def incident_body(args: argparse.Namespace) -> dict[str, Any]:
    """The `POST /api/v1/incidents` body of `sigap incident post`'s options."""
    if args.kelurahan:
        code = kelurahan_code(args.kelurahan)
        kel = reference.kelurahan(code)
        lat = args.lat if args.lat is not None else kel.lat
        lon = args.lon if args.lon is not None else kel.lon
    elif args.lat is not None and args.lon is not None:
        code, lat, lon = None, args.lat, args.lon
    else:
        fail("give --kelurahan, or --lat and --lon")
    body: dict[str, Any] = {
        "type": args.type,
        "severity": args.severity,
        "title": args.title,
        "description": args.description or "",
        "location": {"lat": lat, "lon": lon},
    }
    if code:
        body["kelurahan_code"] = code
    if args.affected is not None:
        body["affected_people"] = args.affected
    if args.need:
        body["needs"] = [parse_need(n) for n in args.need]
    return body


async def post(args: argparse.Namespace) -> int:
    body = incident_body(args)
    key = args.idempotency_key or uuid.uuid4().hex
    # the Idempotency-Key makes the retries safe: one incident however many attempts reach the broker
    answer = await api_for(args).call(
        "POST", "/api/v1/incidents", json=body, headers={"Idempotency-Key": key}, retries=3
    )
    print(answer["id"])
    return 0


async def show(args: argparse.Namespace) -> int:
    doc = await api_for(args).call("GET", f"/api/v1/incidents/{args.id}")
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_incident(doc)
    return 0


async def list_incidents(args: argparse.Namespace) -> int:
    params = {"status": args.status} if args.status else {}
    items = (await api_for(args).call("GET", "/api/v1/incidents", params=params))["items"]
    if args.json:
        print(json.dumps(items, indent=2, ensure_ascii=False))
        return 0
    for doc in items:
        filled = sum(n["filled"] for n in doc["needs"])
        wanted = sum(n["count"] for n in doc["needs"])
        print(
            f"{doc['id']}  {doc['status']:<12} {doc['type']:<16} {doc['severity']:<8} "
            f"{filled}/{wanted:<3} {doc.get('kelurahan_name', ''):<14} {doc['title']}"
        )
    if not items:
        err("no incidents")
    return 0


async def cancel(args: argparse.Namespace) -> int:
    await api_for(args).call(
        "POST", f"/api/v1/incidents/{args.id}/cancel", json={"reason": args.reason or ""}
    )
    print(f"{args.id}: cancel sent")
    return 0


async def close(args: argparse.Namespace) -> int:
    await api_for(args).call("POST", f"/api/v1/incidents/{args.id}/close", json={"note": args.note or ""})
    print(f"{args.id}: close sent")
    return 0


def add_parsers(sub: Any) -> None:
    incident = sub.add_parser("incident", help="post, show, list, cancel or close incidents")
    actions = incident.add_subparsers(dest="action", required=True, metavar="ACTION")
    posting = actions.add_parser("post", help="report an incident")
    posting.add_argument("--type", required=True, help="flood, flash_flood, landslide, whirlwind, fire, …")
    posting.add_argument("--severity", required=True, choices=["minor", "moderate", "severe", "extreme"])
    posting.add_argument("--title", required=True)
    posting.add_argument("--description")
    posting.add_argument("--kelurahan", help="name or code; its centroid is the location unless --lat/--lon")
    posting.add_argument("--lat", type=float)
    posting.add_argument("--lon", type=float)
    posting.add_argument("--affected", type=int, help="people affected")
    posting.add_argument("--need", action="append", help="unit[:skill]:count, repeatable (else the run card)")
    posting.add_argument("--idempotency-key", help="retrying with the same key answers the same id")
    posting.set_defaults(coro=post)
    showing = actions.add_parser("show", help="an incident with needs, assignments and timeline")
    showing.add_argument("id")
    showing.add_argument("--json", action="store_true")
    showing.set_defaults(coro=show)
    listing = actions.add_parser("list", help="incidents, newest first")
    listing.add_argument(
        "--status", help="open, reported, dispatching, staffed, understaffed, closed, cancelled"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(coro=list_incidents)
    cancelling = actions.add_parser("cancel", help="cancel an open incident")
    cancelling.add_argument("id")
    cancelling.add_argument("--reason")
    cancelling.set_defaults(coro=cancel)
    closing = actions.add_parser("close", help="close an open incident")
    closing.add_argument("id")
    closing.add_argument("--note")
    closing.set_defaults(coro=close)
    for p in (posting, showing, listing, cancelling, closing):
        add_api_options(p)
