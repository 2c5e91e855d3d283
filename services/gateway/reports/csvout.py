"""The reports as CSV for a spreadsheet: UTF-8 with a byte-order mark (so a spreadsheet opens it as
UTF-8), a header row in Bahasa Indonesia, one row per volunteer (duty), per step and group (response
times), per need / volunteer / assessment figure (daily). Numbers are written plainly (a point for the
decimals), so every spreadsheet reads them as numbers whatever its locale's display; times in WIB."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from services.gateway.reports.policy import wib_text

BOM = "\ufeff"


def _write(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


DUTY_HEADER = (
    "volunteer_id",
    "nama",
    "unsur",
    "panggilan",
    "diterima",
    "ditolak",
    "kedaluwarsa",
    "ditarik",
    "jawaban_terlambat",
    "pengerahan",
    "hari_bertugas",
    "jam_perjalanan",
    "jam_di_lokasi",
    "uang_transport_rp",
    "tanggal_bertugas",
)


def duty_csv(report: dict[str, Any]) -> str:
    rows = [
        (
            v["volunteer_id"],
            v["name"],
            " ".join(v["units"]),
            v["offers"],
            v["accepted"],
            v["declined"],
            v["expired"],
            v["withdrawn"],
            v["late_answers"],
            v["deployments"],
            v["deployment_days"],
            v["hours_en_route"],
            v["hours_on_scene"],
            v["allowance"],
            " ".join(v["deployment_dates"]),
        )
        for v in report["volunteers"]
    ]
    t = report["totals"]
    rows.append(
        (
            "JUMLAH",
            f"{t['volunteers']} relawan",
            "",
            t["offers"],
            t["accepted"],
            t["declined"],
            t["expired"],
            t["withdrawn"],
            t["late_answers"],
            t["deployments"],
            t["deployment_days"],
            t["hours_en_route"],
            t["hours_on_scene"],
            t["allowance"],
            "",
        )
    )
    return _write(DUTY_HEADER, rows)


RESPONSE_HEADER = (
    "kelompok",
    "nilai",
    "kejadian",
    "langkah",
    "jumlah",
    "p50_detik",
    "p90_detik",
    "maks_detik",
    "target_detik",
    "porsi_dalam_target",
)


def response_times_csv(report: dict[str, Any]) -> str:
    groups: list[tuple[str, str, int, list[dict[str, Any]]]] = [
        ("semua", f"{report['from']}..{report['to']}", report["incidents"], report["steps"])
    ]
    groups += [("jenis", g["type"], g["incidents"], g["steps"]) for g in report["by_type"]]
    groups += [("kecamatan", g["kecamatan"], g["incidents"], g["steps"]) for g in report["by_kecamatan"]]
    rows = [
        (
            group,
            value,
            incidents,
            s["step"],
            s["count"],
            s["p50_s"],
            s["p90_s"],
            s["max_s"],
            s["target_s"],
            s["within_target_share"],
        )
        for group, value, incidents, steps in groups
        for s in steps
    ]
    return _write(RESPONSE_HEADER, rows)


DAILY_HEADER = (
    "tanggal",
    "incident_id",
    "kejadian",
    "bagian",
    "butir",
    "volunteer_id",
    "nama",
    "kebutuhan",
    "terisi",
    "terbuka",
    "nilai",
    "diterima",
    "berangkat",
    "tiba",
    "selesai",
    "jam_perjalanan",
    "jam_di_lokasi",
)

_FIGURES = ("families", "people", "evacuees", "injured", "dead", "missing")


def daily_csv(report: dict[str, Any]) -> str:
    rows: list[tuple[Any, ...]] = []
    day = report["date"]
    empty = (None,) * 6
    for i in report["incidents"]:
        head = (day, i["incident_id"], i["title"])
        a = i["assessment"]
        if a:
            for name in _FIGURES:
                if a.get(name) is not None:
                    rows.append((*head, "kaji_cepat", name, None, None, None, None, None, a[name], *empty))
            for grade, value in (a.get("houses_damaged") or {}).items():
                rows.append(
                    (
                        *head,
                        "kaji_cepat",
                        f"houses_damaged.{grade}",
                        None,
                        None,
                        None,
                        None,
                        None,
                        value,
                        *empty,
                    )
                )
            if a.get("urgent_needs"):
                rows.append(
                    (
                        *head,
                        "kaji_cepat",
                        "urgent_needs",
                        None,
                        None,
                        None,
                        None,
                        None,
                        " ".join(a["urgent_needs"]),
                        *empty,
                    )
                )
        for n in i["needs"]:
            rows.append(
                (*head, "kebutuhan", n["label"], None, None, n["count"], n["filled"], n["open"], None, *empty)
            )
        for v in i["volunteers"]:
            rows.append(
                (
                    *head,
                    "relawan",
                    v["role"],
                    v["volunteer_id"],
                    v["name"],
                    None,
                    None,
                    None,
                    None,
                    wib_text(v["accepted_at"]),
                    wib_text(v["en_route_at"]),
                    wib_text(v["on_scene_at"]),
                    wib_text(v["released_at"]),
                    v["hours_en_route"],
                    v["hours_on_scene"],
                )
            )
    return _write(DAILY_HEADER, rows)
