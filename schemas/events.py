"""Payloads of every event on Sigap's topics (DESIGN.md §5). One model per event type.

Each payload names its `EVENT_TYPE`; `schemas.envelope` wraps it in the common envelope. Add fields
only with defaults; bump `SCHEMA_VERSION` when a meaning changes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.fields import (
    GeoPoint,
    Identifier,
    KelurahanCode,
    LongText,
    ShortText,
    UtcDatetime,
    check_in_service_area,
)

# the parts payloads are made of live in `schemas.parts`; importers keep importing them from here
from schemas.parts import MAX_NEED_COUNT as MAX_NEED_COUNT
from schemas.parts import AssessmentReport as AssessmentReport
from schemas.parts import Certification as Certification
from schemas.parts import ChannelAddress as ChannelAddress
from schemas.parts import HousesDamaged as HousesDamaged
from schemas.parts import Need as Need
from schemas.parts import UrgentNeed as UrgentNeed
from schemas.parts import VolunteerProfile as VolunteerProfile
from schemas.parts import units_of as units_of
from schemas.vocabulary import (
    AssignmentStatus,
    ChannelType,
    IncidentStatus,
    IncidentType,
    Language,
    NotificationKind,
    Severity,
    Skill,
    Unit,
)

MAX_NEEDS = 20
OfferMode = Literal["one_per_slot", "broadcast"]


class Payload(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1


# --- incidents --------------------------------------------------------------------------------


class IncidentReported(Payload):
    EVENT_TYPE: ClassVar[str] = "incident.reported"

    incident_id: Identifier
    type: IncidentType
    severity: Severity
    title: ShortText
    description: LongText = ""
    location: GeoPoint
    kelurahan_code: KelurahanCode
    affected_people: int | None = Field(default=None, ge=0, le=1_000_000)
    needs: list[Need] = Field(default_factory=list, max_length=MAX_NEEDS)
    reported_by: str | None = Field(default=None, max_length=64)
    allow_outside_area: bool = False
    from_alert_id: str | None = Field(default=None, max_length=200)
    offer_mode: OfferMode | None = Field(
        default=None,
        description="one_per_slot: one offer per open slot; broadcast: a call-out to a multiple of the open "
        "slots, the first answers fill them (None: the run card's)",
    )

    @model_validator(mode="after")
    def _in_area(self) -> IncidentReported:
        check_in_service_area(self.location, self.allow_outside_area)
        return self


class IncidentCancelled(Payload):
    EVENT_TYPE: ClassVar[str] = "incident.cancelled"

    incident_id: Identifier
    reason: LongText = ""
    by: str | None = Field(default=None, max_length=64)


class IncidentClosed(Payload):
    EVENT_TYPE: ClassVar[str] = "incident.closed"

    incident_id: Identifier
    note: LongText = ""
    by: str | None = Field(default=None, max_length=64)


class IncidentStatusChanged(Payload):
    EVENT_TYPE: ClassVar[str] = "incident.status_changed"

    incident_id: Identifier
    status: IncidentStatus
    previous_status: IncidentStatus | None = None
    reason: str = Field(default="", max_length=500)
    needs: list[Need] = Field(
        default_factory=list,
        max_length=MAX_NEEDS,
        description="`reported`: the needs the dispatcher decided on (posted or from the run card)",
    )


# --- weather ----------------------------------------------------------------------------------


class WeatherAlertInfo(Payload):
    """A BMKG warning (CAP) or earthquake report that concerns, or may concern, Kota Kediri."""

    EVENT_TYPE: ClassVar[str] = "weather_alert.issued"

    alert_id: str = Field(min_length=1, max_length=200, description="CAP identifier or quake id")
    kind: Literal["cap", "earthquake"] = "cap"
    sender: str = Field(default="", max_length=200)
    language: Language = Language.ID
    event: str = Field(default="", max_length=200)
    headline: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=4000)
    severity: Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"] = "Unknown"
    urgency: Literal["Immediate", "Expected", "Future", "Past", "Unknown"] = "Unknown"
    certainty: Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"] = "Unknown"
    sent: UtcDatetime
    effective: UtcDatetime | None = None
    expires: UtcDatetime | None = None
    references: list[str] = Field(default_factory=list, max_length=50)
    affected_kelurahan: list[KelurahanCode] = Field(default_factory=list)
    affected_kecamatan: list[str] = Field(default_factory=list)
    web: str = Field(default="", max_length=500)
    magnitude: float | None = Field(default=None, ge=0, le=10)
    depth_km: float | None = Field(default=None, ge=0)
    epicentre: GeoPoint | None = None
    distance_km: float | None = Field(default=None, ge=0)
    felt: str = Field(default="", max_length=1000)


class WeatherAlertIssued(WeatherAlertInfo):
    EVENT_TYPE: ClassVar[str] = "weather_alert.issued"


class WeatherAlertUpdated(WeatherAlertInfo):
    EVENT_TYPE: ClassVar[str] = "weather_alert.updated"


class WeatherAlertCancelled(Payload):
    EVENT_TYPE: ClassVar[str] = "weather_alert.cancelled"

    alert_id: str = Field(min_length=1, max_length=200)
    cancelled_alert_ids: list[str] = Field(default_factory=list, max_length=50)
    reason: str = Field(default="", max_length=1000)


# --- volunteers -------------------------------------------------------------------------------


class VolunteerRegistered(Payload):
    EVENT_TYPE: ClassVar[str] = "volunteer.registered"

    profile: VolunteerProfile


class VolunteerUpdated(Payload):
    EVENT_TYPE: ClassVar[str] = "volunteer.updated"

    profile: VolunteerProfile


class VolunteerDutyChanged(Payload):
    """Going on or off duty, or sharing a location. Carries the whole profile after the change, so the
    compacted `volunteers` topic keeps a complete roster under each key."""

    EVENT_TYPE: ClassVar[str] = "volunteer.duty_changed"

    profile: VolunteerProfile
    on_duty: bool
    location: GeoPoint | None = None


# --- offers and assignments -------------------------------------------------------------------

ResponseVia = Literal["link", "ops_room", "system"]


class OfferMade(Payload):
    EVENT_TYPE: ClassVar[str] = "offer.made"

    offer_id: Identifier
    incident_id: Identifier
    volunteer_id: Identifier
    need_index: int = Field(ge=0, lt=MAX_NEEDS)
    unit: Unit
    skill: Skill | None = None
    distance_km: float = Field(ge=0)
    expires_at: UtcDatetime


class _OfferAnswer(Payload):
    offer_id: Identifier
    incident_id: Identifier
    volunteer_id: Identifier
    via: ResponseVia = "link"
    by: str | None = Field(default=None, max_length=64)
    channel: ChannelType | None = Field(
        default=None,
        description="the chat channel a volunteer answered on (button or reply); None: the link or ops room",
    )
    channel_ref: str = Field(
        default="",
        max_length=200,
        description="the answered message at the provider (Telegram `chat_id:message_id`), for the follow-up",
    )


class OfferAccepted(_OfferAnswer):
    EVENT_TYPE: ClassVar[str] = "offer.accepted"


class OfferDeclined(_OfferAnswer):
    EVENT_TYPE: ClassVar[str] = "offer.declined"


class OfferExpired(Payload):
    EVENT_TYPE: ClassVar[str] = "offer.expired"

    offer_id: Identifier
    incident_id: Identifier
    volunteer_id: Identifier


class OfferWithdrawn(Payload):
    EVENT_TYPE: ClassVar[str] = "offer.withdrawn"

    offer_id: Identifier
    incident_id: Identifier
    volunteer_id: Identifier
    reason: Literal["cancelled", "closed", "reassigned", "ops_room"] = "cancelled"


class AssignmentStatusChanged(Payload):
    EVENT_TYPE: ClassVar[str] = "assignment.status_changed"

    offer_id: Identifier
    incident_id: Identifier
    volunteer_id: Identifier
    status: Literal[AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE, AssignmentStatus.RELEASED]
    via: ResponseVia = "link"
    by: str | None = Field(default=None, max_length=64)
    resting_until: UtcDatetime | None = Field(
        default=None, description="a release: the rest the dispatcher gave the volunteer (dispatch-log)"
    )


# --- dispatch ---------------------------------------------------------------------------------


class DispatchRetry(Payload):
    """Look again for volunteers for an incident's open slots (rule 7). The dispatcher produces it onto
    `responses`, keyed by the incident id, so the retry runs in the incident's own order."""

    EVENT_TYPE: ClassVar[str] = "dispatch.retry"

    incident_id: Identifier
    reason: str = Field(default="", max_length=200)


# --- notifications ----------------------------------------------------------------------------


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    volunteer_id: Identifier | None = None
    name: ShortText
    language: Language = Language.ID
    channels: list[ChannelAddress] = Field(min_length=1, max_length=6, description="in fallback order")


class MessageContext(BaseModel):
    """What a template needs to say what, where, which role, until when and how to answer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    incident_id: str | None = None
    incident_type: IncidentType | None = None
    severity: Severity | None = None
    title: str = Field(default="", max_length=200)
    kelurahan_code: KelurahanCode | None = None
    location: GeoPoint | None = None
    unit: Unit | None = None
    skill: Skill | None = None
    response_url: str | None = Field(default=None, max_length=1000)
    reason: str = Field(default="", max_length=500)
    alert_headline: str = Field(default="", max_length=500)
    alert_expires: UtcDatetime | None = None
    open_slots: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] = Field(default_factory=dict)


class NotificationRequested(Payload):
    EVENT_TYPE: ClassVar[str] = "notification.requested"

    notification_id: Identifier
    kind: NotificationKind
    recipient: Recipient
    deadline: UtcDatetime | None = Field(default=None, description="never sent after this")
    incident_id: Identifier | None = None
    offer_id: Identifier | None = None
    context: MessageContext = Field(default_factory=MessageContext)


class NotificationDelivered(Payload):
    EVENT_TYPE: ClassVar[str] = "notification.delivered"

    notification_id: Identifier
    channel: ChannelType
    provider_message_id: str = Field(default="", max_length=500)
    attempts: int = Field(ge=1)
    latency_ms: float = Field(ge=0)
    incident_id: Identifier | None = None
    offer_id: Identifier | None = None
    volunteer_id: Identifier | None = None
    render_as: ChannelType | None = Field(
        default=None,
        description="the channel whose shape the text took (the outbox shows what another channel "
        "would carry); with the request on `notifications`, what rebuilds the outbox",
    )


class NotificationFailed(Payload):
    EVENT_TYPE: ClassVar[str] = "notification.failed"

    notification_id: Identifier
    channel: ChannelType | None = None
    reason: str = Field(max_length=1000)
    retriable: bool = False
    attempts: int = Field(ge=0)
    incident_id: Identifier | None = None
    offer_id: Identifier | None = None
    volunteer_id: Identifier | None = None


# --- rapid assessment (kaji cepat) -------------------------------------------------------------


class IncidentAssessed(Payload):
    """A kaji cepat of an incident, from the TRC volunteer's link page or the ops room on their behalf.
    On `incidents`, keyed by the incident id; the dispatcher grows the needs by the assessment rules."""

    EVENT_TYPE: ClassVar[str] = "incident.assessed"

    incident_id: Identifier
    assessment: AssessmentReport
    via: ResponseVia = "ops_room"
    by: str | None = Field(default=None, max_length=64)
    volunteer_id: Identifier | None = None
    offer_id: Identifier | None = None


class NeedChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Unit
    skill: Skill | None = None
    count: int = Field(ge=0, le=MAX_NEED_COUNT)
    previous: int = Field(ge=0, le=MAX_NEED_COUNT)


class IncidentNeedsChanged(Payload):
    """The dispatcher changed an incident's needs (after a kaji cepat): on `dispatch-log`."""

    EVENT_TYPE: ClassVar[str] = "incident.needs_changed"

    incident_id: Identifier
    changes: list[NeedChange] = Field(max_length=MAX_NEEDS)
    reason: str = Field(default="", max_length=1000)
    assessment_event_id: str | None = Field(default=None, max_length=64)


# --- dead letters -----------------------------------------------------------------------------


class DeadLetter(Payload):
    EVENT_TYPE: ClassVar[str] = "dead_letter"

    topic: str = Field(max_length=249)
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    reason: str = Field(max_length=4000)
    original_base64: str = Field(description="the original record value, base64")
    original_event_type: str | None = None
    consumer: str = Field(default="", max_length=100)


# --- link revocation (issue 15) ---------------------------------------------------------------


class VolunteerLinksRevoked(Payload):
    """A coordinator revoked a volunteer's self-service links: the profile after it, its
    `link_generation` moved on, so the compacted `volunteers` topic keeps the revocation."""

    EVENT_TYPE: ClassVar[str] = "volunteer.links_revoked"

    profile: VolunteerProfile
    by: str | None = Field(default=None, max_length=64)


ALL_PAYLOADS: tuple[type[Payload], ...] = (
    IncidentReported,
    IncidentCancelled,
    IncidentClosed,
    IncidentStatusChanged,
    WeatherAlertIssued,
    WeatherAlertUpdated,
    WeatherAlertCancelled,
    VolunteerRegistered,
    VolunteerUpdated,
    VolunteerDutyChanged,
    OfferMade,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferWithdrawn,
    AssignmentStatusChanged,
    DispatchRetry,
    NotificationRequested,
    NotificationDelivered,
    NotificationFailed,
    DeadLetter,
    IncidentAssessed,
    IncidentNeedsChanged,
    VolunteerLinksRevoked,
)


# --- answers on chat channels (issue 18) ----------------------------------------------------------


class NotificationStatus(Payload):
    """A provider's later word on a message it accepted (WhatsApp's `statuses[]` webhook): sent to the
    phone, delivered, read by the volunteer, or failed after all. Published by the gateway on
    `deliveries`, keyed by the notification id."""

    EVENT_TYPE: ClassVar[str] = "notification.status"

    notification_id: Identifier | None = Field(
        default=None, description="from the message's biz_opaque_callback_data; None when it had none"
    )
    channel: ChannelType
    status: Literal["sent", "delivered", "read", "failed"]
    provider_message_id: str = Field(max_length=500)
    at: UtcDatetime
    reason: str = Field(default="", max_length=1000)


ALL_PAYLOADS = (*ALL_PAYLOADS, NotificationStatus)
