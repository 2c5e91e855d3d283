"""Identifiers people read aloud on the radio: `INC-20261128-0K3F9A7Z`.

The date is the day in Kota Kediri (WIB, UTC+7). The suffix is Crockford base32 (no I, L, O, U) of the
milliseconds since WIB midnight (27 bits) followed by 13 random bits, so ids sort by time as strings and
two gateways posting in the same millisecond still differ (1 in 8192 for that one millisecond).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from schemas.times import WIB

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 13
_SUFFIX_CHARS = 8  # 40 bits: 27 of time of day, 13 random


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_incident_id(now: datetime, random_bits: int | None = None) -> str:
    local = now.astimezone(WIB)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    ms = int((local - midnight).total_seconds() * 1000)
    rnd = secrets.randbits(_RANDOM_BITS) if random_bits is None else random_bits & ((1 << _RANDOM_BITS) - 1)
    return f"INC-{local:%Y%m%d}-{_base32((ms << _RANDOM_BITS) | rnd, _SUFFIX_CHARS)}"


def new_volunteer_id() -> str:
    """For volunteers registered without an id (the demo roster uses `V-001`…)."""
    return "V-" + _base32(secrets.randbits(40), 8)


def to_wib(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(WIB)
