"""The roster CSV: what the ops room imports, the report of rejected rows, and the export round trip."""

from __future__ import annotations

from datetime import date

from services.gateway import demo_roster
from services.gateway.roster_io import COLUMNS, parse_csv, write_csv

HEADER = ",".join(COLUMNS)
GOOD = (
    "V-100,Siti Rahayu,0812-3456-7890,tagana,water_rescue;evacuation,water_rescue:2030-01-31,"
    "35.71.02.1015,-7.85,112.0075,whatsapp:081234567890;outbox:V-100,ya,id"
)


def test_valid_rows_become_profiles() -> None:
    parsed = parse_csv([HEADER, GOOD])
    assert parsed.rejected == []
    ((line, profile),) = parsed.profiles
    assert line == 2
    assert profile.phone == "+6281234567890"
    assert [s.value for s in profile.skills] == ["water_rescue", "evacuation"]
    assert profile.certifications[0].expires_on == date(2030, 1, 31)
    assert profile.on_duty is True
    assert profile.location is not None and profile.location.lat == -7.85
    assert [c.type.value for c in profile.channels] == ["whatsapp", "outbox"]


def test_rejected_rows_name_their_line_and_fields() -> None:
    rows = [
        HEADER,
        GOOD,
        "V-101,Budi,12345,police,flying,,35.71.09.9999,,,sms:0812,maybe,id",
        "V-102,Ani,0813-1111-2222,trc,rapid_assessment,first_aid:soon,35.71.01.1001,-7.8,,email:ani,false,id",
        GOOD.replace("Siti Rahayu", "Siti Lagi"),  # the same id twice
        "V-103,Dewi,0813-1111-3333,tagana,shelter,,35.71.01.1001,-6.2,106.8,outbox:V-103,true,id",
    ]
    parsed = parse_csv(rows)
    assert [p.volunteer_id for _, p in parsed.profiles] == ["V-100"]
    by_line = {r.line: r for r in parsed.rejected}
    assert set(by_line) == {3, 4, 5, 6}
    assert by_line[3].errors == ["on_duty: 'maybe' is not true/false"]
    assert any("lat/lon" in e for e in by_line[4].errors)
    assert by_line[5].errors == ["id: duplicate of line 2"]
    assert any("service area" in e for e in by_line[6].errors)

    no_duty_problem = parse_csv([HEADER, "V-101,Budi,12345,police,flying,,35.71.09.9999,,,sms:0812,false,id"])
    fields = {e.split(":")[0] for e in no_duty_problem.rejected[0].errors}
    assert {"phone", "unit", "skills.0", "home_kelurahan_code"} <= fields


def test_a_missing_column_is_reported_once() -> None:
    parsed = parse_csv(["id,name", "V-1,Budi"])
    assert parsed.profiles == []
    assert parsed.rejected[0].line == 1
    assert "phone" in parsed.rejected[0].errors[0]


def test_export_imports_back_unchanged() -> None:
    roster = demo_roster.profiles(date(2026, 11, 28))
    text = "".join(write_csv(roster))
    parsed = parse_csv(text.splitlines())
    assert parsed.rejected == []
    assert [p for _, p in parsed.profiles] == roster
