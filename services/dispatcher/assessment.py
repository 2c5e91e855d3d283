"""Assessment rules: what a kaji cepat (TRC's rapid assessment) adds to an incident's needs.

The table is a TOML file the office edits (`assessment_rules.toml` beside the run cards, or
`SIGAP_ASSESSMENT_RULES_FILE`). Each rule names a finding of the assessment (a count at or above a
threshold, or an urgent need ticked), optionally the incident types it applies to, and the people it
calls for; a count may grow with the finding (`base + value // per`, at most `max`). Several rules
asking for the same unit and skill do not add up: the largest count wins (they describe one team).
Loading validates every entry against the shared vocabulary, so a typo stops the dispatcher at start.
Pure: `needs_for(rules, incident_type, report)` reads nothing but its arguments.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from schemas.errors import SigapError
from schemas.events import MAX_NEED_COUNT, AssessmentReport, UrgentNeed
from schemas.vocabulary import IncidentType, Skill, Unit

FIELDS = (
    "families",
    "people",
    "evacuees",
    "injured",
    "dead",
    "missing",
    "houses_light",
    "houses_moderate",
    "houses_heavy",
    "houses_damaged",
)
URGENT_NEEDS: tuple[str, ...] = get_args(UrgentNeed)


class AssessmentRuleError(SigapError, ValueError):
    """The rules file is missing, unreadable or names something unknown."""


@dataclass(frozen=True, slots=True)
class RuleNeed:
    unit: Unit
    skill: Skill | None
    base: int
    per: int | None = None
    max: int = MAX_NEED_COUNT

    def count(self, value: int) -> int:
        grown = self.base + (value // self.per if self.per else 0)
        return max(0, min(grown, self.max, MAX_NEED_COUNT))


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    needs: tuple[RuleNeed, ...]
    field: str | None = None
    at_least: int = 1
    urgent_need: str | None = None
    types: frozenset[IncidentType] = frozenset()

    def value(self, report: AssessmentReport) -> int | None:
        """The finding this rule looks at, when the report gives it and it reaches the threshold."""
        if self.urgent_need is not None:
            return 0 if self.urgent_need in report.urgent_needs else None
        found = finding(report, self.field or "")
        return found if found is not None and found >= self.at_least else None


@dataclass(frozen=True, slots=True)
class AssessmentRules:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class RuleNeedCount:
    unit: Unit
    skill: Skill | None
    count: int
    because: tuple[str, ...]


def finding(report: AssessmentReport, field: str) -> int | None:
    houses = report.houses_damaged
    if field.startswith("houses_"):
        if houses is None:
            return None
        if field == "houses_damaged":
            parts = [v for v in (houses.light, houses.moderate, houses.heavy) if v is not None]
            return sum(parts) if parts else None
        value: int | None = getattr(houses, field.removeprefix("houses_"))
        return value
    result: int | None = getattr(report, field)
    return result


def needs_for(
    rules: AssessmentRules, incident_type: IncidentType, report: AssessmentReport
) -> list[RuleNeedCount]:
    """What the report calls for, one entry per unit and skill (in the order the rules first name
    them), with the names of the rules that asked."""
    wanted: dict[tuple[Unit, Skill | None], RuleNeedCount] = {}
    for rule in rules.rules:
        if rule.types and incident_type not in rule.types:
            continue
        value = rule.value(report)
        if value is None:
            continue
        for need in rule.needs:
            count = need.count(value)
            if count <= 0:
                continue
            key = (need.unit, need.skill)
            old = wanted.get(key)
            if old is None:
                wanted[key] = RuleNeedCount(need.unit, need.skill, count, (rule.name,))
            else:
                wanted[key] = RuleNeedCount(
                    need.unit, need.skill, max(old.count, count), (*old.because, rule.name)
                )
    return list(wanted.values())


def load_assessment_rules(path: Path) -> AssessmentRules:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AssessmentRuleError(f"cannot read assessment rules {path}: {exc}") from exc
    return parse_assessment_rules(data, source=str(path))


def parse_assessment_rules(data: Mapping[str, Any], source: str = "assessment rules") -> AssessmentRules:
    items = data.get("rules", [])
    if not isinstance(items, list) or not items:
        raise AssessmentRuleError(f"{source}: [[rules]] entries are required")
    return AssessmentRules(tuple(_rule(item, f"{source} rule {i + 1}") for i, item in enumerate(items)))


def _rule(item: Any, where: str) -> Rule:
    if not isinstance(item, Mapping):
        raise AssessmentRuleError(f"{where}: a table")
    unknown = set(item) - {"name", "field", "at_least", "urgent_need", "types", "needs"}
    if unknown:
        raise AssessmentRuleError(f"{where}: unknown keys {sorted(unknown)}")
    field, urgent = item.get("field"), item.get("urgent_need")
    if (field is None) == (urgent is None):
        raise AssessmentRuleError(f"{where}: give exactly one of field or urgent_need")
    if field is not None and field not in FIELDS:
        raise AssessmentRuleError(f"{where}: unknown field {field!r} (one of {', '.join(FIELDS)})")
    if urgent is not None and urgent not in URGENT_NEEDS:
        raise AssessmentRuleError(
            f"{where}: unknown urgent need {urgent!r} (one of {', '.join(URGENT_NEEDS)})"
        )
    at_least = item.get("at_least", 1)
    if not isinstance(at_least, int) or at_least < 0:
        raise AssessmentRuleError(f"{where}: at_least must be a whole number >= 0")
    try:
        types = frozenset(IncidentType(t) for t in item.get("types", []))
    except ValueError as exc:
        raise AssessmentRuleError(f"{where}: {exc}") from None
    needs = item.get("needs")
    if not isinstance(needs, list) or not needs:
        raise AssessmentRuleError(f"{where}: needs must be a non-empty list of {{unit, skill?, count}}")
    name = str(item.get("name") or field or f"urgent: {urgent}")
    return Rule(name, tuple(_need(n, where) for n in needs), field, at_least, urgent, types)


def _need(item: Any, where: str) -> RuleNeed:
    if not isinstance(item, Mapping):
        raise AssessmentRuleError(f"{where}: each need is a table")
    unknown = set(item) - {"unit", "skill", "count", "per", "max"}
    if unknown:
        raise AssessmentRuleError(f"{where}: unknown need keys {sorted(unknown)}")
    try:
        unit = Unit(str(item.get("unit")))
        skill = Skill(item["skill"]) if item.get("skill") else None
    except ValueError as exc:
        raise AssessmentRuleError(f"{where}: {exc}") from None
    numbers: Sequence[tuple[str, Any]] = [(k, item.get(k)) for k in ("count", "per", "max")]
    for key, value in numbers:
        if value is not None and (not isinstance(value, int) or value < (0 if key == "count" else 1)):
            raise AssessmentRuleError(f"{where}: {key} must be a positive whole number")
    count = item.get("count")
    if count is None:
        raise AssessmentRuleError(f"{where}: count is required (the base when per is given)")
    return RuleNeed(unit, skill, count, item.get("per"), item.get("max") or MAX_NEED_COUNT)
