"""The dispatcher's reaction to `weather-alerts` (DESIGN.md §6): banner read model, standby notices to
on-duty Tagana and TRC in the affected kelurahan (once per alert chain, once per volunteer however many
of those units they belong to), a draft incident for any alert over the city. Never a dispatch by
itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from schemas.api import WeatherAlertView
from schemas.envelope import Envelope
from schemas.events import Payload, WeatherAlertCancelled, WeatherAlertInfo, WeatherAlertUpdated
from schemas.vocabulary import VolunteerStatus
from services.common.base_settings import CommonSettings
from services.common.topics import NOTIFICATIONS
from services.dispatcher import metrics, notices, weather
from services.dispatcher.outputs import Batch, Sender
from services.dispatcher.roster import Roster
from services.dispatcher.store import AlertStore

log = logging.getLogger(__name__)


@dataclass
class AlertReaction:
    roster: Roster
    alerts: AlertStore
    sender: Sender
    settings: CommonSettings

    async def handle(self, event: Envelope[Payload], now: datetime) -> int:
        """Apply one alert event; return the number of standby notices requested."""
        payload = event.payload
        view = await apply_alert(self.alerts, event, now)
        if view is None or not isinstance(payload, WeatherAlertInfo):
            return 0
        if view.status != "active" or not payload.affected_kelurahan:
            return 0
        return await self._standby(payload, event, now)

    async def _standby(self, alert: WeatherAlertInfo, event: Envelope[Payload], now: datetime) -> int:
        affected = set(alert.affected_kelurahan)
        thread = weather.thread_id(alert)
        batch = Batch(event.event_id)
        chosen: list[str] = []
        for unit in weather.STANDBY_UNITS:
            ids = sorted(await self.roster.in_kelurahan(unit, affected) - set(chosen))
            fresh = await self.alerts.not_yet_notified(thread, ids)
            for vid, (profile, status) in (await self.roster.profiles(fresh)).items():
                if not (profile.on_duty and profile.active) or status == VolunteerStatus.OFF_DUTY:
                    continue
                code = weather.standby_kelurahan(profile, affected)
                if code is None:
                    continue
                notice = notices.standby_notice(alert, thread, profile, code, now)
                batch.add(self.settings.topic(NOTIFICATIONS), notice, key=vid)
                chosen.append(vid)
        await batch.flush(self.sender)
        await self.alerts.mark_notified(thread, chosen)
        metrics.NOTIFICATIONS.labels("standby").inc(len(chosen))
        log.info(
            "alert %s: standby notices to %d volunteers in %d kelurahan",
            alert.alert_id,
            len(chosen),
            len(affected),
        )
        return len(chosen)

    async def expire_due(self, now: datetime) -> int:
        due = await self.alerts.due(now)
        for alert_id in due:
            await self.alerts.end(alert_id, "expired")
        return len(due)


async def apply_alert(alerts: AlertStore, event: Envelope[Payload], now: datetime) -> WeatherAlertView | None:
    """The banner read model of one `weather-alerts` event (no notices: a rebuild replays it too);
    the view stored, or None for a cancellation or a record that is not an alert."""
    payload = event.payload
    if isinstance(payload, WeatherAlertCancelled):
        for alert_id in payload.cancelled_alert_ids or [payload.alert_id]:
            found = await alerts.end(weather.reference_id(alert_id), "cancelled")
            log.info("alert %s cancelled%s", alert_id, "" if found else " (unknown here)")
        return None
    if not isinstance(payload, WeatherAlertInfo):
        log.warning("%s on weather-alerts is not an alert; ignored", event.event_type)
        return None
    if isinstance(payload, WeatherAlertUpdated):
        for ref in payload.references:
            await alerts.end(weather.reference_id(ref), "expired")  # superseded by this update
    view = weather.alert_view(payload, now)
    await alerts.put(view)
    return view
