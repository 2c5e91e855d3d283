"""Request and response bodies of the HTTP API (DESIGN.md §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import (
    MAX_NEEDS,
    AssessmentReport,
    Certification,
    ChannelAddress,
    Need,
    NeedChange,
    OfferMode,
    ResponseVia,
    units_of,
)
from schemas.fields import (
    GeoPoint,
    Identifier,
    KelurahanCode,
    LongText,
    PhoneE164,
    ShortText,
    check_in_service_area,
)
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
    VolunteerStatus,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- errors -----------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every error: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


# --- incidents --------------------------------------------------------------------------------


class IncidentCreate(_Body):
    type: IncidentType
    severity: Severity
    title: Annotated[str, Field(min_length=3, max_length=120)]
    description: LongText = ""
    location: GeoPoint
    kelurahan_code: KelurahanCode | None = Field(
        default=None, description="derived from the location (nearest kelurahan) when absent"
    )
    affected_people: int | None = Field(default=None, ge=0, le=1_000_000)
    needs: list[Need] | None = Field(
        default=None, max_length=MAX_NEEDS, description="explicit needs; the run card applies when absent"
    )
    allow_outside_area: bool = False
    offer_mode: OfferMode | None = Field(
        default=None,
        description="broadcast: offer a multiple of the open slots at once, the first answers fill them; "
        "one_per_slot: one offer per open slot (default: the run card's; extreme incidents broadcast)",
    )

    @model_validator(mode="after")
    def _in_area(self) -> IncidentCreate:
        check_in_service_area(self.location, self.allow_outside_area)
        return self


class IncidentAccepted(BaseModel):
    """The 202 answer to a post."""

    id: str
    status: Literal["reported"] = "reported"


class NeedView(BaseModel):
    unit: Unit
    skill: Skill | None = None
    count: int
    filled: int = 0
    offered: int = 0
    open: int = 0


class AssignmentView(BaseModel):
    offer_id: str
    volunteer_id: str
    volunteer_name: str = ""
    unit: Unit
    skill: Skill | None = None
    status: AssignmentStatus
    distance_km: float
    offered_at: datetime
    expires_at: datetime | None = None
    responded_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime | None = None


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    detail: str = ""


class IncidentView(BaseModel):
    id: str
    type: IncidentType
    severity: Severity
    title: str
    description: str = ""
    location: GeoPoint
    kelurahan_code: str
    kelurahan_name: str = ""
    kecamatan_name: str = ""
    affected_people: int | None = None
    status: IncidentStatus
    needs: list[NeedView]
    assignments: list[AssignmentView]
    timeline: list[TimelineEntry]
    reported_at: datetime
    updated_at: datetime
    assessment: AssessmentView | None = Field(default=None, description="the latest kaji cepat")
    assessments: int = Field(default=0, description="how many kaji cepat were received")


class IncidentList(BaseModel):
    items: list[IncidentView]


class CancelBody(_Body):
    reason: LongText = ""


class CloseBody(_Body):
    note: LongText = ""


class OfferAnswerAccepted(BaseModel):
    offer_id: str
    status: Literal["accepted", "declined"]


class IncidentCommandAccepted(BaseModel):
    """The 202 answer to a cancel or close: the event is on the broker; the dispatcher applies it."""

    id: str
    action: Literal["cancel", "close"]


# --- volunteers -------------------------------------------------------------------------------


class VolunteerUpsert(_Body):
    id: Identifier | None = None
    name: ShortText
    phone: PhoneE164
    unit: Unit | None = Field(default=None, description="one unit (older form); or `units`")
    units: list[Unit] = Field(default_factory=list, max_length=len(Unit), description="one or more units")
    nia: str | None = Field(default=None, max_length=40, description="Tagana member number (NIA)")
    rank: str | None = Field(default=None, max_length=60)
    skills: list[Skill] = Field(default_factory=list, max_length=len(Skill))
    certifications: list[Certification] = Field(default_factory=list, max_length=20)
    home_kelurahan_code: KelurahanCode
    location: GeoPoint | None = None
    channels: list[ChannelAddress] = Field(min_length=1, max_length=6)
    on_duty: bool = False
    language: Language = Language.ID
    allow_outside_area: bool = False

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data: Any) -> Any:
        return units_of(data)

    @model_validator(mode="after")
    def _in_area(self) -> VolunteerUpsert:
        if not self.units:
            raise ValueError("give `units` (one or more) or `unit`")
        check_in_service_area(self.location, self.allow_outside_area)
        return self


class DutyChange(_Body):
    on_duty: bool
    location: GeoPoint | None = None
    allow_outside_area: bool = False

    @model_validator(mode="after")
    def _in_area(self) -> DutyChange:
        check_in_service_area(self.location, self.allow_outside_area)
        return self


class VolunteerView(BaseModel):
    id: str
    name: str
    phone: str
    unit: Unit
    units: list[Unit] = Field(default_factory=list)
    nia: str | None = None
    rank: str | None = None
    skills: list[Skill]
    certifications: list[Certification]
    home_kelurahan_code: str
    location: GeoPoint | None
    channels: list[ChannelAddress]
    on_duty: bool
    language: Language
    status: VolunteerStatus
    active_incident_id: str | None = None
    active_offer_id: str | None = None
    deployments_30d: int = 0
    last_deployed_at: datetime | None = None


class VolunteerList(BaseModel):
    items: list[VolunteerView]


class VolunteerAccepted(BaseModel):
    """The 202 answer to a roster change: the event is on the broker; the dispatcher applies it."""

    id: str
    event: Literal["volunteer.registered", "volunteer.updated", "volunteer.duty_changed"]


class SelfServiceLink(BaseModel):
    """A volunteer's personal self-service link (`/v/{token}`): duty and location from the phone."""

    volunteer_id: str
    url: str
    expires_at: datetime
    generation: int


# --- outbox and weather -----------------------------------------------------------------------


class OutboxMessage(BaseModel):
    notification_id: str
    volunteer_id: str | None
    kind: NotificationKind
    channel: ChannelType
    address: str
    language: Language
    subject: str
    text: str
    response_url: str | None = None
    incident_id: str | None = None
    offer_id: str | None = None
    stored_at: datetime


class OutboxList(BaseModel):
    items: list[OutboxMessage]


class WeatherAlertView(BaseModel):
    alert_id: str
    kind: Literal["cap", "earthquake"]
    event: str
    headline: str
    severity: str
    urgency: str
    sent: datetime
    expires: datetime | None
    affected_kelurahan: list[str]
    affected_kecamatan: list[str]
    status: Literal["active", "cancelled", "expired"]
    draft_incident: IncidentCreate | None = None


class WeatherAlertList(BaseModel):
    items: list[WeatherAlertView]


class WeatherCapResult(BaseModel):
    """The answer to `POST /api/v1/weather/cap`: 202 once the event is on the broker (issued, updated,
    cancelled); 200 when nothing was published (ignored: not for Kota Kediri; duplicate: already
    received)."""

    alert_id: str
    status: Literal["issued", "updated", "cancelled", "ignored", "duplicate"]
    affected_kelurahan: list[str] = Field(default_factory=list)
    affected_kecamatan: list[str] = Field(default_factory=list)
    reason: str = ""


# --- rapid assessment (kaji cepat) --------------------------------------------------------------


class AssessmentBody(AssessmentReport):
    """`POST /api/v1/incidents/{id}/assessments`: what the kaji cepat found (all optional, at least one)."""


class AssessmentAccepted(BaseModel):
    """The 202 answer: the assessment is on the broker; the dispatcher grows the needs by it."""

    id: str
    event_id: str
    status: Literal["accepted"] = "accepted"


class AssessmentView(BaseModel):
    """The latest kaji cepat of an incident and what it changed in its needs."""

    report: AssessmentReport
    received_at: datetime
    via: ResponseVia = "ops_room"
    by: str | None = None
    volunteer_id: str | None = None
    changes: list[NeedChange] = Field(default_factory=list)


IncidentView.model_rebuild()
