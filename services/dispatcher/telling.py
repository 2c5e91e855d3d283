"""What the dispatcher tells a volunteer about one of their offers (the `Notify` command): the offer
itself, the reply to their answer, its withdrawal or the end of the assignment — built by `notices`
from the incident's state and the volunteer's profile, as read with their reservation or release."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import cast

from pydantic import ValidationError

from schemas.events import NotificationRequested, VolunteerProfile
from schemas.vocabulary import NotificationKind
from services.common.base_settings import CommonSettings
from services.common.replies import ReplyCode
from services.dispatcher import notices
from services.dispatcher.commands import Notify
from services.dispatcher.incident import IncidentState
from services.dispatcher.roster import Roster
from services.dispatcher.settings import DispatcherSettings

log = logging.getLogger(__name__)

PROFILES_KEPT = 2048


@lru_cache(maxsize=PROFILES_KEPT)
def parsed_profile(raw: str) -> VolunteerProfile | None:
    """A roster profile's JSON parsed (None: unreadable). The same JSON gives the same object: an
    offer's and its withdrawal's profile is parsed once, and `notices.volunteer_recipient` finds the
    recipient it made from it."""
    try:
        return VolunteerProfile.model_validate_json(raw)
    except ValidationError:
        return None


@dataclass
class Telling:
    roster: Roster
    settings: CommonSettings
    own: DispatcherSettings

    async def notice(
        self, command: Notify, state: IncidentState | None, profiles: dict[str, str]
    ) -> NotificationRequested | None:
        """The notification `command` asks for (None, and a warning, when the offer or the volunteer
        is unknown). `profiles`: the profiles read in this run, by volunteer id."""
        assignment = state.assignment(command.offer_id) if state is not None else None
        profile = await self.profile(command.volunteer_id, profiles)
        if state is None or assignment is None or profile is None:
            log.warning(
                "cannot notify %s about offer %s: volunteer or offer unknown",
                command.volunteer_id,
                command.offer_id,
            )
            return None
        if command.kind == NotificationKind.OFFER:
            return notices.offer_notice(
                state,
                assignment,
                profile,
                public_url=self.settings.public_url,
                secret=self.settings.link_secret,
                link_ttl=timedelta(seconds=self.own.link_ttl_s),
            )
        if command.kind == NotificationKind.REPLY:
            outcome = cast(ReplyCode, command.reason)
            return notices.reply_notice(
                state, assignment, profile, outcome, channel=command.channel, channel_ref=command.channel_ref
            )
        return notices.ended_notice(command.kind, state, assignment, profile, command.reason)

    async def profile(self, volunteer_id: str, profiles: dict[str, str]) -> VolunteerProfile | None:
        """The volunteer's profile: as read with their reservation or release in this run, or else
        from the roster."""
        raw = profiles.get(volunteer_id)
        if raw is None:
            return await self.roster.profile(volunteer_id)
        profile = parsed_profile(raw)
        if profile is None:
            log.error("roster profile of %s is unreadable", volunteer_id)
        return profile
