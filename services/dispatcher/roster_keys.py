"""The dispatcher's own roster keys and what its Lua scripts share: key names, time as the scripts
compare it, the package of the scripts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.vocabulary import Skill, Unit


def iso(at: datetime) -> str:
    """Fixed-width UTC ISO 8601, so the Lua scripts can compare times as strings."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


SCRIPTS = "services.dispatcher"
"""the package whose `lua/` folder holds the dispatcher's Redis scripts (`common.redis.load_script`)"""


@dataclass(frozen=True, slots=True)
class RosterKeys:
    """The dispatcher's internal keys."""

    prefix: str

    def geo(self, unit: Unit | str, skill: Skill | str | None = None) -> str:
        unit_text = unit.value if isinstance(unit, Unit) else unit
        if skill is None:
            return f"{self.prefix}dsp:geo:{unit_text}"
        skill_text = skill.value if isinstance(skill, Skill) else skill
        return f"{self.prefix}dsp:geo:{unit_text}:{skill_text}"

    def kelurahan(self, unit: Unit | str, code: str) -> str:
        unit_text = unit.value if isinstance(unit, Unit) else unit
        return f"{self.prefix}dsp:kel:{unit_text}:{code}"

    @property
    def deadlines(self) -> str:
        return f"{self.prefix}dsp:deadlines"

    @property
    def resting(self) -> str:
        return f"{self.prefix}dsp:resting"

    @property
    def generation(self) -> str:
        """The generation marker `sigap rebuild` writes last: without it the dispatcher does not act."""
        return f"{self.prefix}dsp:generation"

    @property
    def rebuild_lock(self) -> str:
        return f"{self.prefix}dsp:rebuild"
