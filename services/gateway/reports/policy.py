"""What the reports are computed with: the allowance rule, the deployment cap, the response targets
(settings, validated at start), and periods in WIB (the office's days and months)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from schemas.errors import SigapError
from schemas.times import WIB, WIB_OFFSET_S

DAY_S = 86400.0
MAX_PERIOD_DAYS = 400

STEPS = (
    "reported_to_first_offer",
    "reported_to_first_accept",
    "accept_to_en_route",
    "en_route_to_on_scene",
    "reported_to_staffed",
)
STEP_LABELS = {
    "reported_to_first_offer": "Laporan → panggilan pertama",
    "reported_to_first_accept": "Laporan → penerimaan pertama",
    "accept_to_en_route": "Diterima → berangkat",
    "en_route_to_on_scene": "Berangkat → tiba di lokasi",
    "reported_to_staffed": "Laporan → personel lengkap",
}
ALLOWANCE_KINDS = {
    "per_day": "per hari bertugas",
    "per_deployment": "per pengerahan",
    "per_hour": "per jam (perjalanan + di lokasi)",
}


class PolicyError(SigapError, ValueError):
    """A report setting that cannot be read; the message names the variable."""


@dataclass(frozen=True, slots=True)
class AllowanceRule:
    kind: str
    rupiah: int

    @classmethod
    def parse(cls, text: str) -> AllowanceRule:
        kind, sep, amount = text.strip().partition(":")
        if not sep or kind not in ALLOWANCE_KINDS or not amount.strip().isdigit():
            raise PolicyError(
                f"SIGAP_REPORT_ALLOWANCE is 'per_day|per_deployment|per_hour:<rupiah>', not {text!r}"
            )
        return cls(kind, int(amount))

    @property
    def label(self) -> str:
        return f"{rupiah(self.rupiah)} {ALLOWANCE_KINDS[self.kind]}"

    def amount(self, deployments: int, days: int, hours: float) -> int:
        units = {"per_day": days, "per_deployment": deployments, "per_hour": hours}[self.kind]
        return round(units * self.rupiah)


def parse_targets(text: str) -> dict[str, float]:
    targets: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        step, sep, seconds = item.partition(":")
        try:
            value = float(seconds)
        except ValueError:
            value = -1.0
        if not sep or step not in STEPS or value <= 0:
            raise PolicyError(f"SIGAP_REPORT_TARGETS is 'step:seconds,…' with steps {', '.join(STEPS)}")
        targets[step] = value
    return targets


@dataclass(frozen=True, slots=True)
class Office:
    """The printed pages' letterhead and signature block."""

    name: str = "DINAS SOSIAL KOTA KEDIRI"
    address: str = ""
    signatory_title: str = "Kepala Dinas Sosial Kota Kediri"
    signatory_name: str = ""
    signatory_nip: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    allowance: AllowanceRule = AllowanceRule("per_day", 100_000)
    max_deployment_s: float = 12 * 3600.0
    targets: dict[str, float] = field(default_factory=lambda: {"reported_to_first_offer": 60.0})
    target_share: float = 0.9
    office: Office = Office()


# --- periods --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in epoch seconds; `label` as the office writes it."""

    start: float
    end: float
    label: str


_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def wib_day(moment: float) -> int:
    """The WIB date of a moment as a day number (days since 1970-01-01): cheap to compare and count."""
    return int((moment + WIB_OFFSET_S) // DAY_S)


def day_date(day: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + day)


def wib_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=WIB).timestamp()


def wib_date(moment: float) -> date:
    return datetime.fromtimestamp(moment, WIB).date()


def month_period(text: str) -> Period:
    """`2026-11` → the month in WIB; ValueError (with a Bahasa Indonesia message) otherwise."""
    match = _MONTH.match(text or "")
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise ValueError("bulan ditulis YYYY-MM, mis. 2026-11")
    year, month = int(match[1]), int(match[2])
    first = date(year, month, 1)
    after = date(year + month // 12, month % 12 + 1, 1)
    return Period(wib_midnight(first), wib_midnight(after), f"{_MONTHS[month - 1]} {year}")


def parse_day(text: str) -> date:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        raise ValueError("tanggal ditulis YYYY-MM-DD, mis. 2026-11-28") from None
    if len(text) != 10 or day.year < 2000:
        raise ValueError("tanggal ditulis YYYY-MM-DD, mis. 2026-11-28")
    return day


def day_period(text: str) -> Period:
    day = parse_day(text)
    return Period(wib_midnight(day), wib_midnight(day + timedelta(days=1)), date_label(day))


def range_period(start_text: str, end_text: str) -> Period:
    """`from`/`to` as dates (WIB, both days included) or ISO times with an offset (end excluded)."""
    start = parse_bound(start_text, end=False)
    end = parse_bound(end_text, end=True)
    if end <= start:
        raise ValueError("'to' harus sesudah 'from'")
    if end - start > MAX_PERIOD_DAYS * DAY_S:
        raise ValueError(f"periode paling panjang {MAX_PERIOD_DAYS} hari")
    last = wib_date(end - 1)
    return Period(start, end, f"{date_label(wib_date(start))} – {date_label(last)}")


def parse_bound(text: str, *, end: bool) -> float:
    """One end of a range: a date (WIB; an end date is included) or an ISO time with an offset."""
    if len(text or "") == 10:
        day = parse_day(text)
        return wib_midnight(day + timedelta(days=1) if end else day)
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(
            "ditulis YYYY-MM-DD atau waktu ISO 8601 dengan zona, mis. 2026-11-01T00:00+07:00"
        ) from None
    if moment.tzinfo is None:
        raise ValueError("waktu ISO 8601 perlu zona waktu, mis. +07:00")
    return moment.timestamp()


def date_label(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def wib_text(moment: float | None, seconds: bool = False) -> str:
    """`2026-11-28 14:05 WIB` (CSV and tables)."""
    if moment is None:
        return ""
    local = datetime.fromtimestamp(moment, WIB)
    return f"{local:%Y-%m-%d %H:%M:%S} WIB" if seconds else f"{local:%Y-%m-%d %H:%M} WIB"


def rupiah(amount: float) -> str:
    """`Rp 1.250.000` (Indonesian thousands separator)."""
    return "Rp " + f"{round(amount):,}".replace(",", ".")


def decimal_id(value: float | None, places: int = 1) -> str:
    """`12,5` (Indonesian decimal comma); empty for None."""
    if value is None:
        return "-"
    return f"{value:,.{places}f}".replace(",", "_").replace(".", ",").replace("_", ".")
