"""`sigap`: the command line of the ops room and its operators (DESIGN.md §5).

sigap incident post|show|list|cancel|close   through the HTTP API (key: --key or SIGAP_API_KEY)
sigap roster import FILE.csv | export FILE.csv | rebuild
sigap rebuild                                 all of the dispatcher's Redis from the topics
sigap tail [--from-beginning]                 one line per event on Sigap's topics
sigap replay dead-letters | topic NAME        re-produce records
sigap demo                                    a flood in Kelurahan Manisrenggo, followed live
sigap demo-roster load                        the demo volunteers of Kota Kediri
sigap topics                                  create the topics
sigap info                                    the board URL and the local API keys
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import inspect
import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx

from schemas import reference
from schemas.envelope import InvalidEvent, decode_event
from schemas.events import DeadLetter
from services.common.config import Settings, get_settings
from services.common.topics import DEAD_LETTERS, TOPICS, VOLUNTEERS

EXIT_USAGE = 2


def roster_columns() -> tuple[str, ...]:
    """The roster CSV's columns (the gateway's roster format, imported only when the help is built)."""
    from services.gateway.roster_io import COLUMNS

    return COLUMNS


EXIT_FAILED = 1
WIB_OFFSET_H = 7


class CliError(Exception):
    """A failure to report in one line (no traceback)."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- HTTP API ---------------------------------------------------------------------------------


def _local_key(settings: Settings, role: str) -> str | None:
    """On a local development stack the keys are in the settings; elsewhere they must be given."""
    if settings.env != "local":
        return None
    for key, key_role in settings.api_key_roles().items():
        if key_role == role:
            return key
    return None


class Api:
    def __init__(self, url: str, key: str | None) -> None:
        if not key:
            fail("an API key is needed: --key or SIGAP_API_KEY")
        self.client = httpx.Client(
            base_url=url.rstrip("/"), timeout=30.0, headers={"Authorization": f"Bearer {key}"}
        )

    def call(self, method: str, path: str, *, retries: int = 0, **kwargs: Any) -> Any:
        """One API call; `retries` repeats a safe or idempotent one after a 503 or a network error."""
        for attempt in range(retries + 1):
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == retries:
                    fail(f"cannot reach the gateway at {self.client.base_url}: {exc}")
                err(f"  gateway unreachable ({exc}); retrying…")
            else:
                if response.status_code != 503 or attempt == retries:
                    break
                err("  the gateway answered 503 (broker or store busy); retrying…")
            time.sleep(2.0 * (attempt + 1))
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                details = error.get("details")
                extra = ""
                if isinstance(details, list):
                    extra = "\n" + "\n".join(f"  {d.get('field')}: {d.get('message')}" for d in details)
                fail(f"{response.status_code} {error['code']}: {error['message']}{extra}")
            except (ValueError, KeyError, TypeError):
                fail(f"{response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None


def _api(args: argparse.Namespace, role: str = "operator") -> Api:
    settings = get_settings()
    key = args.key or os.environ.get("SIGAP_API_KEY") or _local_key(settings, role)
    return Api(args.url or _default_url(settings), key)


def _default_url(settings: Settings) -> str:
    return os.environ.get("SIGAP_API_URL") or f"http://{settings.http_host}:{settings.http_port}"


def _wib(text: str | None, seconds: bool = False) -> str:
    if not text:
        return "-"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    local = moment.timestamp() + WIB_OFFSET_H * 3600
    return time.strftime("%H:%M:%S" if seconds else "%d %b %H:%M", time.gmtime(local)) + (
        "" if seconds else " WIB"
    )


def _kelurahan_code(text: str) -> str:
    if text in reference.all_kelurahan():
        return text
    matches = [k.code for k in reference.all_kelurahan().values() if k.name.lower() == text.strip().lower()]
    if not matches:
        fail(f"unknown kelurahan {text!r} (a name such as Manisrenggo or a code such as 35.71.02.1004)")
    return matches[0]


def _need(text: str) -> dict[str, Any]:
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
        f", Kec. {doc.get('kecamatan_name', '-')} · reported {_wib(doc['reported_at'])}"
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
                f"  offered {_wib(a['offered_at'], True)}  answered {_wib(a.get('responded_at'), True)}"
            )
    if doc.get("timeline"):
        print("  timeline:")
        for t in doc["timeline"]:
            print(f"    {_wib(t['at'], True)}  {t['event']}{' — ' + t['detail'] if t.get('detail') else ''}")


def cmd_incident_post(args: argparse.Namespace) -> int:
    if args.kelurahan:
        code = _kelurahan_code(args.kelurahan)
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
        body["needs"] = [_need(n) for n in args.need]
    key = args.idempotency_key or uuid.uuid4().hex
    # the Idempotency-Key makes the retries safe: one incident however many attempts reach the broker
    answer = _api(args).call(
        "POST", "/api/v1/incidents", json=body, headers={"Idempotency-Key": key}, retries=3
    )
    print(answer["id"])
    return 0


def cmd_incident_show(args: argparse.Namespace) -> int:
    doc = _api(args).call("GET", f"/api/v1/incidents/{args.id}")
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_incident(doc)
    return 0


def cmd_incident_list(args: argparse.Namespace) -> int:
    params = {"status": args.status} if args.status else {}
    items = _api(args).call("GET", "/api/v1/incidents", params=params)["items"]
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


def cmd_incident_cancel(args: argparse.Namespace) -> int:
    _api(args).call("POST", f"/api/v1/incidents/{args.id}/cancel", json={"reason": args.reason or ""})
    print(f"{args.id}: cancel sent")
    return 0


def cmd_incident_close(args: argparse.Namespace) -> int:
    _api(args).call("POST", f"/api/v1/incidents/{args.id}/close", json={"note": args.note or ""})
    print(f"{args.id}: close sent")
    return 0


# --- Kafka and Redis --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _producer(settings: Settings) -> Any:
    from aiokafka.errors import KafkaError

    from services.common.kafka import new_producer

    producer = new_producer(settings.kafka_bootstrap, "sigap-cli", settings=settings)
    try:
        await asyncio.wait_for(producer.start(), 30)
    except (KafkaError, OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await producer.stop()
        fail(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}")
    try:
        yield producer
    finally:
        await producer.stop()


def _redis(settings: Settings) -> Any:
    from services.common.redis import redis_for

    return redis_for(settings)


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    err(f"  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")


async def _known_ids(settings: Settings) -> Callable[[list[str]], Any]:
    from redis.exceptions import RedisError

    from services.common.readmodels import Keys

    redis = _redis(settings)
    keys = Keys(settings.redis_prefix)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        # without the roster, a known volunteer's link generation cannot be carried over: a revoked
        # self-service link would become valid again
        fail(f"Redis unreachable at {settings.redis_url} ({exc}); nothing sent")

    from services.gateway.reads import ReadModels

    reads = ReadModels(redis, keys, lambda: datetime.now(UTC))

    async def known(ids: list[str]) -> list[int | None]:
        """For each id: None when not in the roster, else the volunteer's link generation (carried
        over, so an import never brings revoked self-service links back)."""
        entries = {e.profile.volunteer_id: e for e in await reads.roster(ids)}
        return [entries[i].link_generation if i in entries else None for i in ids]

    return known


async def _roster_import(args: argparse.Namespace) -> int:
    from services.gateway import roster_io

    settings = get_settings()
    path = Path(args.file)
    try:
        text = sys.stdin.read() if args.file == "-" else await asyncio.to_thread(path.read_text, "utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {args.file}: {exc}")
    parsed = roster_io.parse_csv(text.splitlines())
    total = len(parsed.profiles) + len(parsed.rejected)
    err(f"{args.file}: {total} row(s), {len(parsed.profiles)} valid, {len(parsed.rejected)} rejected")
    for row in parsed.rejected:
        err(f"  line {row.line}{' (' + row.volunteer_id + ')' if row.volunteer_id else ''}:")
        for message in row.errors:
            err(f"      {message}")
    if args.dry_run or not parsed.profiles:
        err("dry run: nothing sent" if args.dry_run else "nothing to send")
        return EXIT_FAILED if parsed.rejected else 0
    profiles = [p for _, p in parsed.profiles]
    known = await _known_ids(settings)
    async with _producer(settings) as producer:
        registered, updated = await roster_io.produce_profiles(
            producer,
            settings.topic(VOLUNTEERS),
            profiles,
            known=known,
            batch_size=args.batch_size,
            progress=_progress if len(profiles) > args.batch_size else None,
        )
    print(
        f"imported {len(profiles)}: {registered} registered, {updated} updated; "
        f"{len(parsed.rejected)} rejected"
    )
    return EXIT_FAILED if parsed.rejected else 0


async def _roster_export(args: argparse.Namespace) -> int:
    from services.common.readmodels import Keys
    from services.gateway import roster_io
    from services.gateway.reads import ReadModels

    settings = get_settings()
    redis = _redis(settings)
    try:
        entries = await ReadModels(redis, Keys(settings.redis_prefix), lambda: datetime.now(UTC)).roster()
    except Exception as exc:
        fail(f"cannot read the roster from Redis at {settings.redis_url}: {exc}")
    finally:
        await redis.aclose()
    text = "".join(roster_io.write_csv(e.profile for e in entries))
    if args.file == "-":
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(Path(args.file).write_text, text, "utf-8")
    err(f"exported {len(entries)} volunteer(s) to {args.file}")
    return 0


REBUILD_CANDIDATES = (
    ("services.dispatcher.volunteers", "rebuild_roster"),
    ("services.dispatcher.rebuild", "rebuild_roster"),
    ("services.dispatcher.rebuild", "rebuild"),
    ("services.dispatcher.roster", "rebuild_roster"),
    ("services.dispatcher.roster", "rebuild"),
)


async def _roster_rebuild(args: argparse.Namespace) -> int:
    settings = get_settings()
    for module_name, name in REBUILD_CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        rebuild = getattr(module, name, None)
        if rebuild is None:
            continue
        err(f"rebuilding the roster in Redis from {settings.topic(VOLUNTEERS)} ({module_name}.{name})…")
        result = rebuild(settings) if inspect.signature(rebuild).parameters else rebuild()
        if inspect.isawaitable(result):
            result = await result
        print(f"roster rebuilt: {result}" if result is not None else "roster rebuilt")
        return 0
    fail("the dispatcher's roster rebuild is not available in this installation")


async def _rebuild(args: argparse.Namespace) -> int:
    from services.common.redis import redis_for
    from services.dispatcher.rebuild import rebuild, wait_for_generation
    from services.dispatcher.runcards import load_runcards
    from services.dispatcher.settings import get_dispatcher_settings

    settings = get_settings()
    runcards = load_runcards(
        Path(args.runcards) if args.runcards else get_dispatcher_settings().runcards_file
    )
    err(f"rebuilding the dispatcher's Redis ({settings.redis_prefix!r}) from {settings.topic_prefix}*")
    report = await rebuild(settings, runcards)
    if report is None:
        err("another rebuild is under way (a worker found Redis empty); waiting for it")
        redis = redis_for(settings)
        try:
            generation = await wait_for_generation(redis, settings.redis_prefix)
        finally:
            await redis.aclose()
        print(f"rebuilt by another process: generation {generation}")
        return 0
    print(f"rebuilt: {report.summary()}")
    if report.double_booked:
        err(f"warning: the log shows volunteers with two holds: {', '.join(report.double_booked)}")
    return 0


# --- tail and replay --------------------------------------------------------------------------


def _topic_names(settings: Settings, names: list[str] | None) -> list[str]:
    known = [t.name for t in TOPICS]
    chosen = names or known
    out = []
    for name in chosen:
        short = name.removeprefix(settings.topic_prefix)
        if short not in known:
            fail(f"unknown topic {name!r} (known: {', '.join(known)})")
        out.append(settings.topic(short))
    return out


def summarise(raw: bytes | None) -> tuple[str, str]:
    """`(event_type, one-line summary)` of a record value."""
    if raw is None:
        return "(tombstone)", ""
    try:
        event = decode_event(raw)
    except InvalidEvent as exc:
        return "(invalid)", exc.reason[:200]
    payload = event.payload.model_dump(mode="json")
    if "profile" in payload:
        profile = payload.pop("profile")
        payload = {"volunteer_id": profile["volunteer_id"], "name": profile["name"], **payload}
    parts = []
    for key, value in payload.items():
        if isinstance(value, str | int | float | bool) and value not in ("", None) and len(str(value)) <= 60:
            parts.append(f"{key}={value}")
        if len(parts) == 6:
            break
    return event.event_type, " ".join(parts)


def _consumer(settings: Settings, topics: list[str], earliest: bool) -> Any:
    from aiokafka import AIOKafkaConsumer

    from services.common.kafka import security_options

    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if earliest else "latest",
        client_id="sigap-cli-tail",
        **security_options(settings),
    )


async def _tail(args: argparse.Namespace) -> int:
    settings = get_settings()
    topics = _topic_names(settings, args.topic)
    consumer = _consumer(settings, topics, args.from_beginning)
    await consumer.start()
    seen = 0
    try:
        err(
            f"tailing {', '.join(topics)} {'from the beginning' if args.from_beginning else 'from now'}"
            " (Ctrl-C stops)"
        )
        async for record in consumer:
            short = record.topic.removeprefix(settings.topic_prefix)
            if args.json:
                print(
                    json.dumps(
                        {
                            "topic": short,
                            "partition": record.partition,
                            "offset": record.offset,
                            "key": record.key.decode() if record.key else None,
                            "value": json.loads(record.value) if record.value else None,
                        }
                    ),
                    flush=True,
                )
            else:
                event_type, summary = summarise(record.value)
                at = datetime.fromtimestamp(record.timestamp / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
                print(f"{at} {short:<14} {event_type:<26} {summary}", flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break
    finally:
        await consumer.stop()
    return 0


async def _read_range(
    settings: Settings, topic: str, partition: int | None, start: int | None, end: int | None
) -> list[Any]:
    """The records of `topic` from `start` up to `end` (exclusive; default: the end now)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from services.common.kafka import security_options

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="sigap-cli-replay",
        **security_options(settings),
    )
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()  # aiokafka has no public metadata refresh
        parts = metadata.partitions_for_topic(topic)
        if not parts:
            fail(f"topic {topic} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(parts) if partition is None or p == partition]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        records = []
        for tp in tps:
            stop = min(ends[tp], end) if end is not None else ends[tp]
            if start is not None:
                consumer.seek(tp, start)
            else:
                await consumer.seek_to_beginning(tp)
            while await consumer.position(tp) < stop:
                batch = await consumer.getmany(tp, timeout_ms=2000, max_records=500)
                if not batch:
                    break
                for record in batch.get(tp, []):
                    if record.offset < stop:
                        records.append(record)
        return records
    finally:
        await consumer.stop()


async def _replay_dead_letters(args: argparse.Namespace) -> int:
    settings = get_settings()
    records = await _read_range(settings, settings.topic(DEAD_LETTERS), None, args.from_offset, None)
    replayable = []
    for record in records:
        try:
            event = decode_event(record.value)
        except InvalidEvent:
            continue
        if not isinstance(event.payload, DeadLetter):
            continue
        letter = event.payload
        original = base64.b64decode(letter.original_base64)
        if args.event_type and letter.original_event_type != args.event_type:
            continue
        try:
            decode_event(original)
            valid = True
        except InvalidEvent as exc:
            valid = False
            reason = exc.reason
        if not valid and not args.all:
            err(f"  skip offset {record.offset}: still invalid ({reason[:120]})")
            continue
        replayable.append((record.offset, letter, original))
        if args.limit and len(replayable) >= args.limit:
            break
    err(f"{len(records)} dead letter(s) read, {len(replayable)} to replay")
    if args.dry_run:
        for offset, letter, _ in replayable:
            print(
                f"  would replay dead letter {offset} → {letter.topic}"
                f" (key {letter.key}, {letter.original_event_type})"
            )
        return 0
    async with _producer(settings) as producer:
        for offset, letter, original in replayable:
            await producer.send_and_wait(
                letter.topic, original, key=letter.key.encode() if letter.key else None
            )
            print(f"replayed dead letter {offset} → {letter.topic}")
    if replayable:
        err(f"next time, start after offset {replayable[-1][0]}: --from-offset {replayable[-1][0] + 1}")
    return 0


async def _replay_topic(args: argparse.Namespace) -> int:
    settings = get_settings()
    source = _topic_names(settings, [args.topic])[0]
    target = _topic_names(settings, [args.to])[0] if args.to else source
    records = await _read_range(settings, source, args.partition, args.start_offset, args.end_offset)
    err(f"{len(records)} record(s) from {source} → {target}")
    if args.dry_run:
        for r in records:
            print(f"  would replay {r.partition}:{r.offset} {summarise(r.value)[0]}")
        return 0
    async with _producer(settings) as producer:
        futures = [await producer.send(target, r.value, key=r.key) for r in records]
        await asyncio.gather(*futures)
    print(f"replayed {len(records)} record(s) onto {target}")
    return 0


# --- topics, demo roster, info ----------------------------------------------------------------


async def _topics(args: argparse.Namespace) -> int:
    from services.common.topics import create_topics

    settings = get_settings()
    created = await create_topics(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        replication=settings.replication_factor,
        dispatch_log_retention_ms=settings.dispatch_log_retention_ms,
        settings=settings,
    )
    print(f"topics ready ({len(created)} created): {', '.join(settings.topic(t.name) for t in TOPICS)}")
    return 0


async def _demo_roster_load(args: argparse.Namespace) -> int:
    from services.gateway import demo_roster, roster_io

    settings = get_settings()
    profiles = demo_roster.profiles(date.today())  # noqa: DTZ011 - the local day sets certificate dates
    known = await _known_ids(settings)
    if not args.force:
        flags = await known([p.volunteer_id for p in profiles])
        fresh = [p for p, generation in zip(profiles, flags, strict=True) if generation is None]
        if not fresh:
            print(f"demo roster already loaded ({len(profiles)} volunteers); --force reloads it")
            return 0
        profiles = fresh
    async with _producer(settings) as producer:
        registered, updated = await roster_io.produce_profiles(
            producer, settings.topic(VOLUNTEERS), profiles, known=known
        )
    by_unit = Counter(u.label.split(" (")[0] for p in profiles for u in p.units)
    elements = ", ".join(f"{n} {name}" for name, n in by_unit.most_common())
    print(
        f"demo roster: {len(profiles)} volunteers sent ({registered} new, {updated} updated; "
        f"{elements}; {sum(len(p.units) > 1 for p in profiles)} of them in two units)"
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    settings = get_settings()
    print(f"board:   {settings.public_url.rstrip('/')}/board")
    print(f"API:     {settings.public_url.rstrip('/')}/docs")
    for key, role in settings.api_key_roles().items():
        print(f"{role + ' key:':<17}{key}" if settings.env == "local" else f"{role} key: (set)")
    return 0


# --- demo -------------------------------------------------------------------------------------

DEMO_KELURAHAN = "Manisrenggo"
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def _answer_link(url: str, action: str) -> str:
    """Answer through the volunteer's page, as a phone would: GET it, then POST the form."""
    with httpx.Client(timeout=15.0, follow_redirects=False) as client:
        page = client.get(url)
        match = _CSRF.search(page.text)
        if page.status_code != 200 or not match:
            return f"page answered {page.status_code}"
        answer = client.post(url, data={"action": action, "csrf": match.group(1)})
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

    def poll_incident(self) -> None:
        try:
            self.doc = self.ops.call("GET", f"/api/v1/incidents/{self.incident_id}")
        except CliError:
            return  # not materialised by the dispatcher yet
        assert self.doc is not None  # noqa: S101 - the gateway answered a document
        for entry in self.doc["timeline"][self.timeline_seen :]:
            detail = f" — {entry['detail']}" if entry.get("detail") else ""
            print(f"  {_wib(entry['at'], True)}  {entry['event']}{detail}")
        self.timeline_seen = len(self.doc["timeline"])
        if self.doc["status"] != self.status:
            self.status = self.doc["status"]
            print(f"  → status {self.status} after {time.monotonic() - self.started:.1f}s")

    def poll_outbox(self) -> None:
        if self.admin is None:
            return
        items = self.admin.call("GET", "/api/v1/outbox", params={"limit": 200})["items"]
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
                print(f"      the volunteer taps “{label}” on the page: {_answer_link(link, action)}")

    def finished(self) -> bool:
        status = self.doc["status"] if self.doc else ""
        return status in ("staffed", "closed", "cancelled") or (status == "understaffed" and not self.answer)


def cmd_demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = args.url or _default_url(settings)
    ops = Api(url, args.key or os.environ.get("SIGAP_API_KEY") or _local_key(settings, "operator"))
    admin_key = os.environ.get("SIGAP_ADMIN_KEY") or _local_key(settings, "admin")
    kel = reference.kelurahan(_kelurahan_code(DEMO_KELURAHAN))
    body: dict[str, Any] = {
        "type": "flood",
        "severity": "severe",
        "title": f"Banjir luapan Sungai Brantas di {kel.name}",
        "description": "Air 60–80 cm masuk permukiman di bantaran sungai; warga lansia perlu dievakuasi.",
        "location": {"lat": kel.lat, "lon": kel.lon},
        "affected_people": 120,
    }
    if args.needs:
        body["needs"] = [_need(n) for n in args.needs]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    incident_id = ops.call("POST", "/api/v1/incidents", json=body, headers=key)["id"]
    print(f"posted {incident_id}: flood (severe) in Kel. {kel.name}, Kec. {kel.kecamatan_name}")
    print(f"board: {settings.public_url.rstrip('/')}/board")
    watcher = DemoWatcher(ops, Api(url, admin_key) if admin_key else None, incident_id, not args.no_accept)
    deadline = watcher.started + args.timeout
    while time.monotonic() < deadline and not watcher.finished():
        watcher.poll_incident()
        watcher.poll_outbox()
        time.sleep(0.5)
    if watcher.doc is None:
        fail(f"{incident_id} never appeared: is the dispatcher running? (sigap tail shows the topics)")
    print()
    print_incident(watcher.doc)
    if watcher.doc["status"] != "staffed" and watcher.answer:
        err(f"the incident is {watcher.doc['status']} after {args.timeout:.0f}s")
        return EXIT_FAILED
    return 0


# --- argument parsing -------------------------------------------------------------------------


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="gateway base URL (default SIGAP_API_URL or SIGAP_HTTP_HOST:PORT)")
    parser.add_argument("--key", help="API key (default SIGAP_API_KEY; the local dev key on `make up`)")


def _incident_parsers(sub: Any) -> None:
    incident = sub.add_parser("incident", help="post, show, list, cancel or close incidents")
    actions = incident.add_subparsers(dest="action", required=True, metavar="ACTION")
    post = actions.add_parser("post", help="report an incident")
    post.add_argument("--type", required=True, help="flood, flash_flood, landslide, whirlwind, fire, …")
    post.add_argument("--severity", required=True, choices=["minor", "moderate", "severe", "extreme"])
    post.add_argument("--title", required=True)
    post.add_argument("--description")
    post.add_argument("--kelurahan", help="name or code; its centroid is the location unless --lat/--lon")
    post.add_argument("--lat", type=float)
    post.add_argument("--lon", type=float)
    post.add_argument("--affected", type=int, help="people affected")
    post.add_argument("--need", action="append", help="unit[:skill]:count, repeatable (else the run card)")
    post.add_argument("--idempotency-key", help="retrying with the same key answers the same id")
    post.set_defaults(func=cmd_incident_post)
    show = actions.add_parser("show", help="an incident with needs, assignments and timeline")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_incident_show)
    listing = actions.add_parser("list", help="incidents, newest first")
    listing.add_argument(
        "--status", help="open, reported, dispatching, staffed, understaffed, closed, cancelled"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_incident_list)
    cancel = actions.add_parser("cancel", help="cancel an open incident")
    cancel.add_argument("id")
    cancel.add_argument("--reason")
    cancel.set_defaults(func=cmd_incident_cancel)
    close = actions.add_parser("close", help="close an open incident")
    close.add_argument("id")
    close.add_argument("--note")
    close.set_defaults(func=cmd_incident_close)
    for p in (post, show, listing, cancel, close):
        _add_api_options(p)


def _roster_parsers(sub: Any) -> None:
    roster = sub.add_parser("roster", help="import or export the roster (CSV), rebuild it in Redis")
    actions = roster.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="validate a CSV and produce its volunteers to Kafka")
    imp.add_argument("file", help="CSV file ('-' for stdin); columns: " + ",".join(roster_columns()))
    imp.add_argument("--dry-run", action="store_true", help="validate only")
    imp.add_argument("--batch-size", type=int, default=500)
    imp.set_defaults(coro=_roster_import)
    exp = actions.add_parser("export", help="write the roster held in Redis as CSV")
    exp.add_argument("file", help="CSV file ('-' for stdout)")
    exp.set_defaults(coro=_roster_export)
    rebuild = actions.add_parser("rebuild", help="rebuild the roster in Redis from the volunteers topic")
    rebuild.set_defaults(coro=_roster_rebuild)
    demo_roster = sub.add_parser("demo-roster", help="the demo volunteers of Kota Kediri")
    demo_actions = demo_roster.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = demo_actions.add_parser("load", help="produce the demo roster (skips volunteers already loaded)")
    load.add_argument("--force", action="store_true", help="send every volunteer again")
    load.set_defaults(coro=_demo_roster_load)


def _log_parsers(sub: Any) -> None:
    tail = sub.add_parser("tail", help="print one line per event on Sigap's topics")
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument("--topic", action="append", help="only this topic (repeatable)")
    tail.add_argument("--count", type=int, help="stop after this many events")
    tail.add_argument("--json", action="store_true", help="whole records as JSON lines")
    tail.set_defaults(coro=_tail)
    replay = sub.add_parser("replay", help="re-produce dead letters or a range of a topic")
    actions = replay.add_subparsers(dest="action", required=True, metavar="ACTION")
    dead = actions.add_parser("dead-letters", help="send dead letters back to the topic they came from")
    dead.add_argument("--all", action="store_true", help="also those that still fail validation")
    dead.add_argument("--event-type", help="only dead letters of this event type")
    dead.add_argument("--from-offset", type=int, help="start at this dead-letters offset")
    dead.add_argument("--limit", type=int)
    dead.add_argument("--dry-run", action="store_true")
    dead.set_defaults(coro=_replay_dead_letters)
    rtopic = actions.add_parser("topic", help="re-produce a range of a topic (onto it or another)")
    rtopic.add_argument("topic")
    rtopic.add_argument("--to", help="target topic (default: the same)")
    rtopic.add_argument("--partition", type=int)
    rtopic.add_argument("--start-offset", type=int)
    rtopic.add_argument("--end-offset", type=int, help="exclusive")
    rtopic.add_argument("--dry-run", action="store_true")
    rtopic.set_defaults(coro=_replay_topic)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigap", description="Sigap — volunteer dispatch for Dinas Sosial Kota Kediri"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _incident_parsers(sub)
    _roster_parsers(sub)
    _log_parsers(sub)
    demo = sub.add_parser("demo", help="post a flood in Kelurahan Manisrenggo and follow it")
    demo.add_argument("--no-accept", action="store_true", help="only watch; nobody answers the offers")
    demo.add_argument("--needs", action="append", help="unit[:skill]:count instead of the run card")
    demo.add_argument("--timeout", type=float, default=90.0)
    _add_api_options(demo)
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("topics", help="create the topics that are missing").set_defaults(coro=_topics)
    rebuild = sub.add_parser(
        "rebuild",
        help="rebuild all of the dispatcher's Redis from the topics (after a Redis loss); workers "
        "pause while it runs",
    )
    rebuild.add_argument("--runcards", help="run-card file (default: the dispatcher's)")
    rebuild.set_defaults(coro=_rebuild)
    sub.add_parser("info", help="the board URL and the local API keys").set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "coro"):
            return int(asyncio.run(args.coro(args)))
        return int(args.func(args))
    except CliError as exc:
        err(f"sigap: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
