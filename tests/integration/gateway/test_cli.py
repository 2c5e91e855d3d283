"""The `sigap` command line, run as a real process against the real broker, Redis and gateway."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

import pytest

from schemas.envelope import make_event
from schemas.events import (
    DeadLetter,
    IncidentCancelled,
    IncidentReported,
    VolunteerRegistered,
    VolunteerUpdated,
)
from services.common.kafka import new_producer, publish
from services.common.topics import DEAD_LETTERS, INCIDENTS, VOLUNTEERS
from services.gateway.roster_io import COLUMNS
from tests.integration.gateway.conftest import Gw, events_of, profile, read_topic, seed_volunteer
from tests.support.procs import REPO

pytestmark = pytest.mark.integration


async def sigap(gw: Gw, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """Run `python -m services.cli …` with the test's environment (its topics and key prefix)."""
    env = {
        **os.environ,
        "SIGAP_ENV": "test",
        "SIGAP_KAFKA_BOOTSTRAP": gw.settings.kafka_bootstrap,
        "SIGAP_REDIS_URL": gw.settings.redis_url,
        "SIGAP_TOPIC_PREFIX": gw.settings.topic_prefix,
        "SIGAP_REDIS_PREFIX": gw.settings.redis_prefix,
        "SIGAP_API_URL": gw.url,
        "SIGAP_API_KEY": "dev-operator-key",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env=env,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_help_lists_the_commands(gw: Gw) -> None:
    code, out, _ = await sigap(gw, "--help")
    assert code == 0
    for command in ("incident", "roster", "tail", "replay", "demo", "topics", "demo-roster"):
        assert command in out


async def test_incident_post_show_and_cancel_through_the_api(gw: Gw) -> None:
    code, out, err = await sigap(
        gw,
        "incident",
        "post",
        "--type",
        "fire",
        "--severity",
        "moderate",
        "--title",
        "Kebakaran rumah",
        "--kelurahan",
        "Manisrenggo",
        "--need",
        "tagana:first_aid:1",
        "--idempotency-key",
        "cli-1",
    )
    assert code == 0, err
    incident_id = out.strip()
    assert incident_id.startswith("INC-")
    code, again, _ = await sigap(
        gw,
        "incident",
        "post",
        "--type",
        "fire",
        "--severity",
        "moderate",
        "--title",
        "Kebakaran rumah",
        "--kelurahan",
        "Manisrenggo",
        "--need",
        "tagana:first_aid:1",
        "--idempotency-key",
        "cli-1",
    )
    assert again.strip() == incident_id
    reported = events_of(await read_topic(gw.settings, INCIDENTS, expect=1))
    assert len(reported) == 1
    assert isinstance(reported[0].payload, IncidentReported)
    assert reported[0].payload.kelurahan_code == "35.71.02.1015"

    code, _, err = await sigap(gw, "incident", "show", incident_id)
    assert code == 1
    assert "404 not_found" in err  # the dispatcher (not running here) has not materialised it
    code, _, err = await sigap(
        gw,
        "incident",
        "post",
        "--type",
        "flood",
        "--severity",
        "minor",
        "--title",
        "x",
        "--lat",
        "-7.8",
        "--lon",
        "112.0",
    )
    assert code == 1
    assert "title" in err  # the 422 names the field


async def test_roster_import_reports_rejected_rows_and_produces_the_rest(gw: Gw, tmp_path: Path) -> None:
    await seed_volunteer(gw, profile("V-002"))  # already known: it will be an update
    rows = [",".join(COLUMNS)]
    for n in range(1, 6):
        rows.append(
            f"V-{n:03d},Relawan {n},0813-2000-{n:04d},tagana,evacuation,,35.71.01.1001,,,"
            f"whatsapp:0813-2000-{n:04d},true,id"
        )
    rows.insert(3, "V-900,Tanpa Nomor,,tagana,evacuation,,35.71.01.1001,,,sms:0812,true,id")
    rows.append("V-901,Salah Unit,0813-2000-9999,pemadam,evacuation,,35.71.01.1001,,,outbox:V-901,true,id")
    path = tmp_path / "roster.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    code, out, err = await sigap(gw, "roster", "import", str(path), "--batch-size", "2")
    assert code == 1  # some rows were rejected
    assert "7 row(s), 5 valid, 2 rejected" in err
    assert "line 4 (V-900)" in err and "phone" in err
    assert "line 8 (V-901)" in err and "unit" in err
    assert "[####" in err  # progress for a file larger than one batch
    assert "imported 5: 4 registered, 1 updated; 2 rejected" in out

    records = await read_topic(gw.settings, VOLUNTEERS, expect=5)
    assert sorted(r.key for r in records) == [f"V-{n:03d}".encode() for n in range(1, 6)]
    kinds = {e.payload.profile.volunteer_id: type(e.payload) for e in events_of(records)}  # type: ignore[attr-defined]
    assert kinds["V-002"] is VolunteerUpdated
    assert kinds["V-001"] is VolunteerRegistered

    code, _, err = await sigap(gw, "roster", "import", str(path), "--dry-run")
    assert "dry run" in err
    assert len(await read_topic(gw.settings, VOLUNTEERS, expect=5)) == 5


async def test_roster_export_round_trips(gw: Gw, tmp_path: Path) -> None:
    for ident in ("V-010", "V-011"):
        await seed_volunteer(gw, profile(ident))
    out_file = tmp_path / "export.csv"
    code, _, err = await sigap(gw, "roster", "export", str(out_file))
    assert code == 0, err
    lines = out_file.read_text("utf-8").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert [line.split(",")[0] for line in lines[1:]] == ["V-010", "V-011"]
    code, _, err = await sigap(gw, "roster", "import", str(out_file), "--dry-run")
    assert code == 0 and "2 valid, 0 rejected" in err


async def test_tail_prints_one_line_per_event(gw: Gw) -> None:
    producer = new_producer(gw.settings.kafka_bootstrap)
    await producer.start()
    try:
        await publish(
            producer, gw.topic(INCIDENTS), make_event(IncidentCancelled(incident_id="INC-T1"), source="t")
        )
        await publish(
            producer, gw.topic(INCIDENTS), make_event(IncidentCancelled(incident_id="INC-T2"), source="t")
        )
    finally:
        await producer.stop()
    code, out, err = await sigap(gw, "tail", "--from-beginning", "--topic", "incidents", "--count", "2")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert all("incident.cancelled" in line for line in lines)
    assert {"incident_id=INC-T1", "incident_id=INC-T2"} <= set(" ".join(lines).split())


async def test_replay_dead_letters_sends_fixed_records_back(gw: Gw) -> None:
    original = make_event(IncidentCancelled(incident_id="INC-DL"), source="t")
    letter = make_event(
        DeadLetter(
            topic=gw.topic(INCIDENTS),
            key="INC-DL",
            reason="the consumer crashed",
            original_base64=base64.b64encode(original.to_json()).decode(),
            original_event_type="incident.cancelled",
            consumer="dispatcher",
        ),
        source="t",
    )
    poison = make_event(
        DeadLetter(
            topic=gw.topic(INCIDENTS), reason="not json", original_base64=base64.b64encode(b"{oops").decode()
        ),
        source="t",
    )
    producer = new_producer(gw.settings.kafka_bootstrap)
    await producer.start()
    try:
        await publish(producer, gw.topic(DEAD_LETTERS), letter)
        await publish(producer, gw.topic(DEAD_LETTERS), poison)
    finally:
        await producer.stop()

    code, out, err = await sigap(gw, "replay", "dead-letters", "--dry-run")
    assert "would replay dead letter" in out
    assert code == 0, err
    assert "1 to replay" in err and "still invalid" in err
    assert len(await read_topic(gw.settings, INCIDENTS, expect=0, timeout_s=1)) == 0
    code, _, err = await sigap(gw, "replay", "dead-letters")
    assert code == 0, err
    replayed = await read_topic(gw.settings, INCIDENTS, expect=1)
    assert len(replayed) == 1
    assert replayed[0].key == b"INC-DL"
    assert replayed[0].value == original.to_json()  # the same bytes, so consumers dedupe by event id


async def test_roster_rebuild_materialises_the_topic_into_redis(gw: Gw) -> None:
    producer = new_producer(gw.settings.kafka_bootstrap)
    await producer.start()
    try:
        await publish(
            producer,
            gw.topic(VOLUNTEERS),
            make_event(VolunteerRegistered(profile=profile("V-777")), source="t"),
        )
    finally:
        await producer.stop()
    assert not await gw.redis.sismember(gw.keys.volunteers, "V-777")
    code, out, err = await sigap(gw, "roster", "rebuild")
    assert code == 0, err
    assert "roster rebuilt" in out
    assert await gw.redis.sismember(gw.keys.volunteers, "V-777")
    shown = await gw.client.get(
        "/api/v1/volunteers/V-777", headers={"Authorization": "Bearer dev-operator-key"}
    )
    assert shown.json()["name"] == "Siti Rahayu"


async def test_replay_topic_re_produces_a_range_of_one_partition(gw: Gw) -> None:
    events = [
        make_event(IncidentCancelled(incident_id="INC-RT", reason=f"r{n}"), source="t") for n in range(3)
    ]
    producer = new_producer(gw.settings.kafka_bootstrap)
    await producer.start()
    try:
        for event in events:  # one key: one partition, in order
            await publish(producer, gw.topic(INCIDENTS), event)
    finally:
        await producer.stop()
    partition = (await read_topic(gw.settings, INCIDENTS, expect=3))[0].partition

    code, out, err = await sigap(
        gw, "replay", "topic", "incidents", "--partition", str(partition), "--start-offset", "1", "--dry-run"
    )
    assert code == 0, err
    assert f"2 record(s) from {gw.topic(INCIDENTS)} → {gw.topic(INCIDENTS)}" in err
    assert out.splitlines() == [f"  would replay {partition}:{n} incident.cancelled" for n in (1, 2)]
    assert len(await read_topic(gw.settings, INCIDENTS, expect=3, timeout_s=1)) == 3

    code, out, err = await sigap(
        gw,
        "replay",
        "topic",
        "incidents",
        "--partition",
        str(partition),
        "--start-offset",
        "1",
        "--end-offset",
        "2",
    )
    assert code == 0, err
    assert f"replayed 1 record(s) onto {gw.topic(INCIDENTS)}" in out
    records = await read_topic(gw.settings, INCIDENTS, expect=4)
    assert [r.value for r in records] == [e.to_json() for e in events] + [events[1].to_json()]

    code, _, err = await sigap(gw, "replay", "topic", "orders")
    assert code == 1 and "sigap: unknown topic 'orders'" in err


async def test_rebuild_makes_the_dispatchers_redis_whole_from_the_topics(gw: Gw) -> None:
    producer = new_producer(gw.settings.kafka_bootstrap)
    await producer.start()
    try:
        for ident in ("V-778", "V-779"):
            await publish(
                producer,
                gw.topic(VOLUNTEERS),
                make_event(VolunteerRegistered(profile=profile(ident)), source="t"),
            )
    finally:
        await producer.stop()
    code, out, err = await sigap(gw, "rebuild")
    assert code == 0, err
    assert f"rebuilding the dispatcher's Redis ({gw.settings.redis_prefix!r})" in err
    assert out.startswith("rebuilt: generation ") and ": 2 roster records, 0 incidents" in out
    assert await gw.redis.smembers(gw.keys.volunteers) == {"V-778", "V-779"}
    code, _, err = await sigap(gw, "rebuild", "--runcards", "/nonexistent/runcards.toml")
    assert code == 1
    assert (
        err.startswith("sigap: cannot read run cards /nonexistent/runcards.toml") and "Traceback" not in err
    )
