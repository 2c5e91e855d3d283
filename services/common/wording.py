"""How the ops room (Pusdalops) and volunteers read things, in the Bahasa Indonesia of a Dinas Sosial
office: `pukul 15.20 WIB`, `1,2 km`, `0812-3456-7890`, BMKG's own words for a warning's severity, and the
one-line summary of a kaji cepat. Pure; shared by the dispatcher, the notifier and the gateway so a word
is chosen once."""

from __future__ import annotations

from datetime import datetime

from schemas.events import AssessmentReport, NeedChange
from schemas.times import WIB
from schemas.vocabulary import Skill, Unit

BMKG_ATTRIBUTION = "Sumber: BMKG"

# CAP values as BMKG writes them in its Indonesian warnings.
CAP_SEVERITY = {
    "Extreme": "Ekstrem",
    "Severe": "Berat",
    "Moderate": "Sedang",
    "Minor": "Ringan",
    "Unknown": "Tidak diketahui",
}
CAP_URGENCY = {
    "Immediate": "Segera",
    "Expected": "Diperkirakan segera terjadi",
    "Future": "Akan datang",
    "Past": "Sudah berlalu",
    "Unknown": "Tidak diketahui",
}
URGENT_NEEDS = {
    "public_kitchen": "dapur umum",
    "shelter": "tempat pengungsian",
    "evacuation": "evakuasi",
    "logistics": "logistik",
    "psychosocial": "dukungan psikososial (LDP)",
    "health": "kesehatan",
}


def pukul(moment: datetime) -> str:
    """`pukul 15.20 WIB`: Indonesian writes the time with a dot."""
    return f"pukul {moment.astimezone(WIB):%H.%M} WIB"


def km(distance: float) -> str:
    """`1,2 km`: Indonesian writes a decimal comma."""
    return f"{distance:.1f}".replace(".", ",") + " km"


def decimal(value: float, places: int = 1) -> str:
    return f"{value:.{places}f}".replace(".", ",")


def phone_local(e164: str) -> str:
    """`+6281234567890` → `0812-3456-7890`, as people dial and read it."""
    if not e164.startswith("+62"):
        return e164
    digits = "0" + e164[3:]
    if len(digits) <= 8:
        return digits
    head, rest = digits[:4], digits[4:]
    groups = [rest[i : i + 4] for i in range(0, len(rest), 4)]
    if len(groups) > 1 and len(groups[-1]) < 3:  # 0812-3456-78 → 0812-345-678
        tail = groups[-2] + groups[-1]
        half = len(tail) // 2
        groups[-2:] = [tail[:half], tail[half:]]
    return "-".join([head, *groups])


def unit_name(unit: Unit) -> str:
    """The short name an ops room says: Tagana, TRC, Pendamping PBI-JKN, Karang Taruna, PSM."""
    return unit.label.split(" (")[0]


def role(unit: Unit, skill: Skill | None) -> str:
    return unit_name(unit) + (f" — {skill.label}" if skill else "")


def assessment_summary(report: AssessmentReport) -> str:
    """A kaji cepat in one line, as the ops room says it."""
    parts = []
    for value, what in ((report.families, "KK"), (report.people, "jiwa"), (report.evacuees, "pengungsi")):
        if value is not None:
            parts.append(f"{value} {what}")
    houses = report.houses_damaged
    if houses is not None:
        for value, what in ((houses.heavy, "berat"), (houses.moderate, "sedang"), (houses.light, "ringan")):
            if value:
                parts.append(f"{value} rumah rusak {what}")
    victims = ((report.injured, "luka-luka"), (report.dead, "meninggal"), (report.missing, "hilang"))
    for value, what in victims:
        if value:
            parts.append(f"{value} {what}")
    if report.evacuee_sites:
        parts.append("mengungsi di " + ", ".join(report.evacuee_sites))
    if report.urgent_needs:
        parts.append("kebutuhan mendesak: " + ", ".join(URGENT_NEEDS[n] for n in report.urgent_needs))
    if report.notes:
        parts.append(report.notes[:200])
    return "; ".join(parts) or "tanpa angka"


def need_change(change: NeedChange) -> str:
    """`Karang Taruna — Dapur umum +4 (menjadi 4)`."""
    diff = change.count - change.previous
    sign = "+" if diff > 0 else "−"
    return f"{role(change.unit, change.skill)} {sign}{abs(diff)} (menjadi {change.count})"


# The incident timeline's steps (`TimelineEntry.event`, identifiers in the API) as the board shows them.
TIMELINE = {
    "reported": "Dilaporkan",
    "dispatching": "Sedang dikerahkan",
    "staffed": "Personel lengkap",
    "understaffed": "Kurang personel",
    "closed": "Ditutup",
    "cancelled": "Dibatalkan",
    "matched": "Relawan terpilih",
    "offered": "Dipanggil",
    "delivered": "Pesan terkirim",
    "notification failed": "Pesan gagal terkirim",
    "accepted": "Bersedia berangkat",
    "declined": "Menolak",
    "expired": "Tidak menjawab (waktu habis)",
    "withdrawn": "Panggilan ditarik",
    "en_route": "Dalam perjalanan",
    "on_scene": "Tiba di lokasi",
    "released": "Selesai bertugas",
    "late answer": "Jawaban terlambat",
    "assessed": "Kaji cepat",
    "needs_changed": "Kebutuhan disesuaikan",
}


def timeline_step(event: str) -> str:
    return TIMELINE.get(event, event.replace("_", " ").capitalize())
