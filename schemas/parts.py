"""The parts event payloads are made of (`schemas.events` re-exports them): needs, volunteer profiles
and their channel addresses, and the report of a rapid assessment (kaji cepat). Not events themselves.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.fields import (
    GeoPoint,
    Identifier,
    KelurahanCode,
    LongText,
    PhoneE164,
    ShortText,
    UtcDatetime,
    check_in_service_area,
)
from schemas.vocabulary import ChannelType, Language, Skill, Unit

MAX_NEED_COUNT = 50


# --- shared parts -----------------------------------------------------------------------------


class Need(BaseModel):
    """People of one unit (and skill) an incident needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Unit
    skill: Skill | None = None
    count: int = Field(ge=1, le=MAX_NEED_COUNT)


class ChannelAddress(BaseModel):
    """Where a volunteer can be reached on one channel."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    type: ChannelType
    address: str = Field(min_length=1, max_length=254)

    @model_validator(mode="after")
    def _address_fits_channel(self) -> ChannelAddress:
        from schemas.fields import normalise_phone

        if self.type in (ChannelType.WHATSAPP, ChannelType.SMS):
            object.__setattr__(self, "address", normalise_phone(self.address))
        elif self.type == ChannelType.EMAIL and ("@" not in self.address or " " in self.address):
            raise ValueError(f"{self.address!r} is not an e-mail address")
        elif self.type == ChannelType.TELEGRAM and not (
            self.address.lstrip("-").isdigit() or self.address.startswith("@")
        ):
            raise ValueError("a Telegram address is a numeric chat id or an @username")
        return self


class Certification(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    skill: Skill
    expires_on: date


def units_of(data: Any) -> Any:
    """`units` (one or more) and `unit` (the first of them) from whichever a body gives: `unit` alone
    is the older form, still accepted; given both, `unit` must be one of `units` and comes first."""
    if not isinstance(data, dict):
        return data
    unit, units = data.get("unit"), data.get("units")
    if units is None or units == []:
        if unit is not None:
            data = {**data, "units": [unit]}
        return data
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
        return data  # the field validation names what is wrong
    if unit is not None and not isinstance(unit, str):
        return data
    units = list(dict.fromkeys(units))
    if unit is None:
        unit = units[0]
    elif unit not in units:
        raise ValueError(f"unit {unit!r} is not one of units {units}")
    return {**data, "unit": unit, "units": [unit, *(u for u in units if u != unit)]}


class VolunteerProfile(BaseModel):
    """Everything the roster knows of one volunteer; the `volunteers` topic carries it whole.

    An IPSM member often belongs to several units (a Tagana member who is also in Karang Taruna):
    `units` lists them all and matching offers the volunteer for a need of any of them; `unit` is the
    first, kept so that readers of the older one-unit form keep working."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    volunteer_id: Identifier
    name: ShortText
    phone: PhoneE164
    unit: Unit = Field(description="the first of `units` (the older one-unit form)")
    units: list[Unit] = Field(default_factory=list, max_length=len(Unit), description="one or more")
    nia: str | None = Field(default=None, max_length=40, description="Tagana member number (NIA)")
    rank: str | None = Field(default=None, max_length=60, description="rank or position, as the unit has it")
    skills: list[Skill] = Field(default_factory=list, max_length=len(Skill))
    certifications: list[Certification] = Field(default_factory=list, max_length=20)
    home_kelurahan_code: KelurahanCode
    location: GeoPoint | None = None
    channels: list[ChannelAddress] = Field(default_factory=list, max_length=6)
    on_duty: bool = False
    language: Language = Language.ID
    active: bool = True
    allow_outside_area: bool = False
    link_generation: int = Field(
        default=0,
        ge=0,
        description="self-service links carry the generation they were issued in; revoking moves it on",
    )

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data: Any) -> Any:
        return units_of(data)

    @model_validator(mode="after")
    def _check(self) -> VolunteerProfile:
        check_in_service_area(self.location, self.allow_outside_area)
        self.skills = list(dict.fromkeys(self.skills))
        if not self.units:
            self.units = [self.unit]
        return self


# --- rapid assessment (kaji cepat) -------------------------------------------------------------

UrgentNeed = Literal["public_kitchen", "shelter", "evacuation", "logistics", "psychosocial", "health"]
_COUNT = Field(default=None, ge=0, le=1_000_000)


class HousesDamaged(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    light: int | None = _COUNT
    moderate: int | None = _COUNT
    heavy: int | None = _COUNT


class AssessmentReport(BaseModel):
    """What TRC's rapid assessment (kaji cepat; Perka BNPB 9/2008) found. Every field is optional, but
    a report says at least one thing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    families: int | None = Field(default=None, ge=0, le=1_000_000, description="families (KK) affected")
    people: int | None = Field(default=None, ge=0, le=1_000_000, description="people (jiwa) affected")
    houses_damaged: HousesDamaged | None = None
    evacuees: int | None = _COUNT
    evacuee_sites: list[ShortText] = Field(default_factory=list, max_length=20, description="where")
    injured: int | None = _COUNT
    dead: int | None = _COUNT
    missing: int | None = _COUNT
    urgent_needs: list[UrgentNeed] = Field(default_factory=list, max_length=6)
    notes: LongText = ""
    assessed_at: UtcDatetime | None = None
    location: GeoPoint | None = None

    @model_validator(mode="after")
    def _says_something(self) -> AssessmentReport:
        self.urgent_needs = list(dict.fromkeys(self.urgent_needs))
        houses = self.houses_damaged
        if not any(
            (
                *(v is not None for v in (self.families, self.people, self.evacuees)),
                *(v is not None for v in (self.injured, self.dead, self.missing, self.assessed_at)),
                houses is not None and any(v is not None for v in houses.model_dump().values()),
                self.evacuee_sites,
                self.urgent_needs,
                self.notes,
                self.location is not None,
            )
        ):
            raise ValueError("an assessment must report at least one finding")
        return self
