"""The `sigap` command line's argument parsing, group by group: each command reaches its function with
the options the docs name (DESIGN.md §5, README), and `main` turns a failure into one line and exit 1."""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.cli import build_parser, demo, incidents, info, main, rebuild, replay, roster, tail, topics
from services.gateway.roster_io import COLUMNS
from tests.support.cli import COMMANDS, LISTED


def parse(*argv: str) -> dict[str, Any]:
    return vars(build_parser().parse_args(list(argv)))


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_help_lists_every_command_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sigap [-h] COMMAND ...")
    assert tuple(re.findall(LISTED, out, flags=re.MULTILINE)) == COMMANDS


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert "the following arguments are required: COMMAND" in usage_error(capsys)
    assert "required: ACTION" in usage_error(capsys, "incident")
    assert "required: ACTION" in usage_error(capsys, "replay")
    assert "required: ACTION" in usage_error(capsys, "demo-roster")


def test_incident_post_takes_repeated_needs_and_a_typed_location() -> None:
    args = parse(
        "incident", "post", "--type", "flood", "--severity", "severe", "--title", "Banjir",
        "--lat", "-7.81", "--lon", "112.01", "--affected", "40",
        "--need", "tagana:2", "--need", "tagana:water_rescue:1", "--idempotency-key", "k-1",
        "--url", "http://gw:8080", "--key", "op",
    )  # fmt: skip
    assert args["coro"] is incidents.post
    assert (args["lat"], args["lon"], args["affected"]) == (-7.81, 112.01, 40)
    assert args["need"] == ["tagana:2", "tagana:water_rescue:1"]
    assert (args["idempotency_key"], args["url"], args["key"]) == ("k-1", "http://gw:8080", "op")
    assert (args["kelurahan"], args["description"]) == (None, None)


def test_incident_post_refuses_an_unknown_severity_and_missing_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "invalid choice: 'huge'" in usage_error(
        capsys, "incident", "post", "--type", "fire", "--severity", "huge", "--title", "x"
    )
    assert "--severity, --title" in usage_error(capsys, "incident", "post", "--type", "fire")


def test_incident_show_list_cancel_close() -> None:
    shown = parse("incident", "show", "INC-1", "--json")
    assert (shown["coro"], shown["id"], shown["json"]) == (incidents.show, "INC-1", True)
    listed = parse("incident", "list", "--status", "open")
    assert (listed["coro"], listed["status"], listed["json"]) == (incidents.list_incidents, "open", False)
    cancelled = parse("incident", "cancel", "INC-1", "--reason", "salah lapor")
    assert (cancelled["coro"], cancelled["reason"]) == (incidents.cancel, "salah lapor")
    closed = parse("incident", "close", "INC-1", "--note", "selesai")
    assert (closed["coro"], closed["note"]) == (incidents.close, "selesai")
    for action in ("show", "list", "cancel", "close"):
        argv = ["incident", action] + ([] if action == "list" else ["INC-1"])
        assert {"url": None, "key": None}.items() <= parse(*argv).items()


def test_roster_import_export_rebuild_and_the_demo_roster(capsys: pytest.CaptureFixture[str]) -> None:
    imported = parse("roster", "import", "-", "--dry-run")
    assert (imported["coro"], imported["file"], imported["dry_run"], imported["batch_size"]) == (
        roster.import_csv,
        "-",
        True,
        500,
    )
    assert parse("roster", "import", "r.csv", "--batch-size", "50")["batch_size"] == 50
    assert parse("roster", "export", "out.csv")["coro"] is roster.export_csv
    assert parse("roster", "rebuild")["coro"] is roster.rebuild
    loaded = parse("demo-roster", "load", "--force")
    assert (loaded["coro"], loaded["force"]) == (roster.load_demo, True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["roster", "import", "--help"])
    assert ",".join(COLUMNS) in capsys.readouterr().out.replace("\n", "").replace(" ", "")


def test_tail_options() -> None:
    args = parse("tail", "--from-beginning", "--topic", "incidents", "--topic", "responses", "--count", "2")
    assert args["coro"] is tail.tail
    assert (args["from_beginning"], args["topic"], args["count"], args["json"]) == (
        True,
        ["incidents", "responses"],
        2,
        False,
    )
    assert parse("tail")["topic"] is None


def test_replay_dead_letters_and_topic_ranges() -> None:
    dead = parse(
        "replay", "dead-letters", "--all", "--event-type", "incident.cancelled", "--from-offset", "7"
    )
    assert dead["coro"] is replay.dead_letters
    assert (dead["all"], dead["event_type"], dead["from_offset"], dead["limit"], dead["dry_run"]) == (
        True,
        "incident.cancelled",
        7,
        None,
        False,
    )
    ranged = parse(
        "replay", "topic", "incidents", "--to", "responses", "--partition", "1",
        "--start-offset", "3", "--end-offset", "9", "--dry-run",
    )  # fmt: skip
    assert ranged["coro"] is replay.topic
    assert (ranged["topic"], ranged["to"], ranged["partition"]) == ("incidents", "responses", 1)
    assert (ranged["start_offset"], ranged["end_offset"], ranged["dry_run"]) == (3, 9, True)


def test_demo_rebuild_topics_info() -> None:
    args = parse("demo", "--no-accept", "--needs", "tagana:3", "--timeout", "30")
    assert (args["coro"], args["no_accept"], args["needs"], args["timeout"]) == (
        demo.demo,
        True,
        ["tagana:3"],
        30.0,
    )
    assert parse("demo")["timeout"] == 90.0
    rebuilt = parse("rebuild", "--runcards", "cards.toml")
    assert (rebuilt["coro"], rebuilt["runcards"]) == (rebuild.rebuild_all, "cards.toml")
    assert parse("rebuild")["runcards"] is None
    assert parse("topics")["coro"] is topics.create
    assert parse("info")["func"] is info.info


def test_main_reports_a_failure_in_one_line_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["incident", "post", "--type", "fire", "--severity", "minor", "--title", "x", "--lat", "-7.8"]
    )
    assert code == 1
    assert capsys.readouterr().err == "sigap: give --kelurahan, or --lat and --lon\n"
    code = main(["incident", "post", "--type", "fire", "--severity", "minor", "--title", "x",
                 "--kelurahan", "Manisrenggo", "--need", "tagana"])  # fmt: skip
    assert code == 1
    assert "expected unit:count or unit:skill:count" in capsys.readouterr().err
