"""Where the read models live in Redis: the contract between the dispatcher and notifier (writers) and
the gateway (reader). Every key starts with `SIGAP_REDIS_PREFIX` (default `{sigap}:`: a hash tag, so all of a
deployment's keys share one Redis Cluster slot), so tests can use their own prefix.

Keys (values are JSON unless noted):
- `incident:{id}`             → `schemas.api.IncidentView` (written by the dispatcher)
- `incidents:open`            → sorted set of open incident ids, score = reported_at (unix s)
- `incidents:all`             → sorted set of every incident id, score = reported_at
- `offer:{offer_id}`          → hash `{incident_id, volunteer_id, status, expires_at}` (dispatcher)
- `vol:{id}`                  → hash: `profile` (VolunteerProfile JSON), `status`, `incident_id`,
                                `offer_id`, `deployments` (JSON list of ISO times), `last_deployed_at`,
                                `resting_until` (the roster: written only by the dispatcher; the
                                profile's `link_generation` says which self-service links are valid)
- `volunteers`                → set of every volunteer id in the roster (dispatcher)
- `alert:{alert_id}`          → `schemas.api.WeatherAlertView` (dispatcher)
- `alerts:active`             → sorted set of active alert ids, score = expires (unix s)
- `outbox`                    → list of `schemas.api.OutboxMessage`, newest first (notifier)
- `outbox:vol:{volunteer_id}` → the same, one volunteer's
- `idem:{key}`                → the incident id an `Idempotency-Key` produced (gateway)
- `sender:{channel}:{address}`→ `{volunteer_id, offer_id, language}`: whom the notifier last wrote to
                                there (notifier; `services.common.senders`)
- `gw:inbound:{channel}:{id}` → a provider message id already handled by a webhook (gateway)
Pub/sub channel `changes` carries `{"kind": "incident"|"volunteer"|"alert"|"outbox", "id": "…"}`
whenever one of the documents above changes; the gateway relays it to browsers over SSE.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "{sigap}:"

    def incident(self, incident_id: str) -> str:
        return f"{self.prefix}incident:{incident_id}"

    @property
    def open_incidents(self) -> str:
        return f"{self.prefix}incidents:open"

    @property
    def all_incidents(self) -> str:
        return f"{self.prefix}incidents:all"

    def offer(self, offer_id: str) -> str:
        return f"{self.prefix}offer:{offer_id}"

    def volunteer(self, volunteer_id: str) -> str:
        return f"{self.prefix}vol:{volunteer_id}"

    @property
    def volunteers(self) -> str:
        return f"{self.prefix}volunteers"

    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}alert:{alert_id}"

    @property
    def active_alerts(self) -> str:
        return f"{self.prefix}alerts:active"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}outbox"

    def volunteer_outbox(self, volunteer_id: str) -> str:
        return f"{self.prefix}outbox:vol:{volunteer_id}"

    def idempotency(self, key: str) -> str:
        return f"{self.prefix}idem:{key}"

    @property
    def changes(self) -> str:
        return f"{self.prefix}changes"


def change_notice(kind: str, ident: str) -> str:
    return orjson.dumps({"kind": kind, "id": ident}).decode()
