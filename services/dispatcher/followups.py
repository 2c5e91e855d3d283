"""The three producers of `responses` the dispatcher owns, which follow incidents up without an input:
offer expiry (claimed from the deadline schedule, rule 5), retries of understaffed incidents (rule 7),
and the end of volunteers' rests. The timers call them, and `Dispatch` when an incident freed
volunteers; what they produce is handled like any other event of the incident, by its owner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.envelope import make_event
from schemas.events import DispatchRetry, OfferExpired
from services.common.base_settings import CommonSettings
from services.common.topics import RESPONSES
from services.dispatcher import metrics
from services.dispatcher.outputs import Batch, Sender, derived_id
from services.dispatcher.roster import Roster
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import IncidentStore

log = logging.getLogger(__name__)


@dataclass
class FollowUps:
    roster: Roster
    incidents: IncidentStore
    sender: Sender
    settings: CommonSettings
    own: DispatcherSettings

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    async def request_retries(self, reason: str, now: datetime) -> int:
        """Ask every understaffed incident (the oldest 500) to look again: the periodic backstop of
        rule 7, for whatever the retries of freed volunteers did not reach."""
        return await self._retry(
            await self.incidents.claim_retries(await self.incidents.understaffed()), reason, now
        )

    async def wake_understaffed(
        self, reason: str, volunteer_ids: Sequence[str], now: datetime, exclude: Sequence[str] = ()
    ) -> int:
        """Volunteers became free (rule 7): ask the understaffed incidents they could help — the
        oldest few per volunteer of each kind of need they can fill (`SIGAP_DISPATCHER_RETRY_FANOUT`)
        — to look again. The work is bounded by the volunteers freed, never by how many incidents
        wait: during a shortage every free used to retry every understaffed incident."""
        claimed = await self.incidents.wake_for(volunteer_ids, self.own.dispatcher_retry_fanout, exclude)
        return await self._retry(claimed, reason, now)

    async def _retry(self, claimed: list[str], reason: str, now: datetime) -> int:
        """One `dispatch.retry` on `responses` for each incident (its retry flag already set)."""
        if not claimed:
            return 0
        batch = Batch(derived_id("retry", reason, now.isoformat()))
        for incident_id in claimed:
            batch.add(
                self.topic(RESPONSES),
                DispatchRetry(incident_id=incident_id, reason=reason[:200]),
                key=incident_id,
            )
        await batch.flush(self.sender)
        metrics.RETRIES.inc(len(claimed))
        log.info("retry requested for %d understaffed incidents (%s)", len(claimed), reason)
        return len(claimed)

    async def expire_due(self, now: datetime, owns: Callable[[str], bool] = lambda incident_id: True) -> int:
        """Claim offers past their deadline and produce `offer.expired` for each (rule 5) — only those
        of incidents `owns` says this worker's partitions hold. The schedule is one for all workers;
        an offer of another worker's incident that this one claimed is handed back at once (its
        deadline passed: due again now, for its owner's next tick). So a worker whose partitions were
        revoked, or that owns none yet, expires nothing; a dead worker's offers expire once its
        partitions have moved (the expiry is only ever applied by the incident's owner anyway)."""
        due = await self.roster.claim_due_offers(now, timedelta(seconds=self.own.expiry_lease_s))
        if not due:
            return 0
        mine = [d for d in due if owns(d[1])]
        others = [offer_id for offer_id, incident_id, _ in due if not owns(incident_id)]
        if others:
            await self.roster.hand_back_offers(others, now)
        pending = []
        for offer_id, incident_id, volunteer_id in mine:
            event = make_event(
                OfferExpired(offer_id=offer_id, incident_id=incident_id, volunteer_id=volunteer_id),
                source="dispatcher",
                correlation_id=incident_id,
                event_id=derived_id("expired", offer_id),
            )
            pending.append(
                await self.sender.send(self.topic(RESPONSES), incident_id.encode(), event.to_json())
            )
        for fut in pending:
            await fut
        metrics.EXPIRIES.inc(len(mine))
        return len(mine)

    async def wake_rested(self, now: datetime) -> int:
        """Volunteers whose rest has ended are available again; the understaffed incidents they could
        help look again."""
        woken = await self.roster.wake_rested(now)
        if woken:
            await self.wake_understaffed(f"{len(woken)} volunteers rested", woken, now)
        return len(woken)
