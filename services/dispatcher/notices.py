"""Notification requests the dispatcher asks the notifier to deliver (DESIGN.md §4). Pure.

Each request has a deterministic `notification_id` (derived from the offer, the alert or the
understaffed episode), so a redelivered event asks for the same notification again and the notifier
hands it to a provider at most once.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from schemas.events import (
    ChannelAddress,
    MessageContext,
    NotificationRequested,
    Recipient,
    VolunteerProfile,
    WeatherAlertInfo,
)
from schemas.vocabulary import ChannelType, NotificationKind
from services.common import links
from services.common.notifications import notification_id
from services.common.replies import ReplyCode, reply_text
from services.dispatcher.incident import Assignment, IncidentState

RECIPIENTS_KEPT = 4096
_recipients: OrderedDict[int, tuple[VolunteerProfile, Recipient]] = OrderedDict()
"""Recipients made, by the profile object they were made from (kept alive here, so its id is not
reused): the dispatcher parses a volunteer's profile once (`telling.parsed_profile`) and tells them of an
offer and of its end from the same object, so the recipient — validated, with its channels — is made
once too. Profiles are never changed in place, nor are recipients (pydantic keeps a model passed as a
field value as it is, so notices share it)."""


def volunteer_recipient(profile: VolunteerProfile) -> Recipient:
    """The volunteer's channels in their own order; a volunteer who listed none still has a phone."""
    kept = _recipients.get(id(profile))
    if kept is not None and kept[0] is profile:
        _recipients.move_to_end(id(profile))
        return kept[1]
    channels = list(profile.channels) or [ChannelAddress(type=ChannelType.SMS, address=profile.phone)]
    recipient = Recipient(
        volunteer_id=profile.volunteer_id, name=profile.name, language=profile.language, channels=channels[:6]
    )
    _recipients[id(profile)] = (profile, recipient)
    if len(_recipients) > RECIPIENTS_KEPT:
        _recipients.popitem(last=False)
    return recipient


def _incident_context(state: IncidentState, **extra: object) -> MessageContext:
    return MessageContext(
        incident_id=state.incident_id,
        incident_type=state.type,
        severity=state.severity,
        title=state.title[:200],
        kelurahan_code=state.kelurahan_code,
        location=state.location,
        **extra,
    )


def offer_link(
    assignment: Assignment, incident_id: str, *, public_url: str, secret: str, link_ttl: timedelta
) -> str:
    """The signed link of an offer; it keeps serving en route / on scene / released for `link_ttl`."""
    claims = links.LinkClaims(
        kind="offer",
        volunteer_id=assignment.volunteer_id,
        offer_id=assignment.offer_id,
        incident_id=incident_id,
        expires_at=assignment.offered_at + link_ttl,
    )
    return links.response_url(public_url, links.sign(claims, secret))


def offer_notice(
    state: IncidentState,
    assignment: Assignment,
    profile: VolunteerProfile,
    *,
    public_url: str,
    secret: str,
    link_ttl: timedelta,
) -> NotificationRequested:
    url = offer_link(assignment, state.incident_id, public_url=public_url, secret=secret, link_ttl=link_ttl)
    return NotificationRequested(
        notification_id=notification_id("offer", assignment.offer_id),
        kind=NotificationKind.OFFER,
        recipient=volunteer_recipient(profile),
        deadline=assignment.expires_at,
        incident_id=state.incident_id,
        offer_id=assignment.offer_id,
        context=_incident_context(
            state,
            unit=assignment.unit,
            skill=assignment.skill,
            response_url=url,
            extra={"distance_km": assignment.distance_km, "expires_at": assignment.expires_at.isoformat()},
        ),
    )


def ended_notice(
    kind: NotificationKind,
    state: IncidentState,
    assignment: Assignment,
    profile: VolunteerProfile,
    reason: str = "",
) -> NotificationRequested:
    """A withdrawal (the offer is off) or a cancellation (the assignment is over: cancelled or closed)."""
    return NotificationRequested(
        notification_id=notification_id(kind.value, assignment.offer_id),
        kind=kind,
        recipient=volunteer_recipient(profile),
        incident_id=state.incident_id,
        offer_id=assignment.offer_id,
        context=_incident_context(
            state,
            unit=assignment.unit,
            skill=assignment.skill,
            reason=reason[:500],
            extra={"incident_status": state.status.value},
        ),
    )


def reply_notice(
    state: IncidentState,
    assignment: Assignment,
    profile: VolunteerProfile,
    outcome: ReplyCode,
    *,
    channel: ChannelType | None,
    channel_ref: str = "",
) -> NotificationRequested:
    """The outcome of a volunteer's answer on a chat channel, sent back on that channel (issue 18); on
    Telegram it edits the message whose button was pressed (`reply_to`)."""
    recipient = volunteer_recipient(profile)
    own = [c for c in recipient.channels if c.type == channel]
    if own and own != recipient.channels:
        recipient = recipient.model_copy(update={"channels": own[:1]})
    return NotificationRequested(
        notification_id=notification_id("reply", assignment.offer_id, outcome),
        kind=NotificationKind.REPLY,
        recipient=recipient,
        incident_id=state.incident_id,
        offer_id=assignment.offer_id,
        context=_incident_context(
            state,
            reason=reply_text(outcome, profile.language),
            extra={"reply_to": channel_ref} if channel_ref else {},
        ),
    )


def understaffed_notices(
    state: IncidentState, coordinators: list[Recipient], *, episode: int, open_slots: int, reason: str
) -> list[NotificationRequested]:
    return [
        NotificationRequested(
            notification_id=notification_id("understaffed", state.incident_id, str(episode), str(index)),
            kind=NotificationKind.UNDERSTAFFED,
            recipient=person,
            incident_id=state.incident_id,
            context=_incident_context(state, reason=reason[:500], open_slots=open_slots),
        )
        for index, person in enumerate(coordinators)
    ]


def standby_notice(
    alert: WeatherAlertInfo, thread_id: str, profile: VolunteerProfile, kelurahan_code: str, now: datetime
) -> NotificationRequested:
    """ "Be ready": no offer, no reservation (DESIGN.md §6)."""
    return NotificationRequested(
        notification_id=notification_id("standby", thread_id, profile.volunteer_id),
        kind=NotificationKind.STANDBY,
        recipient=volunteer_recipient(profile),
        deadline=alert.expires if alert.expires and alert.expires > now else None,
        context=MessageContext(
            title=(alert.event or alert.headline)[:200],
            kelurahan_code=kelurahan_code,
            unit=profile.unit,
            reason=alert.description[:500],
            alert_headline=alert.headline[:500],
            alert_expires=alert.expires,
            extra={"alert_id": alert.alert_id, "alert_kind": alert.kind, "severity": alert.severity},
        ),
    )
