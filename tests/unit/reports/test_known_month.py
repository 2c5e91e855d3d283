"""Every figure of the three reports for a known month (`month.py`), worked out by hand — and the
same figures whatever the order the events arrive in, or when each arrives twice."""

from __future__ import annotations

import csv
import io
import random
from datetime import date
from typing import Any

import pytest

from schemas.envelope import decode_event
from services.gateway.reports.csvout import daily_csv, duty_csv, response_times_csv
from services.gateway.reports.daily import daily_report
from services.gateway.reports.duty import duty_report
from services.gateway.reports.events import ReportEvent, decode, encode
from services.gateway.reports.ledger import Ledger
from services.gateway.reports.policy import Policy, day_period, month_period, range_period
from services.gateway.reports.response_times import response_times
from tests.unit.reports.month import NOW, known_month, needs_for, t

POLICY = Policy()  # Rp 100.000 per deployment day, 12 h cap, first offer within 60 s for 90 %


def fold(events: list[ReportEvent]) -> Ledger:
    ledger = Ledger(needs_for=needs_for)
    for event in events:
        ledger.apply(event)
    return ledger


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return fold(known_month())


def duty(ledger: Ledger) -> dict[str, Any]:
    return duty_report(ledger, "2026-11", month_period("2026-11"), POLICY, t(NOW))


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["volunteer_id"]: v for v in report["volunteers"]}


def test_the_builder_speaks_the_real_event_schemas() -> None:
    for event in known_month():
        decode_event(encode(event))  # issue 19's `incident.assessed` and `units` included
        assert decode(event.topic, encode(event)) == event


def test_duty_per_volunteer(ledger: Ledger) -> None:
    v = by_id(duty(ledger))
    assert set(v) == {"V-001", "V-002", "V-003", "V-004"}
    siti = v["V-001"]  # A and B on 3 Nov: two deployments, one day; D withdrawn
    assert (siti["name"], siti["units"]) == ("Siti Rahayu", ["tagana"])
    assert [siti[k] for k in ("offers", "accepted", "declined", "expired", "withdrawn", "late_answers")] == [
        3,
        2,
        0,
        0,
        1,
        0,
    ]
    assert (siti["deployments"], siti["deployment_days"], siti["deployment_dates"]) == (2, 1, ["2026-11-03"])
    assert (siti["hours_en_route"], siti["hours_on_scene"]) == (0.45, 6.0)  # 15+12 min; 4 h + 2 h
    assert siti["allowance"] == 100_000

    budi = v["V-002"]  # A4 accepted, B2 expired; E's 1 Nov counts as a day
    assert [budi[k] for k in ("offers", "accepted", "declined", "expired", "withdrawn", "late_answers")] == [
        2,
        1,
        0,
        1,
        0,
        0,
    ]
    assert (budi["deployments"], budi["deployment_dates"]) == (1, ["2026-11-01", "2026-11-03"])
    assert (budi["hours_en_route"], budi["hours_on_scene"]) == (0.33, 2.0)
    assert budi["allowance"] == 200_000

    ani = v["V-003"]  # late answer taken by the ops room; C capped at 12 h across midnight
    assert ani["name"] == "Ani Lestari Wulandari"
    assert [ani[k] for k in ("offers", "accepted", "declined", "expired", "withdrawn", "late_answers")] == [
        2,
        2,
        0,
        0,
        0,
        1,
    ]
    assert ani["deployments"] == 2
    assert ani["deployment_dates"] == ["2026-11-03", "2026-11-10", "2026-11-11"]
    # A2 15 min en route, 3 h on scene; C1 15 min en route, 22:20 → 10:03 on scene (11 h 43 min)
    assert (ani["hours_en_route"], ani["hours_on_scene"]) == (0.5, round(3 + 11 + 43 / 60, 2))
    assert ani["allowance"] == 300_000

    dodi = v["V-004"]  # declined A3; D1 accepted but called off before he set out
    assert dodi["units"] == ["tagana", "karang_taruna"]
    assert [
        dodi[k] for k in ("offers", "accepted", "declined", "expired", "deployments", "deployment_days")
    ] == [2, 1, 1, 0, 0, 0]
    assert (dodi["hours_en_route"], dodi["hours_on_scene"], dodi["allowance"]) == (0.0, 0.0, 0)


def test_duty_totals_and_units(ledger: Ledger) -> None:
    report = duty(ledger)
    totals = report["totals"]
    assert report["month"] == "2026-11"
    expected = {
        "volunteers": 4,
        "offers": 9,
        "accepted": 6,
        "declined": 1,
        "expired": 1,
        "withdrawn": 1,
        "late_answers": 1,
        "deployments": 5,
        "deployment_days": 6,
        "hours_en_route": 1.28,  # 0.45 + 20/60 + 0.5
        "hours_on_scene": 22.72,  # 6 + 2 + 3 + 11 h 43 min
        "allowance": 600_000,
    }
    assert {k: totals[k] for k in expected} == expected
    units = {u["unit"]: u for u in totals["by_unit"]}
    assert set(units) == {"tagana", "trc"}
    tagana, trc = units["tagana"], units["trc"]
    assert [tagana[k] for k in ("volunteers", "offers", "accepted", "declined", "expired", "withdrawn")] == [
        3,
        7,
        5,
        1,
        0,
        1,
    ]
    assert [
        tagana[k] for k in ("deployments", "deployment_days", "hours_en_route", "hours_on_scene", "allowance")
    ] == [4, 4, 0.95, 20.72, 400_000]
    assert [
        trc[k] for k in ("volunteers", "offers", "accepted", "expired", "deployments", "deployment_days")
    ] == [1, 2, 1, 1, 1, 2]
    assert (trc["hours_en_route"], trc["hours_on_scene"], trc["allowance"]) == (0.33, 2.0, 200_000)


def test_duty_other_allowance_rules(ledger: Ledger) -> None:
    from services.gateway.reports.policy import AllowanceRule

    per_deployment = Policy(allowance=AllowanceRule.parse("per_deployment:50000"))
    report = duty_report(ledger, "2026-11", month_period("2026-11"), per_deployment, t(NOW))
    assert [by_id(report)[v]["allowance"] for v in ("V-001", "V-002", "V-003", "V-004")] == [
        100_000,
        50_000,
        100_000,
        0,
    ]
    per_hour = Policy(allowance=AllowanceRule.parse("per_hour:10000"))
    report = duty_report(ledger, "2026-11", month_period("2026-11"), per_hour, t(NOW))
    assert by_id(report)["V-001"]["allowance"] == 64_500  # 6.45 h


def test_response_times(ledger: Ledger) -> None:
    report = response_times(
        ledger, range_period("2026-11-01", "2026-11-30"), POLICY, "2026-11-01", "2026-11-30"
    )
    assert (report["from"], report["to"], report["incidents"]) == ("2026-11-01", "2026-11-30", 4)  # not E
    steps = {s["step"]: s for s in report["steps"]}
    assert list(steps) == [
        "reported_to_first_offer",
        "reported_to_first_accept",
        "accept_to_en_route",
        "en_route_to_on_scene",
        "reported_to_staffed",
    ]

    def figures(step: str) -> list[Any]:
        s = steps[step]
        return [s["count"], s["p50_s"], s["p90_s"], s["max_s"], s["target_s"], s["within_target_share"]]

    assert figures("reported_to_first_offer") == [4, 30.0, 90.0, 90.0, 60.0, 0.75]  # 20, 30, 40, 90 s
    assert steps["reported_to_first_offer"]["met"] is False
    assert figures("reported_to_first_accept") == [4, 60.0, 180.0, 180.0, None, None]  # 60, 60, 120, 180
    assert figures("accept_to_en_route") == [5, 240.0, 480.0, 480.0, None, None]  # 60,120,240,240,480
    assert figures("en_route_to_on_scene") == [5, 900.0, 1200.0, 1200.0, None, None]  # 720,900×3,1200
    assert figures("reported_to_staffed") == [2, 180.0, 360.0, 360.0, None, None]  # C 180, A 360

    types = {g["type"]: g for g in report["by_type"]}
    assert {k: g["incidents"] for k, g in types.items()} == {"fire": 1, "flood": 2, "whirlwind": 1}
    flood_first = types["flood"]["steps"][0]
    assert (
        flood_first["count"],
        flood_first["p50_s"],
        flood_first["p90_s"],
        flood_first["within_target_share"],
    ) == (2, 20.0, 40.0, 1.0)
    kec = {g["kecamatan"]: g for g in report["by_kecamatan"]}
    assert {k: g["incidents"] for k, g in kec.items()} == {"Kota": 2, "Mojoroto": 1, "Pesantren": 1}
    pesantren = kec["Pesantren"]["steps"][0]
    assert (pesantren["p50_s"], pesantren["within_target_share"], pesantren["met"]) == (90.0, 0.0, False)

    weeks = {w["week_start"]: w for w in report["weekly"]}
    assert list(weeks) == ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]
    assert [weeks[w]["incidents"] for w in weeks] == [0, 2, 1, 1, 0, 0]
    assert (weeks["2026-11-02"]["first_offer_p50_s"], weeks["2026-11-02"]["first_offer_p90_s"]) == (
        20.0,
        30.0,
    )
    assert weeks["2026-11-09"]["first_offer_within_target_share"] == 0.0
    assert weeks["2026-10-26"]["first_offer_p50_s"] is None
    dist = {b["label"]: b["count"] for b in report["distribution"]["reported_to_first_offer"]}
    assert dist == {
        "≤ 15 dtk": 0,
        "15–30 dtk": 2,
        "30–60 dtk": 1,
        "1–2 mnt": 1,
        "2–5 mnt": 0,
        "5–10 mnt": 0,
        "> 10 mnt": 0,
    }


def test_daily_3_november(ledger: Ledger) -> None:
    report = daily_report(ledger, date(2026, 11, 3), day_period("2026-11-03"), POLICY, t(NOW))
    assert [i["incident_id"] for i in report["incidents"]] == ["INC-A", "INC-B"]  # E ended 1 Nov, C later
    a, b = report["incidents"]
    assert (a["status"], a["status_label"], a["kecamatan"], a["kelurahan"]) == (
        "closed",
        "Selesai",
        "Kota",
        "Manisrenggo",
    )
    assessment = a["assessment"]  # the 11:00 one, not 9:00, not 4 Nov's
    assert (assessment["families"], assessment["people"], assessment["evacuees"]) == (12, 40, 25)
    assert assessment["houses_damaged"] == {"light": 5, "moderate": 2, "heavy": 1}
    assert assessment["urgent_needs"] == ["public_kitchen", "shelter"]
    assert a["assessments"] == 2
    assert [(n["unit"], n["count"], n["filled"], n["open"]) for n in a["needs"]] == [
        ("tagana", 2, 2, 0),
        ("trc", 1, 1, 0),
    ]
    assert [(f["volunteer_id"], f["need_index"], f["filled"], f["count"]) for f in a["fills"]] == [
        ("V-001", 0, 1, 2),
        ("V-002", 1, 1, 1),
        ("V-003", 0, 2, 2),
    ]
    assert a["fills"][2]["at"] == t("2026-11-03 08:06:00")
    assert [(v["volunteer_id"], v["hours_en_route"], v["hours_on_scene"]) for v in a["volunteers"]] == [
        ("V-001", 0.25, 4.0),
        ("V-002", 0.33, 2.0),
        ("V-003", 0.25, 3.0),
    ]
    assert a["offers_today"] == {"made": 4, "accepted": 3, "declined": 1, "expired": 0, "withdrawn": 0}
    assert (a["open"], a["totals"]["open_slots"]) == ([], 0)

    assert b["assessment"] is None
    assert [(n["unit"], n["count"], n["filled"], n["open"]) for n in b["needs"]] == [
        ("tagana", 1, 1, 0),
        ("trc", 1, 0, 0),
    ]
    assert [(v["volunteer_id"], v["hours_en_route"], v["hours_on_scene"]) for v in b["volunteers"]] == [
        ("V-001", 0.2, 2.0)
    ]
    assert b["offers_today"] == {"made": 2, "accepted": 1, "declined": 0, "expired": 1, "withdrawn": 0}
    assert report["totals"] == {
        "incidents": 2,
        "volunteers_deployed": 3,
        "hours_en_route": 1.03,
        "hours_on_scene": 11.0,
        "open_slots": 0,
    }


def test_daily_across_midnight_and_a_cancel(ledger: Ledger) -> None:
    tenth = daily_report(
        ledger, date(2026, 11, 10), day_period("2026-11-10"), POLICY, t(NOW), incident_id="INC-C"
    )
    (c,) = tenth["incidents"]
    assert (c["status"], c["needs_source"]) == ("staffed", "run_card")
    assert [(n["unit"], n["skill"], n["count"], n["filled"], n["open"]) for n in c["needs"]] == [
        ("tagana", "evacuation", 1, 1, 0)
    ]
    assert [(v["hours_en_route"], v["hours_on_scene"]) for v in c["volunteers"]] == [
        (0.25, 1.67)
    ]  # 22:20 → 24:00
    eleventh = daily_report(
        ledger, date(2026, 11, 11), day_period("2026-11-11"), POLICY, t(NOW), incident_id="INC-C"
    )
    (c,) = eleventh["incidents"]
    assert [(v["hours_en_route"], v["hours_on_scene"]) for v in c["volunteers"]] == [
        (0.0, 10.05)
    ]  # → 10:03 cap
    assert c["fills"][0]["on_this_day"] is False

    c, d = daily_report(ledger, date(2026, 11, 20), day_period("2026-11-20"), POLICY, t(NOW))["incidents"]
    assert (c["incident_id"], c["status"], c["volunteers"]) == ("INC-C", "staffed", [])  # open; V-003 capped
    assert (d["status"], d["volunteers"], d["open"]) == ("cancelled", [], [])
    assert d["offers_today"] == {"made": 2, "accepted": 1, "declined": 0, "expired": 0, "withdrawn": 1}


def test_order_and_redelivery_change_nothing(ledger: Ledger) -> None:
    events = known_month()
    shuffled = events * 2
    random.Random(20).shuffle(shuffled)
    other = fold(shuffled)
    assert duty(other) == duty(ledger)
    period = range_period("2026-11-01", "2026-11-30")
    assert response_times(other, period, POLICY, "a", "b") == response_times(ledger, period, POLICY, "a", "b")
    day = day_period("2026-11-03")
    assert daily_report(other, date(2026, 11, 3), day, POLICY, t(NOW)) == daily_report(
        ledger, date(2026, 11, 3), day, POLICY, t(NOW)
    )


def _rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_carries_the_same_numbers(ledger: Ledger) -> None:
    report = duty(ledger)
    rows = _rows(duty_csv(report))
    assert len(rows) == 5  # four volunteers and the total
    ani = next(r for r in rows if r["volunteer_id"] == "V-003")
    assert (
        ani["nama"],
        ani["pengerahan"],
        ani["hari_bertugas"],
        ani["jam_di_lokasi"],
        ani["uang_transport_rp"],
    ) == ("Ani Lestari Wulandari", "2", "3", "14.72", "300000")
    assert rows[-1]["volunteer_id"] == "JUMLAH" and rows[-1]["uang_transport_rp"] == "600000"

    rt = response_times(ledger, range_period("2026-11-01", "2026-11-30"), POLICY, "2026-11-01", "2026-11-30")
    rows = _rows(response_times_csv(rt))
    first = next(r for r in rows if r["kelompok"] == "semua" and r["langkah"] == "reported_to_first_offer")
    assert (first["jumlah"], first["p50_detik"], first["p90_detik"], first["porsi_dalam_target"]) == (
        "4",
        "30.0",
        "90.0",
        "0.75",
    )
    assert len(rows) == 5 * (1 + 3 + 3)

    daily = daily_report(ledger, date(2026, 11, 3), day_period("2026-11-03"), POLICY, t(NOW))
    rows = _rows(daily_csv(daily))
    kaji = {
        r["butir"]: r["nilai"] for r in rows if r["incident_id"] == "INC-A" and r["bagian"] == "kaji_cepat"
    }
    assert kaji["evacuees"] == "25" and kaji["houses_damaged.heavy"] == "1"
    people = [(r["volunteer_id"], r["jam_di_lokasi"]) for r in rows if r["bagian"] == "relawan"]
    assert people == [("V-001", "4.0"), ("V-002", "2.0"), ("V-003", "3.0"), ("V-001", "2.0")]


@pytest.mark.parametrize("text", ["", "2026-13", "2026-1", "26-11", "2026-11-01", "1999-01"])
def test_bad_month(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_period(text)


@pytest.mark.parametrize(
    ("start", "end"), [("2026-11-30", "2026-11-01"), ("2025-01-01", "2026-12-31"), ("x", "2026-11-01")]
)
def test_bad_range(start: str, end: str) -> None:
    with pytest.raises(ValueError):
        range_period(start, end)
