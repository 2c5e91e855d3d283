"""What a roster event becomes in Redis: the indexes a profile goes into, and the keys and arguments
of `apply_profile.lua`, which moves the volunteer out of the indexes its hash listed (read first,
`roster_checks`) and into the profile's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import reference
from schemas.events import VolunteerProfile
from schemas.fields import GeoPoint
from services.common.readmodels import Keys, change_notice
from services.dispatcher.roster_checks import Indexes
from services.dispatcher.roster_keys import RosterKeys
from services.dispatcher.weather import kelurahan_of


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """One roster event: the whole profile, when it happened, and a duty change's own fields."""

    profile: VolunteerProfile
    event_at: datetime
    on_duty: bool | None = None
    location: GeoPoint | None = None


def geo_keys(own: RosterKeys, profile: VolunteerProfile) -> list[str]:
    """Every index the volunteer is in while available: each of their units, alone and with each
    skill (a member of two units is a candidate for either; the scripts that reserve and free walk
    this whole list, so a reservation takes them out of all of them at once)."""
    return [
        key
        for unit in profile.units or [profile.unit]
        for key in (own.geo(unit), *(own.geo(unit, s) for s in profile.skills))
    ]


def apply_call(
    keys: Keys, own: RosterKeys, change: ProfileChange, now: datetime, before: Indexes
) -> tuple[list[str], list[Any]]:
    """`apply_profile.lua`'s keys and arguments: the change, and the indexes the hash listed `before`."""
    profile = change.profile
    duty = profile.on_duty if change.on_duty is None else change.on_duty
    if change.on_duty is not None or change.location is not None:
        location = change.location or profile.location
        profile = profile.model_copy(update={"on_duty": duty, "location": location})
    where = profile.location
    if where is None:
        home = reference.kelurahan(profile.home_kelurahan_code)
        where = GeoPoint(lat=home.lat, lon=home.lon)
    kel_keys = [
        own.kelurahan(unit, code)
        for unit in profile.units or [profile.unit]
        for code in sorted(kelurahan_of(profile))
    ]
    geo = geo_keys(own, profile)
    vid = profile.volunteer_id
    call_keys = [keys.volunteer(vid), keys.volunteers, own.resting, *geo, *kel_keys]
    call_keys += [*before.geo_keys, *before.kel_keys]
    args = [
        vid,
        profile.model_dump_json(),
        "1" if duty and profile.active else "0",
        repr(where.lat),
        repr(where.lon),
        profile.unit.value,
        len(geo),
        len(kel_keys),
        change.event_at.timestamp(),
        now.timestamp(),
        keys.changes,
        change_notice("volunteer", vid),
        len(before.geo_keys),
    ]
    return call_keys, args
