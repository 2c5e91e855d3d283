"""What the ops room and volunteers can ask for, turned into events on the broker.

The API routes, the board's forms and the volunteer pages all go through these functions, so a rule
(an offer must still be open to be answered, a closed incident cannot be cancelled, …) lives in one
place. Each returns only after the broker has acknowledged the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Literal

from schemas.api import IncidentCreate, IncidentView, VolunteerUpsert
from schemas.envelope import make_event, new_event_id
from schemas.events import (
    AssessmentReport,
    AssignmentStatusChanged,
    IncidentAssessed,
    IncidentCancelled,
    IncidentClosed,
    IncidentReported,
    OfferAccepted,
    OfferDeclined,
    ResponseVia,
    VolunteerDutyChanged,
    VolunteerLinksRevoked,
    VolunteerProfile,
    VolunteerRegistered,
    VolunteerUpdated,
)
from schemas.fields import GeoPoint
from schemas.reference import nearest_kelurahan
from schemas.vocabulary import AssignmentStatus, ChannelType
from services.common.topics import INCIDENTS, RESPONSES, VOLUNTEERS
from services.gateway.context import Gateway
from services.gateway.errors import ApiError, StoreUnavailable, conflict, not_found
from services.gateway.idempotency import fingerprint
from services.gateway.ids import new_incident_id, new_volunteer_id
from services.gateway.reads import OfferRef, RosterEntry

log = logging.getLogger(__name__)

SOURCE = "gateway"


# --- incidents --------------------------------------------------------------------------------


async def post_incident(
    gw: Gateway,
    body: IncidentCreate,
    *,
    by: str,
    idempotency_key: str | None = None,
    from_alert_id: str | None = None,
) -> tuple[str, bool]:
    """Report an incident; answer `(incident_id, replayed)` (replayed: an earlier post with the same
    Idempotency-Key already did it)."""
    incident_id, event_id = new_incident_id(gw.clock()), new_event_id()
    claim = None
    if idempotency_key is not None:
        fp = fingerprint(body.model_dump_json() + f"|{from_alert_id}")
        claim = await gw.idem.claim(idempotency_key, fp, incident_id, event_id)
        if not claim.publish:
            gw.metrics.idempotent_replays.inc()
            return claim.record.id, True
        incident_id, event_id = claim.record.id, claim.record.event_id
    kelurahan = body.kelurahan_code or nearest_kelurahan(body.location.lat, body.location.lon).code
    payload = IncidentReported(
        incident_id=incident_id,
        type=body.type,
        severity=body.severity,
        title=body.title,
        description=body.description,
        location=body.location,
        kelurahan_code=kelurahan,
        affected_people=body.affected_people,
        needs=body.needs or [],
        reported_by=by,
        allow_outside_area=body.allow_outside_area,
        from_alert_id=from_alert_id,
        offer_mode=body.offer_mode,
    )
    event = make_event(payload, source=SOURCE, correlation_id=incident_id, event_id=event_id)
    try:
        await gw.publisher.publish(INCIDENTS, event)
    except ApiError:
        if claim is not None and idempotency_key is not None:
            with contextlib.suppress(StoreUnavailable):
                await gw.idem.finish(idempotency_key, claim.record, ok=False)
        raise
    if claim is not None and idempotency_key is not None:
        await gw.idem.finish(idempotency_key, claim.record, ok=True)
    log.info("incident %s reported by %s (%s, %s)", incident_id, by, body.type, body.severity)
    return incident_id, False


async def _open_incident(gw: Gateway, incident_id: str, verb: str) -> IncidentView:
    view = await gw.reads.incident(incident_id)
    if view is None:
        raise not_found("incident", incident_id)
    if not view.status.is_open:
        raise conflict(
            "incident_not_open",
            f"incident {incident_id} is already {view.status.value}; it cannot be {verb}",
            status=view.status.value,
        )
    return view


async def cancel_incident(gw: Gateway, incident_id: str, *, reason: str, by: str) -> None:
    await _open_incident(gw, incident_id, "cancelled")
    payload = IncidentCancelled(incident_id=incident_id, reason=reason, by=by)
    await gw.publisher.publish(INCIDENTS, make_event(payload, source=SOURCE, correlation_id=incident_id))
    log.info("incident %s cancelled by %s", incident_id, by)


async def close_incident(gw: Gateway, incident_id: str, *, note: str, by: str) -> None:
    await _open_incident(gw, incident_id, "closed")
    payload = IncidentClosed(incident_id=incident_id, note=note, by=by)
    await gw.publisher.publish(INCIDENTS, make_event(payload, source=SOURCE, correlation_id=incident_id))
    log.info("incident %s closed by %s", incident_id, by)


async def assess_incident(
    gw: Gateway,
    incident_id: str,
    report: AssessmentReport,
    *,
    via: ResponseVia,
    by: str | None,
    volunteer_id: str | None = None,
    offer_id: str | None = None,
) -> str:
    """Record a kaji cepat (from the ops room, or the TRC volunteer's link page); the event's id."""
    await _open_incident(gw, incident_id, "assessed")
    payload = IncidentAssessed(
        incident_id=incident_id,
        assessment=report,
        via=via,
        by=by,
        volunteer_id=volunteer_id,
        offer_id=offer_id,
    )
    event = make_event(payload, source=SOURCE, correlation_id=incident_id)
    await gw.publisher.publish(INCIDENTS, event)
    log.info("incident %s assessed via %s", incident_id, via)
    return event.event_id


# --- offers and assignments -------------------------------------------------------------------

Progress = Literal["en_route", "on_scene", "released"]

# What a volunteer can report next, by the assignment's current status (DESIGN.md §2). Progress may
# skip a step (someone who forgot "en route" can still report "on scene"); it never goes back.
NEXT_STEPS: dict[AssignmentStatus, tuple[str, ...]] = {
    AssignmentStatus.OFFERED: ("accept", "decline"),
    AssignmentStatus.ACCEPTED: ("en_route", "on_scene", "released"),
    AssignmentStatus.EN_ROUTE: ("on_scene", "released"),
    AssignmentStatus.ON_SCENE: ("released",),
}
ACTIONS = ("accept", "decline", "en_route", "on_scene", "released")
# "The ops room can still record an answer" for a volunteer who declined or let the offer expire
# (rule 5): a late yes the dispatcher honours when the volunteer is still free and a slot is open.
LATE_YES = frozenset({AssignmentStatus.DECLINED, AssignmentStatus.EXPIRED})


def allowed_actions(ref: OfferRef, now_ts: float, via: ResponseVia = "link") -> tuple[str, ...]:
    """The answers an offer or assignment accepts now. A volunteer's link cannot answer an offer past
    its expiry; the ops room can record a late yes."""
    offered = ref.status == AssignmentStatus.OFFERED
    if via == "ops_room":
        if offered:
            return ("accept", "decline")
        if ref.status in LATE_YES:
            return ("accept",)
        return ()
    if offered and ref.expires_at and now_ts >= ref.expires_at.timestamp():
        return ()
    return NEXT_STEPS.get(ref.status, ())


async def offer_for(gw: Gateway, offer_id: str) -> OfferRef:
    ref = await gw.reads.offer(offer_id)
    if ref is None:
        raise not_found("offer", offer_id)
    return ref


async def act_on_offer(
    gw: Gateway,
    ref: OfferRef,
    action: str,
    *,
    via: ResponseVia,
    by: str | None,
    channel: ChannelType | None = None,
    channel_ref: str = "",
) -> None:
    """Answer an offer (accept/decline) or report progress on an assignment; `channel` names the chat
    channel a volunteer answered on (a button or a reply), `channel_ref` the message answered."""
    allowed = allowed_actions(ref, gw.clock().timestamp(), via)
    if action not in allowed:
        if ref.status == AssignmentStatus.OFFERED and not allowed:
            code, message = "offer_expired", f"offer {ref.offer_id} has expired"
        else:
            code = "offer_not_open"
            message = f"offer {ref.offer_id} is {ref.status.value}; '{action}' is not possible now"
        raise conflict(code, message, status=ref.status.value, allowed=list(allowed))
    common = {
        "offer_id": ref.offer_id,
        "incident_id": ref.incident_id,
        "volunteer_id": ref.volunteer_id,
        "via": via,
        "by": by,
    }
    payload: OfferAccepted | OfferDeclined | AssignmentStatusChanged
    if action == "accept":
        payload = OfferAccepted(**common, channel=channel, channel_ref=channel_ref)
    elif action == "decline":
        payload = OfferDeclined(**common, channel=channel, channel_ref=channel_ref)
    else:
        payload = AssignmentStatusChanged(status=AssignmentStatus(action), **common)
    await gw.publisher.publish(RESPONSES, make_event(payload, source=SOURCE, correlation_id=ref.incident_id))
    log.info("offer %s: %s via %s%s", ref.offer_id, action, via, f" ({channel.value})" if channel else "")


# --- volunteers -------------------------------------------------------------------------------


async def roster_entry(gw: Gateway, volunteer_id: str) -> RosterEntry:
    entry = await gw.reads.roster_entry(volunteer_id)
    if entry is None:
        raise not_found("volunteer", volunteer_id)
    return entry


async def upsert_volunteer(
    gw: Gateway, body: VolunteerUpsert
) -> tuple[str, Literal["volunteer.registered", "volunteer.updated"]]:
    """Register or replace a volunteer's profile. A last known location is kept when the body has none."""
    volunteer_id = body.id or new_volunteer_id()
    existing = await gw.reads.roster_entry(volunteer_id) if body.id else None
    location = body.location or (existing.profile.location if existing else None)
    profile = VolunteerProfile(
        volunteer_id=volunteer_id,
        name=body.name,
        phone=body.phone,
        unit=body.units[0],
        units=body.units,
        nia=body.nia,
        rank=body.rank,
        skills=body.skills,
        certifications=body.certifications,
        home_kelurahan_code=body.home_kelurahan_code,
        location=location,
        channels=body.channels,
        on_duty=body.on_duty,
        language=body.language,
        allow_outside_area=body.allow_outside_area or bool(existing and existing.profile.allow_outside_area),
        link_generation=existing.profile.link_generation if existing else 0,  # revoked links stay revoked
    )
    payload = VolunteerUpdated(profile=profile) if existing else VolunteerRegistered(profile=profile)
    await gw.publisher.publish(VOLUNTEERS, make_event(payload, source=SOURCE))
    log.info("volunteer %s: %s", volunteer_id, payload.EVENT_TYPE)
    return volunteer_id, "volunteer.updated" if existing else "volunteer.registered"


async def change_duty(
    gw: Gateway,
    volunteer_id: str,
    *,
    on_duty: bool,
    location: GeoPoint | None = None,
    allow_outside_area: bool = False,
) -> VolunteerProfile:
    """Go on or off duty and/or share a location; the event carries the whole profile after it."""
    entry = await roster_entry(gw, volunteer_id)
    data = entry.profile.model_dump()
    data["on_duty"] = on_duty
    if location is not None:
        data["location"] = location.model_dump()
    data["allow_outside_area"] = entry.profile.allow_outside_area or allow_outside_area
    profile = VolunteerProfile.model_validate(data)
    payload = VolunteerDutyChanged(profile=profile, on_duty=on_duty, location=location)
    await gw.publisher.publish(VOLUNTEERS, make_event(payload, source=SOURCE))
    log.info("volunteer %s: on_duty=%s location=%s", volunteer_id, on_duty, location is not None)
    return profile


REVOKE_APPLIED_WAIT_S = 5.0
"""How long a revocation waits for the dispatcher to apply it to the roster read model."""


async def revoke_links(gw: Gateway, volunteer_id: str, *, by: str | None = None) -> int:
    """Revoke every self-service link of the volunteer: `volunteer.links_revoked` on the `volunteers`
    topic, with the profile's `link_generation` moved on (the topic, not Redis, keeps it: a roster
    rebuild cannot bring a revoked link back). Waits, briefly, until the roster read model shows the
    new generation, so the old links are refused when this returns; returns the new generation."""
    entry = await roster_entry(gw, volunteer_id)
    generation = entry.profile.link_generation + 1
    profile = entry.profile.model_copy(update={"link_generation": generation})
    payload = VolunteerLinksRevoked(profile=profile, by=by)
    await gw.publisher.publish(VOLUNTEERS, make_event(payload, source=SOURCE))
    log.info("volunteer %s: self-service links revoked (generation %d)", volunteer_id, generation)
    deadline = time.monotonic() + REVOKE_APPLIED_WAIT_S
    while time.monotonic() < deadline:
        current = await gw.reads.roster_entry(volunteer_id)
        if current is None or current.link_generation >= generation:
            return generation
        await asyncio.sleep(0.05)
    log.warning("volunteer %s: revocation not yet applied by the dispatcher; it will be", volunteer_id)
    return generation
