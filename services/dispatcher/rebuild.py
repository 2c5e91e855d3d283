"""`sigap rebuild`: all of the dispatcher's Redis rebuilt from the topics (DESIGN.md §1).

1. Take the rebuild lock (`dsp:rebuild`) and delete the generation marker (`dsp:generation`): every
   worker stops acting (its candidate searches and saves refuse without the marker, `StoreNotReady`)
   and waits for the new generation.
2. Delete every key the dispatcher owns under the prefix (a stale Redis never mixes with the rebuilt
   one): `vol:*`, `volunteers`, `offer:*`, `incident:*`, `incidents:open|all`, `dsp:*` but the
   lock and the standby notices' dedupe sets.
3. The roster from the compacted `volunteers` topic (profiles, link generations, duty, location).
4. Every incident replayed from `incidents` (its report) and `dispatch-log` (the decisions; delivery
   times from the notifier's reports on `responses`), `services.dispatcher.replay`: never re-decided.
   Answers parked in Redis (`dsp:parked:*`, an answer that overtook its offer) are derived again:
   acknowledged answers on `responses` that no recorded decision has applied go back on `responses`
   for the incident's owner to decide (`services.dispatcher.unapplied`).
5. From those states: each volunteer's hold (offered / assigned, the offer and incident), deployments
   in the last 30 days and last deployment, rests given on release; every offer's read model; the
   deadlines of outstanding offers (those that passed during the outage expire at the next expiry
   tick and their slots are offered again); the incident states and read models; the understaffed
   registries.
6. Write the new generation marker and release the lock. The marker names the Redis process rebuilt
   (its `run_id`, `lua/generation.lua`): a process that restarted, or a replica Sentinel promoted, may
   lack the last writes acknowledged before, so the guard scripts and the workers treat a marker of
   another process as missing, and Redis is rebuilt from the topics before anyone acts on it. A rebuild
   during which the process changed writes no marker (`RebuildInterrupted`): the next one starts over.

Weather alerts (`alert:*`, `alerts:active`) are replayed from `weather-alerts` (banners only: no
standby notice is sent again). Not rebuilt (kept as they are): the standby notices' dedupe sets, the
gateway's and the notifier's keys (idempotency keys, BMKG dedupe, claims, rates, the outbox).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from aiokafka.structs import ConsumerRecord
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline

from schemas.envelope import Envelope, InvalidEvent, decode_event
from schemas.events import IncidentReported, Need, NotificationDelivered, Payload, VolunteerProfile
from schemas.vocabulary import AssignmentStatus, IncidentStatus
from services.common.base_settings import CommonSettings
from services.common.readmodels import Keys, change_notice
from services.common.redis import redis_for
from services.common.topics import DISPATCH_LOG, INCIDENTS, RESPONSES, WEATHER_ALERTS
from services.dispatcher.alerts import apply_alert
from services.dispatcher.incident import HOLDING, IncidentState
from services.dispatcher.marker import current_generation, redis_run_id, write_marker
from services.dispatcher.projection import incident_view
from services.dispatcher.ranking import FAIRNESS_WINDOW
from services.dispatcher.replay import Replayed, replay
from services.dispatcher.roster import RosterKeys, iso
from services.dispatcher.runcards import RunCards
from services.dispatcher.store import AlertStore, IncidentStore
from services.dispatcher.unapplied import Answer, committed_offsets, is_answer, put_back, unapplied
from services.dispatcher.volunteers import read_to_end, rebuild_roster

log = logging.getLogger(__name__)

LOCK_TTL_S = 600
CHUNK = 1000
A = AssignmentStatus


@dataclass
class RebuildReport:
    generation: str
    volunteers: int = 0
    incidents: int = 0
    open_incidents: int = 0
    holds: int = 0
    outstanding_offers: int = 0
    overdue_offers: int = 0
    resting: int = 0
    understaffed: int = 0
    answers_put_back: int = 0
    """acknowledged answers no recorded decision applied (parked when Redis was lost): on `responses`
    again (`unapplied`)"""
    double_booked: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    """seconds per step: delete, topics (roster applied while the incident topics are read), replay,
    incidents, volunteers"""

    def summary(self) -> str:
        return (
            f"generation {self.generation}: {self.volunteers} roster records, {self.incidents} incidents "
            f"({self.open_incidents} open, {self.understaffed} understaffed), {self.holds} volunteers "
            f"holding an offer or assignment, {self.outstanding_offers} offers outstanding "
            f"({self.overdue_offers} past their deadline: they expire now), {self.resting} resting, "
            f"{self.answers_put_back} answers put back on responses; "
            f"{self.seconds:.1f} s"
        )


async def rebuild(
    settings: CommonSettings,
    runcards: RunCards,
    *,
    now: datetime | None = None,
    redis: Redis | None = None,
    lock_token: str | None = None,
    only_if_missing: bool = False,
) -> RebuildReport | None:
    """Rebuild the dispatcher's Redis from the topics; None when another rebuild holds the lock.
    `lock_token`: the caller took the lock (`dsp:rebuild`) itself, under this value.
    `only_if_missing`: rebuild only if, with the lock taken, there is still no generation marker
    (None otherwise): a worker that found none must not wipe the Redis another worker has just
    rebuilt (two workers starting against an empty Redis rebuilt it one after the other)."""
    own_client = redis is None
    client = redis if redis is not None else redis_for(settings, "dispatcher")
    keys = RosterKeys(settings.redis_prefix)
    token = lock_token or uuid.uuid4().hex
    try:
        if lock_token is not None:
            if await client.get(keys.rebuild_lock) != lock_token:
                return None
        elif not await client.set(keys.rebuild_lock, token, nx=True, ex=LOCK_TTL_S):
            return None
        try:
            if only_if_missing and await current_generation(client, settings.redis_prefix) is not None:
                return None
            return await _rebuild(settings, runcards, client, now)
        finally:
            if await client.get(keys.rebuild_lock) == token:
                await client.delete(keys.rebuild_lock)
    finally:
        if own_client:
            await client.aclose()


async def wait_for_generation(redis: Redis, prefix: str, timeout_s: float = 600.0) -> str:
    """Wait until a rebuild (ours or another's) has written the generation marker."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await current_generation(redis, prefix)
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no rebuild finished within {timeout_s:.0f} s")


async def _rebuild(
    settings: CommonSettings, runcards: RunCards, redis: Redis, now: datetime | None
) -> RebuildReport:
    started = time.perf_counter()
    prefix = settings.redis_prefix
    own = RosterKeys(prefix)
    run_id = await redis_run_id(redis, prefix)  # the marker names it: another process is not rebuilt
    await redis.delete(own.generation)
    report = RebuildReport(generation="")
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        report.phases[name] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()

    await _delete_owned(redis, prefix)
    lap("delete")
    volunteers_done, (reports, logs, delivered, answers) = await asyncio.gather(
        rebuild_roster(settings), _read_incident_topics(settings)
    )
    report.volunteers = volunteers_done
    lap("topics")
    at = now or datetime.now(UTC)
    involved = {vid for records in logs.values() for vid in _volunteers_in(records)}
    roster = await _roster_rows(redis, prefix, involved)
    names = {vid: row[0].name for vid, row in roster.items()}

    def fallback(r: IncidentReported) -> list[Need]:
        return runcards.needs(r.type, r.severity)

    replayed: list[Replayed] = []
    for incident_id, records in logs.items():
        found = reports.get(incident_id)
        if found is None:
            log.warning(
                "incident %s: decisions on the log but no report on %s; skipped", incident_id, INCIDENTS
            )
            continue
        payload, reported_at = found
        replayed.append(
            replay(payload, reported_at, records, names=names, delivered=delivered, fallback_needs=fallback)
        )
    lap("replay")
    # read after the topics: an answer acknowledged meanwhile is at worst put back and found applied
    committed = await committed_offsets(settings, {a.partition for a in answers}) if answers else {}
    answers_back = unapplied(answers, {r.state.incident_id: r.state for r in replayed}, committed)
    await _write_incidents(redis, prefix, [r.state for r in replayed], report)
    lap("incidents")
    await _write_volunteers(redis, prefix, replayed, roster=roster, at=at, report=report)
    lap("volunteers")
    alerts = AlertStore(redis, prefix)
    for record in await _read_to_end(settings, WEATHER_ALERTS):
        event = _decode(record)
        if event is not None:
            await apply_alert(alerts, event, at)
    lap("alerts")
    await put_back(settings, answers_back)  # before the marker: its owner decides them once it acts
    report.answers_put_back = len(answers_back)
    report.generation = f"{at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
    await write_marker(redis, prefix, report.generation, run_id)
    report.seconds = time.perf_counter() - started
    log.info("dispatcher state rebuilt from the topics: %s", report.summary())
    return report


# --- reading the topics ---------------------------------------------------------------------


async def _read_to_end(settings: CommonSettings, name: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the topic up to its end offsets when reading began, in each partition's order."""
    return [r async for batch in read_to_end(settings, settings.topic(name), max_records=5000) for r in batch]


def _decode(record: ConsumerRecord[bytes, bytes]) -> Envelope[Payload] | None:
    if record.value is None:
        return None
    try:
        return decode_event(record.value)
    except InvalidEvent:
        return None  # the dispatcher dead-lettered it when it met it


async def _read_incident_topics(
    settings: CommonSettings,
) -> tuple[
    dict[str, tuple[IncidentReported, datetime]],
    dict[str, list[Envelope[Payload]]],
    dict[str, datetime],
    list[Answer],
]:
    """The reports (first per incident), each incident's decisions in order, delivery times by offer,
    the answers on `responses` (`unapplied`)."""
    incidents, decisions, responses = await asyncio.gather(
        _read_to_end(settings, INCIDENTS),
        _read_to_end(settings, DISPATCH_LOG),
        _read_to_end(settings, RESPONSES),
    )
    reports: dict[str, tuple[IncidentReported, datetime]] = {}
    for record in incidents:
        event = _decode(record)
        if event is not None and isinstance(event.payload, IncidentReported):
            reports.setdefault(event.payload.incident_id, (event.payload, event.occurred_at))
    logs: dict[str, list[Envelope[Payload]]] = defaultdict(list)
    for record in decisions:  # keyed by incident id: one partition holds an incident's, in order
        event = _decode(record)
        incident_id = getattr(event.payload, "incident_id", None) if event is not None else None
        if event is not None and isinstance(incident_id, str):
            logs[incident_id].append(event)
    delivered: dict[str, datetime] = {}
    answers: list[Answer] = []
    for record in responses:
        event = _decode(record)
        if event is not None and isinstance(event.payload, NotificationDelivered) and event.payload.offer_id:
            delivered.setdefault(event.payload.offer_id, event.occurred_at)
        elif event is not None and record.value is not None and is_answer(event):
            answers.append(Answer(record.partition, record.offset, record.key, record.value, event))
    return reports, logs, delivered, answers


def _volunteers_in(records: Iterable[Envelope[Payload]]) -> Iterable[str]:
    for record in records:
        vid = getattr(record.payload, "volunteer_id", None)
        if isinstance(vid, str):
            yield vid


# --- writing Redis --------------------------------------------------------------------------


def _owned(prefix: str, key: str) -> bool:
    rest = key[len(prefix) :]
    if rest.startswith("dsp:"):
        return not (rest.startswith("dsp:standby:") or rest == "dsp:rebuild")
    return rest.startswith(("vol:", "offer:", "incident:", "alert:")) or rest in (
        "volunteers",
        "incidents:open",
        "incidents:all",
        "alerts:active",
    )


async def _delete_owned(redis: Redis, prefix: str) -> int:
    doomed: list[str] = []
    deleted = 0
    async for key in redis.scan_iter(match=f"{_glob_escape(prefix)}*", count=5000):
        if _owned(prefix, str(key)):
            doomed.append(str(key))
        if len(doomed) >= CHUNK:
            deleted += int(await redis.unlink(*doomed))
            doomed.clear()
    if doomed:
        deleted += int(await redis.unlink(*doomed))
    return deleted


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


Row = tuple[VolunteerProfile, str, str]
"""a roster entry: profile, the geo keys it is indexed under while available, on duty ('1')"""


async def _roster_rows(redis: Redis, prefix: str, ids: Iterable[str]) -> dict[str, Row]:
    keys = Keys(prefix)
    wanted = sorted(ids)
    rows: dict[str, Row] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for vid in chunk:
                pipe.hmget(keys.volunteer(vid), "profile", "geo", "on_duty")
            fetched = await pipe.execute()
        for vid, (raw, geo, on_duty) in zip(chunk, fetched, strict=True):
            if raw:
                rows[vid] = (VolunteerProfile.model_validate_json(raw), geo or "", on_duty or "0")
    return rows


async def _write_incidents(
    redis: Redis, prefix: str, states: list[IncidentState], report: RebuildReport
) -> None:
    keys = Keys(prefix)
    store = IncidentStore(redis, prefix)
    for start in range(0, len(states), CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for state in states[start : start + CHUNK]:
                state.version = 1
                score = state.reported_at.timestamp()
                pipe.hset(
                    store.state_key(state.incident_id),
                    mapping={"version": 1, "state": state.model_dump_json()},
                )
                pipe.set(keys.incident(state.incident_id), incident_view(state).model_dump_json())
                pipe.zadd(keys.all_incidents, {state.incident_id: score})
                if state.status.is_open:
                    pipe.zadd(keys.open_incidents, {state.incident_id: score})
            await pipe.execute()
    await _publish(redis, keys.changes, [change_notice("incident", s.incident_id) for s in states])
    report.incidents = len(states)
    report.open_incidents = sum(1 for s in states if s.status.is_open)
    for state in states:
        if state.status == IncidentStatus.UNDERSTAFFED:
            kinds = list(dict.fromkeys(n.kind for n in state.needs if n.exhausted))
            await store.mark_understaffed(state.incident_id, state.reported_at, kinds)
            report.understaffed += 1


async def _publish(redis: Redis, channel: str, notices: list[str]) -> None:
    """Tell the boards what changed (redis-py refuses PUBLISH in a cluster pipeline)."""
    for start in range(0, len(notices), CHUNK):
        chunk = notices[start : start + CHUNK]
        if isinstance(redis, RedisCluster):  # one by one, as `Roster.apply_many` on a cluster
            for notice in chunk:
                await redis.publish(channel, notice)
            continue
        async with redis.pipeline(transaction=False) as pipe:
            for notice in chunk:
                pipe.publish(channel, notice)
            await pipe.execute()


@dataclass
class _Volunteer:
    hold: tuple[str, str, str, datetime] | None = None
    """(status: offered | assigned, incident id, offer id, offered at)"""
    deployments: list[datetime] = field(default_factory=list)
    rest_until: datetime | None = None


async def _write_volunteers(
    redis: Redis,
    prefix: str,
    replayed: list[Replayed],
    *,
    roster: dict[str, Row],
    at: datetime,
    report: RebuildReport,
) -> None:
    keys, own = Keys(prefix), RosterKeys(prefix)
    people: dict[str, _Volunteer] = defaultdict(_Volunteer)
    offers: list[tuple[str, str, str, str, datetime]] = []
    deadlines: dict[str, float] = {}
    for item in replayed:
        state = item.state
        for vid, until in item.rests.items():
            person = people[vid]
            person.rest_until = max(until, person.rest_until or until)
        for a in state.assignments:
            offers.append((a.offer_id, state.incident_id, a.volunteer_id, a.status.value, a.expires_at))
            if a.accepted_at is not None:
                people[a.volunteer_id].deployments.append(a.accepted_at)
            if not state.status.is_open or a.status not in HOLDING:
                continue
            status = "offered" if a.status == A.OFFERED else "assigned"
            person = people[a.volunteer_id]
            if person.hold is not None:  # never happens while rule 4 holds; keep the newest, say so
                report.double_booked.append(a.volunteer_id)
                log.error(
                    "volunteer %s holds two offers on the log: %s and %s",
                    a.volunteer_id,
                    person.hold[2],
                    a.offer_id,
                )
                if person.hold[3] > a.offered_at:
                    continue
            person.hold = (status, state.incident_id, a.offer_id, a.offered_at)
            if a.status == A.OFFERED:
                deadlines[a.offer_id] = a.expires_at.timestamp()
    report.outstanding_offers = len(deadlines)
    report.overdue_offers = sum(1 for ts in deadlines.values() if ts <= at.timestamp())
    writer = _VolunteerWriter(keys, own, at, report)
    for start in range(0, len(offers), CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for offer_id, incident_id, vid, status, expires_at in offers[start : start + CHUNK]:
                pipe.hset(
                    keys.offer(offer_id),
                    mapping={
                        "incident_id": incident_id,
                        "volunteer_id": vid,
                        "status": status,
                        "expires_at": iso(expires_at),
                    },
                )
            await pipe.execute()
    if deadlines:
        await redis.zadd(own.deadlines, deadlines)
    ids = [vid for vid in people if vid in roster]
    for start in range(0, len(ids), CHUNK):
        async with redis.pipeline(transaction=True) as pipe:  # with the geo index, as one
            for vid in ids[start : start + CHUNK]:
                writer.write(pipe, vid, people[vid], roster[vid])
            await pipe.execute()
    await _publish(redis, keys.changes, [change_notice("volunteer", vid) for vid in ids])


@dataclass
class _VolunteerWriter:
    keys: Keys
    own: RosterKeys
    at: datetime
    report: RebuildReport

    def write(self, pipe: Pipeline, vid: str, person: _Volunteer, row: Row) -> None:
        """One volunteer's hold, deployments and rest onto the roster entry the topic rebuilt."""
        _, geo, on_duty = row
        fields: dict[str, str] = {}
        if person.deployments:
            recent = sorted(t for t in person.deployments if t >= self.at - FAIRNESS_WINDOW)
            fields["deployments"] = orjson.dumps([iso(t) for t in recent]).decode()
            fields["last_deployed_at"] = iso(max(person.deployments))
        unavailable = False
        if person.rest_until is not None and person.rest_until > self.at:
            fields["rest_ts"] = repr(person.rest_until.timestamp())
            fields["resting_until"] = iso(person.rest_until)
            if person.hold is None:
                fields["status"] = "resting" if on_duty == "1" else "off_duty"
                pipe.zadd(self.own.resting, {vid: person.rest_until.timestamp()})
                unavailable = True
                self.report.resting += 1
        if person.hold is not None:
            status, incident_id, offer_id, _ = person.hold
            fields.update({"status": status, "incident_id": incident_id, "offer_id": offer_id})
            unavailable = True
            self.report.holds += 1
        if fields:
            pipe.hset(self.keys.volunteer(vid), items=[x for pair in fields.items() for x in pair])
        if unavailable:
            for key in filter(None, geo.split(",")):
                pipe.zrem(key, vid)
