"""A deployment: an accepted offer, from the accept to its end, with the time en route and on scene.

Pure. The end is the release, else the incident's close or cancel, else `now`; never more than the
configured maximum after the accept (a volunteer who never pressed "selesai" does not earn a week).
An accept called off by a cancellation before the volunteer set out is no deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.reports.ledger import IncidentRow, OfferRow
from services.gateway.reports.policy import wib_day


@dataclass(frozen=True, slots=True)
class Deployment:
    offer: OfferRow
    start: float
    end: float
    en_route_s: float
    on_scene_s: float

    def days(self) -> range:
        """The WIB dates the deployment touches, as day numbers (`policy.wib_day`)."""
        return range(wib_day(self.start), wib_day(max(self.start, self.end - 1e-6)) + 1)

    def within(self, start: float, end: float) -> tuple[float, float]:
        """Seconds en route and on scene inside [start, end)."""
        o = self.offer
        en_route_end = o.on_scene_at or o.released_at or self.end
        lo, hi = max(self.start, start), min(self.end, end)
        return (
            _overlap(o.en_route_at, en_route_end, lo, hi),
            _overlap(o.on_scene_at, o.released_at or self.end, lo, hi),
        )


def _overlap(a: float | None, b: float, lo: float, hi: float) -> float:
    """Seconds of [a, b) inside [lo, hi)."""
    if a is None:
        return 0.0
    return max(0.0, min(b, hi) - max(a, lo))


def deployment_of(
    offer: OfferRow, incident: IncidentRow | None, max_s: float, now: float
) -> Deployment | None:
    cancelled, ended = (incident.cancelled_at, incident.ended_at) if incident is not None else (None, None)
    return deployment_with(offer, cancelled, ended, max_s, now)


def deployment_with(
    offer: OfferRow, cancelled: float | None, ended: float | None, max_s: float, now: float
) -> Deployment | None:
    """`deployment_of` with the incident's cancel and end already looked up (many offers, one lookup)."""
    if offer.accepted_at is None:
        return None
    set_out = offer.en_route_at is not None or offer.on_scene_at is not None
    if (
        cancelled is not None
        and not set_out
        and (offer.released_at is None or offer.released_at >= cancelled)
    ):
        return None
    start = offer.accepted_at
    natural = offer.released_at or ended or now
    end = min(max(natural, start), start + max_s)
    en_route, on_scene = Deployment(offer, start, end, 0.0, 0.0).within(start, end)
    return Deployment(offer, start, end, en_route, on_scene)
