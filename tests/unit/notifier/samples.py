"""Notification requests for the notifier's tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import ChannelAddress, MessageContext, NotificationRequested, Recipient
from schemas.fields import GeoPoint

# Ngronggo, Kecamatan Kota (Kemendagri code in schemas/data/kediri_wilayah.csv)
KELURAHAN = "35.71.02.1014"
LINK = "https://sigap.kedirikota.go.id/r/eyJrIjoib2ZmZXIiLCJ2IjoidjEiLCJlIjoxNzgwMDAwMDAwfQ.c2lnbmF0dXJl"


def request(
    channels: list[tuple[str, str]] | None = None,
    *,
    kind: str = "offer",
    language: str = "id",
    deadline: datetime | None = None,
    deadline_in_s: float | None = 300,
    notification_id: str | None = None,
    volunteer_id: str | None = "vol-1",
    **context: Any,
) -> NotificationRequested:
    if deadline is None and deadline_in_s is not None:
        deadline = datetime.now(UTC) + timedelta(seconds=deadline_in_s)
    ctx: dict[str, Any] = {
        "incident_type": "flood",
        "severity": "severe",
        "title": "Luapan Sungai Brantas",
        "kelurahan_code": KELURAHAN,
        "location": GeoPoint(lat=-7.8431, lon=112.0185),
        "unit": "tagana",
        "skill": "water_rescue",
        "response_url": LINK,
    }
    ctx.update(context)
    return NotificationRequested(
        notification_id=notification_id or uuid.uuid4().hex,
        kind=kind,
        recipient=Recipient(
            volunteer_id=volunteer_id,
            name="Budi Santoso",
            language=language,
            channels=[
                ChannelAddress(type=t, address=a) for t, a in (channels or [("whatsapp", "081234567890")])
            ],
        ),
        deadline=deadline,
        incident_id="inc-1",
        offer_id="off-1" if kind == "offer" else None,
        context=MessageContext(**ctx),
    )
