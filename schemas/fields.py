"""Validated field types shared by events and HTTP bodies."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from schemas import reference

# --- time -------------------------------------------------------------------------------------


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, stored in UTC. Naive timestamps are rejected."""


def utcnow() -> datetime:
    """The only clock read in `schemas`; services pass time into the pure core."""
    return datetime.now(UTC)


# --- phone numbers ----------------------------------------------------------------------------

_PHONE_PUNCTUATION = re.compile(r"[\s\-.()/]")
_NATIONAL = re.compile(r"[1-9]\d{6,11}")


def normalise_phone(value: Any) -> str:
    """Normalise an Indonesian phone number to E.164 (`+62…`).

    Accepts the forms people type: `0812-3456-7890`, `62812…`, `+62 812 3456 7890`, `(0354) 682…`.
    """
    if not isinstance(value, str):
        raise ValueError("phone number must be a string")
    text = _PHONE_PUNCTUATION.sub("", value.strip())
    if text.startswith("+62"):
        national = text[3:]
    elif text.startswith("+"):
        raise ValueError("only Indonesian numbers (+62) are accepted")
    elif text.startswith("62"):
        national = text[2:]
    elif text.startswith("0"):
        national = text[1:]
    else:
        raise ValueError("phone number must start with 0, 62 or +62")
    national = national.removeprefix("0")  # "+62 0812…" is a common slip
    if not _NATIONAL.fullmatch(national):
        raise ValueError("phone number must have 7 to 12 digits after the country code")
    if national.startswith("8") and not 9 <= len(national) <= 12:
        raise ValueError("mobile numbers (08…) have 10 to 13 digits")
    return "+62" + national


PhoneE164 = Annotated[str, BeforeValidator(normalise_phone), Field(examples=["+6281234567890"])]


def mask_phone(phone: str) -> str:
    """For logs: never a whole number."""
    return phone[:5] + "…" + phone[-3:] if len(phone) > 8 else "…"


# --- places -----------------------------------------------------------------------------------


def _known_kelurahan(code: str) -> str:
    if code not in reference.all_kelurahan():
        raise ValueError(f"unknown kelurahan code {code!r} (expected one of Kota Kediri's 35.71.CC.NNNN)")
    return code


KelurahanCode = Annotated[
    str,
    Field(pattern=r"^35\.71\.\d{2}\.\d{4}$", examples=["35.71.03.1006"]),
    AfterValidator(_known_kelurahan),
]


_service_area = reference.KOTA_KEDIRI_AREA


def configure_service_area(area: reference.BoundingBox) -> None:
    """Set the area outside which locations are refused (settings call this once at start)."""
    global _service_area  # noqa: PLW0603 - configuration read once at start
    _service_area = area


def service_area() -> reference.BoundingBox:
    return _service_area


class GeoPoint(BaseModel):
    """A WGS84 point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90, description="latitude in degrees")
    lon: float = Field(ge=-180, le=180, description="longitude in degrees")


def check_in_service_area(point: GeoPoint | None, allowed_outside: bool, field: str = "location") -> None:
    """Raise when a point lies outside the configured service area and that was not explicitly allowed."""
    if point is None or allowed_outside:
        return
    area = service_area()
    if not area.contains(point.lat, point.lon):
        raise ValueError(
            f"{field} ({point.lat}, {point.lon}) is outside the service area ({area}, SIGAP_SERVICE_AREA); "
            "set allow_outside_area to true if that is intended"
        )


# --- text -------------------------------------------------------------------------------------

ShortText = Annotated[str, Field(min_length=1, max_length=120)]
LongText = Annotated[str, Field(max_length=2000)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
