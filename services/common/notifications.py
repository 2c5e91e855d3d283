"""Notification ids and which delivery reports concern an offer — shared by the dispatcher (which makes
the requests) and the notifier (which puts an offer's report on `responses`). Pure.
"""

from __future__ import annotations

import hashlib

from schemas.events import NotificationDelivered, NotificationFailed, Payload


def notification_id(*parts: str) -> str:
    """The deterministic id of a notification request: the same offer (alert, episode) always asks for
    the same notification, so a redelivered event cannot reach a volunteer twice."""
    return "nt-" + hashlib.blake2b("/".join(parts).encode(), digest_size=12).hexdigest()


def offer_report_incident(payload: Payload) -> str | None:
    """The incident of a delivery or failure report of an offer notification; None for any other
    report (a withdrawal's or a cancellation's is sent once the offer is over, so it can change
    nothing on the incident's timeline)."""
    if (
        isinstance(payload, NotificationDelivered | NotificationFailed)
        and payload.incident_id
        and payload.offer_id
        and payload.notification_id == notification_id("offer", payload.offer_id)
    ):
        return payload.incident_id
    return None
