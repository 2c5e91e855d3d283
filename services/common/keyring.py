"""A secret and its predecessor during a rotation (deploy/README.md "Secrets and rotation").

New signatures always use the current secret. Verification also accepts the previous one until its
grace period ends (`…_PREVIOUS_UNTIL`), so rotating the link secret does not break the offers already
sent, and rotating the session secret does not sign the ops room out mid-shift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Keyring:
    current: str
    previous: str = ""
    previous_until: datetime | None = None

    def signing(self) -> str:
        return self.current

    def verifying(self, now: datetime) -> tuple[str, ...]:
        """The secrets a signature may have been made with at `now`: the current one first."""
        if self.previous and self.previous_until is not None and now < self.previous_until:
            return (self.current, self.previous)
        return (self.current,)
