"""The report: `bench/report.json` (every figure) and `bench/report.md` (the table the README quotes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import ratio

TARGET_P99_VS_CEILING = 2.0
TARGET_SUSTAINED_PER_S = 1000.0
TARGET_P99_100K_VS_1K = 1.5


def roster_label(count: int) -> str:
    if count >= 1000 and count % 1000 == 0:
        return f"roster_{count // 1000}k"
    return f"roster_{count}"


def _run_at(runs: list[dict[str, Any]], roster: int, rate: float) -> dict[str, Any] | None:
    return next((r for r in runs if r["roster"] == roster and r["rate_per_s"] == rate), None)


def _met(value: float | None, limit: float, *, at_least: bool = False) -> bool | None:
    if value is None:
        return None
    return value >= limit if at_least else value <= limit


def derive(report: dict[str, Any], compare_rate: float) -> None:
    """Fill `ratios` and `targets` from the measured figures (None where something was not measured)."""
    runs = report["runs"]
    rosters = sorted({r["roster"] for r in runs})
    ceiling = report.get("ceiling") or {}
    small = _run_at(runs, rosters[0], compare_rate) if rosters else None
    large = _run_at(runs, 100_000, compare_rate) or (
        _run_at(runs, rosters[-1], compare_rate) if len(rosters) > 1 else None
    )
    p99_small = small["p99_ms"] if small else None
    p99_large = large["p99_ms"] if large else None
    # both sides start once the broker has acknowledged the first record: Sigap at the gateway's 202,
    # the relay at its source's ack (older reports have no `from_ack`: the relay's p99 from the send)
    ceiling_p99 = (ceiling.get("from_ack") or {}).get("p99_ms") or ceiling.get("p99_ms")
    post_small = (small.get("from_post") or {}).get("p99_ms") if small else None
    sustained = report.get("max_sustained_per_s")
    capacity = report.get("dispatcher_capacity_per_s")
    report["ratios"] = {
        "compare_rate_per_s": compare_rate,
        "p99_vs_ceiling_at_50": ratio(p99_small, ceiling_p99),
        "p99_vs_ceiling_at_50_largest_roster": ratio(p99_large, ceiling_p99),
        # the stricter pairing: from the HTTP request leaving the client, against the relay from its send
        "p99_from_post_vs_ceiling_from_send_at_50": ratio(post_small, ceiling.get("p99_ms")),
        "sustained_vs_ceiling": ratio(sustained, ceiling.get("msgs_per_s")),
        "p99_largest_vs_smallest_roster": ratio(p99_large, p99_small),
    }
    r = report["ratios"]

    report["targets"] = {
        "p99_at_50_le_2x_ceiling": {
            "target": f"p99 at {compare_rate:g}/s ≤ {TARGET_P99_VS_CEILING}× the ceiling's p99",
            "value": r["p99_vs_ceiling_at_50"],
            "met": _met(r["p99_vs_ceiling_at_50"], TARGET_P99_VS_CEILING),
            "measured_as": "p99 from the 202 (smallest roster) / the relay's p99 from its first ack",
        },
        "sustained_ge_1000_per_s": {
            "target": f"≥ {TARGET_SUSTAINED_PER_S:g} incidents/s sustained by one dispatcher worker",
            "value": capacity,
            "met": _met(capacity, TARGET_SUSTAINED_PER_S, at_least=True),
            "measured_as": "the worst roster's backlog drain by the dispatcher alone (capacity)",
            "whole_pipeline_max_sustained_per_s": sustained,
            "io_floor_incidents_per_s": ((report.get("floor") or {}).get("io") or {}).get("incidents_per_s"),
        },
        "p99_100k_le_1_5x_1k": {
            "target": f"p99 at {compare_rate:g}/s with 100k volunteers ≤ {TARGET_P99_100K_VS_1K}× with 1k",
            "value": r["p99_largest_vs_smallest_roster"] if 100_000 in rosters else None,
            "met": _met(r["p99_largest_vs_smallest_roster"], TARGET_P99_100K_VS_1K)
            if 100_000 in rosters
            else None,
        },
    }


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 1 else f"{value:.2f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return text + unit


def _at_max(search: dict[str, Any]) -> str:
    """Latency (from the record's send) of the run that established the sustained figure."""
    held = [c for c in search.get("confirmations", []) if c.get("ok")]
    if not held:
        return "–"
    return f"{_fmt(held[0].get('p50_ms'))} / {_fmt(held[0].get('p99_ms'))}"


def _verdict(met: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured"}[met]


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    dirty = " (with uncommitted changes)" if m.get("dirty") else ""
    plan = report.get("plan_detail") or {}
    lines = [
        f"# Sigap benchmark ({report['plan']} run)",
        "",
        f"- Date: {m['date']}; commit `{m['commit'][:12]}`{dirty}",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {_fmt(m['ram_mb'])} MiB RAM, Python {m['python']}, "
        f"load average at start {', '.join(str(x) for x in m['load_average_at_start'])}, at end "
        f"{', '.join(str(x) for x in m.get('load_average_at_end', []))}; CPU gauge"
        f" (`bench.machine.cpu_gauge_s`, lower is faster) {_fmt(m.get('cpu_gauge_s_at_start'))} s at start,"
        f" {_fmt(m.get('cpu_gauge_s_at_end'))} s at end; event loop {m.get('event_loop', 'asyncio')}",
        "- One Kafka broker and one Redis on the same machine, shared by the load generator and all services;"
        " one dispatcher worker, one notifier worker, one gateway process; channel: outbox.",
        "- Latency (issue 7): from the incident posted — the gateway's `202` to `POST /api/v1/incidents` —"
        " to the first offer handed to the outbox channel (its `stored_at`); *p99 from POST* also counts"
        " the HTTP request, from when it left the load generator. Open-loop load, one Tagana volunteer per"
        " incident, each incident closed once its offer is out.",
        f"- Each fixed-rate stage lasts {_fmt(plan.get('stage_s'))} s"
        + (
            f", the {_fmt(plan.get('compare_rate'))}/s stage {_fmt(plan.get('compare_stage_s'))} s"
            if plan.get("compare_stage_s")
            else ""
        )
        + f"; *Completed* counts incidents offered"
        f" by {_fmt(plan.get('drain_s'))} s after the stage's end.",
        "",
        "## Latency at fixed rates",
        "",
        "| Roster | Rate (/s) | Sent | Completed | p50 (ms) | p95 (ms) | p99 (ms) "
        "| p99 from POST (ms) | 202 p99 (ms) | Load after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["runs"]:
        lines.append(
            f"| {r['roster']:,} | {_fmt(r['rate_per_s'])} | {r['sent']:,} | {r['completed']:,} | "
            f"{_fmt(r['p50_ms'])} | {_fmt(r['p95_ms'])} | {_fmt(r['p99_ms'])} | "
            f"{_fmt((r.get('from_post') or {}).get('p99_ms'))} | {_fmt(r['ack_p99_ms'])} | "
            f"{_fmt((r.get('load_average_after') or [None])[0])} |"
        )
    lines += ["", "## Sustained rate, matching, memory", ""]
    lines += [
        "| Roster | Max sustained, to outbox (/s) | Dispatcher only (/s) "
        "| Matching p50 (ms) | Matching p99 (ms) "
        "| One dispatcher worker, backlog drain (incidents/s) "
        "| Roster load (volunteers/s) | p50 / p99 at max sustained (ms) |"
    ]
    lines += ["|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, s in report.get("sustained", {}).items():
        match = report.get("matching", {}).get(label) or {}
        load = report.get("roster_load", {}).get(label) or {}
        drain = report.get("capacity", {}).get(label) or {}
        lines.append(
            f"| {s['roster']:,} | {_fmt(s.get('max_per_s'))} | {_fmt(s.get('dispatcher_max_per_s'))} | "
            f"{_fmt(match.get('p50_ms'))} | {_fmt(match.get('p99_ms'))} | "
            f"{_fmt(drain.get('incidents_per_s'))} | {_fmt(load.get('per_s'))} | {_at_max(s)} |"
        )
    lines += [
        "",
        "*Max sustained*: the highest open-loop rate (straight onto `incidents`) whose offers reached the"
        " outbox without the backlog growing, for the whole confirmation; *dispatcher only*: the same, to"
        " the dispatcher's notification request. *Backlog drain*: one dispatcher worker handling a backlog"
        " of incidents (each reported, then closed) with the notifier and gateway paused, incidents per"
        " second over the middle 80 % of the drain (`bench/capacity.py`).",
    ]
    scaling = report.get("capacity_scaling") or {}
    if scaling:
        one = {label: (r or {}).get("incidents_per_s") for label, r in report.get("capacity", {}).items()}
        lines += [
            "",
            "The same drain by several workers of one group on this machine (not a target; how far more"
            " workers take it): "
            + "; ".join(
                f"{label}: {_fmt(r.get('workers'))} workers {_fmt(r.get('incidents_per_s'))} incidents/s"
                f" against one worker's {_fmt(one.get(label))}"
                for label, r in scaling.items()
            )
            + ".",
        ]
    rss = report.get("peak_rss_mb", {})
    lines += [
        "",
        f"Peak resident memory (VmHWM, MiB): dispatcher {_fmt(rss.get('dispatcher'))}, "
        f"notifier {_fmt(rss.get('notifier'))}, gateway {_fmt(rss.get('gateway'))}.",
        "",
        "## Ceiling and targets",
        "",
    ]
    c = report.get("ceiling") or {}
    ack = c.get("from_ack") or {}
    lines.append(
        f"Ceiling: a bare aiokafka relay through {c.get('hops', '–')} topic hops with the real envelopes "
        f"({', '.join(str(b) for b in c.get('payload_bytes', []))} bytes) at {_fmt(c.get('rate_per_s'))}/s:"
        f" p50 {_fmt(ack.get('p50_ms'))} ms, p99 {_fmt(ack.get('p99_ms'))} ms from the first record's"
        f" acknowledgement (p50 {_fmt(c.get('p50_ms'))}, p99 {_fmt(c.get('p99_ms'))} ms from its send);"
        f" {_fmt(c.get('msgs_per_s'))} msgs/s."
    )
    floor = report.get("floor") or {}
    if floor.get("io") or floor.get("ack"):
        io, ack_only = floor.get("io") or {}, floor.get("ack") or {}
        lines += [
            "",
            f"I/O floor (`bench.faust_floor`, {floor.get('incidents', '–')} incidents): a faust worker "
            "configured as the dispatcher, doing its input and output for each incident (the same output "
            "records and Redis round trips) and none of its work, drains "
            f"{_fmt(io.get('incidents_per_s'))} incidents/s; acknowledging only, "
            f"{_fmt(ack_only.get('incidents_per_s'))}/s.",
        ]
    lines += ["", "| Target | Value | Result |", "|---|---:|---|"]
    for t in report.get("targets", {}).values():
        lines.append(f"| {t['target']} | {_fmt(t['value'])} | {_verdict(t['met'])} |")
    if report.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    md_path.write_text(markdown(report), "utf-8")
    return json_path, md_path


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.report [report.json]`: re-derive the targets and rewrite report.md."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("report", type=Path, nargs="?", default=Path(__file__).with_name("report.json"))
    args = parser.parse_args(argv)
    data = json.loads(args.report.read_text("utf-8"))
    derive(data, float((data.get("ratios") or {}).get("compare_rate_per_s", 50.0)))
    write(data, args.report.parent)


if __name__ == "__main__":
    main()
