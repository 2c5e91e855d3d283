"""What the rules decided about one document: produce an event, or ignore it with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.events import WeatherAlertCancelled, WeatherAlertIssued, WeatherAlertUpdated
from services.gateway.bmkg.area import NOWHERE, Affected

AlertStatus = Literal["issued", "updated", "cancelled"]
IgnoreCode = Literal["expired", "elsewhere", "not_actual", "unsupported"]
AlertPayload = WeatherAlertIssued | WeatherAlertUpdated | WeatherAlertCancelled


@dataclass(frozen=True, slots=True)
class Produce:
    """Publish `payload` on `weather-alerts`, once per `dedupe_key`."""

    alert_id: str
    status: AlertStatus
    payload: AlertPayload
    dedupe_key: str  # "{identifier}:{msgType}": an Update or Cancel of a known id still passes
    affected: Affected = NOWHERE


@dataclass(frozen=True, slots=True)
class Ignored:
    """Not for Kota Kediri (or not usable now); `reason` is for logs and the HTTP answer."""

    alert_id: str
    code: IgnoreCode
    reason: str


Outcome = Produce | Ignored
