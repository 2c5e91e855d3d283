"""The roster as CSV (import/export by the ops room) and its bulk production onto the `volunteers` topic.

One row per volunteer:

    id,name,phone,unit,skills,certifications,home_kelurahan_code,lat,lon,channels,on_duty,language,nia,rank

`unit` names one unit or several, `;`-separated, the first being the main one (`tagana;karang_taruna`:
an IPSM member of both); `nia` (Tagana member number) and `rank` may be empty or absent. `skills` are
`;`-separated (`water_rescue;evacuation`), `certifications` are `skill:YYYY-MM-DD` pairs, `channels`
are `type:address` pairs in fallback order (`whatsapp:+62812…;outbox:V-001`), `on_duty` is true/false
(also 1/0, ya/tidak), `lat`/`lon` may be empty. Export writes the same format, so an export
imports back unchanged.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from schemas.envelope import Envelope, make_event
from schemas.events import VolunteerProfile, VolunteerRegistered, VolunteerUpdated
from services.common.kafka import key_of

COLUMNS = (
    "id",
    "name",
    "phone",
    "unit",
    "skills",
    "certifications",
    "home_kelurahan_code",
    "lat",
    "lon",
    "channels",
    "on_duty",
    "language",
    "nia",
    "rank",
)
_TRUE = {"true", "1", "yes", "ya", "y"}
_FALSE = {"false", "0", "no", "tidak", "t", "n", ""}
SOURCE = "sigap-cli"


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    volunteer_id: str
    errors: list[str]


@dataclass
class ParsedRoster:
    profiles: list[tuple[int, VolunteerProfile]] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _pairs(text: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in _split(text):
        name, sep, value = item.partition(":")
        if not sep:
            raise ValueError(f"{what}: {item!r} is not 'name:value'")
        pairs.append((name.strip(), value.strip()))
    return pairs


def row_to_profile(row: dict[str, str]) -> VolunteerProfile:
    """One CSV row as a profile; ValueError / ValidationError name what is wrong."""

    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    on_duty = get("on_duty").lower()
    if on_duty not in _TRUE | _FALSE:
        raise ValueError(f"on_duty: {on_duty!r} is not true/false")
    lat, lon = get("lat"), get("lon")
    if bool(lat) != bool(lon):
        raise ValueError("lat/lon: give both or neither")
    data: dict[str, Any] = {
        "volunteer_id": get("id"),
        "name": get("name"),
        "phone": get("phone"),
        "units": _split(get("unit")),
        "nia": get("nia") or None,
        "rank": get("rank") or None,
        "skills": _split(get("skills")),
        "certifications": [
            {"skill": s, "expires_on": d} for s, d in _pairs(get("certifications"), "certifications")
        ],
        "home_kelurahan_code": get("home_kelurahan_code"),
        "location": {"lat": lat, "lon": lon} if lat else None,
        "channels": [{"type": t, "address": a} for t, a in _pairs(get("channels"), "channels")],
        "on_duty": on_duty in _TRUE,
        "language": get("language") or "id",
    }
    return VolunteerProfile.model_validate(data)


def _describe(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        out = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "row"
            out.append(f"{where}: {err['msg']}")
        return out
    return [str(exc)]


def parse_csv(lines: Iterable[str]) -> ParsedRoster:
    """Every row, validated; rejected rows carry their line number (the header is line 1)."""
    reader = csv.DictReader(lines)
    missing = [
        c
        for c in ("id", "name", "phone", "unit", "home_kelurahan_code")
        if c not in (reader.fieldnames or [])
    ]
    parsed = ParsedRoster()
    if missing:
        parsed.rejected.append(RejectedRow(1, "", [f"header: missing column(s) {', '.join(missing)}"]))
        return parsed
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        ident = (row.get("id") or "").strip()
        try:
            profile = row_to_profile(row)
        except (ValueError, ValidationError) as exc:
            parsed.rejected.append(RejectedRow(line, ident, _describe(exc)))
            continue
        if profile.volunteer_id in seen:
            parsed.rejected.append(
                RejectedRow(line, ident, [f"id: duplicate of line {seen[profile.volunteer_id]}"])
            )
            continue
        seen[profile.volunteer_id] = line
        parsed.profiles.append((line, profile))
    return parsed


def profile_to_row(profile: VolunteerProfile) -> dict[str, str]:
    return {
        "id": profile.volunteer_id,
        "name": profile.name,
        "phone": profile.phone,
        "unit": ";".join(u.value for u in profile.units),
        "nia": profile.nia or "",
        "rank": profile.rank or "",
        "skills": ";".join(s.value for s in profile.skills),
        "certifications": ";".join(
            f"{c.skill.value}:{c.expires_on.isoformat()}" for c in profile.certifications
        ),
        "home_kelurahan_code": profile.home_kelurahan_code,
        "lat": f"{profile.location.lat:.6f}" if profile.location else "",
        "lon": f"{profile.location.lon:.6f}" if profile.location else "",
        "channels": ";".join(f"{c.type.value}:{c.address}" for c in profile.channels),
        "on_duty": "true" if profile.on_duty else "false",
        "language": profile.language.value,
    }


def write_csv(profiles: Iterable[VolunteerProfile]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield buffer.getvalue()
    for profile in profiles:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(profile_to_row(profile))
        yield buffer.getvalue()


async def produce_profiles(
    producer: AIOKafkaProducer,
    topic: str,
    profiles: list[VolunteerProfile],
    *,
    known: Callable[[list[str]], Any] | None = None,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Produce every profile onto `topic` (the compacted `volunteers`), in batches whose records are
    all in flight at once and acknowledged together. `known(ids)` (awaitable → list[int | None]) tells
    which are already in the roster (→ `volunteer.updated`) with their link generation, which the
    update carries over (None: not in the roster). Returns (registered, updated)."""
    registered = updated = 0
    for start in range(0, len(profiles), batch_size):
        batch = profiles[start : start + batch_size]
        flags = list(await known([p.volunteer_id for p in batch])) if known else [None] * len(batch)
        futures = []
        for profile, generation in zip(batch, flags, strict=True):
            exists = generation is not None
            payload: VolunteerUpdated | VolunteerRegistered
            if exists:
                carried = profile.model_copy(update={"link_generation": generation})
                payload = VolunteerUpdated(profile=carried)
            else:
                payload = VolunteerRegistered(profile=profile)
            event: Envelope[Any] = make_event(payload, source=SOURCE)
            futures.append(await producer.send(topic, event.to_json(), key=key_of(event)))
            updated += int(exists)
            registered += int(not exists)
        await asyncio.gather(*futures)
        if progress:
            progress(start + len(batch), len(profiles))
    return registered, updated
