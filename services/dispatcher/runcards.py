"""Run cards (DESIGN.md §3, rule 1): incident type × severity → the people to send.

The table is a TOML file the office edits (`runcards.toml` beside this module, or
`SIGAP_RUNCARDS_FILE`). It also holds the offer time-to-live per severity (rule 5), the search rings
(rule 3) and the skills that need a certification (rule 2). Loading validates every entry against the
shared vocabulary, so a typo stops the dispatcher at start instead of at 2 a.m.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from schemas.errors import SigapError
from schemas.events import Need
from schemas.vocabulary import IncidentType, Severity, Skill

DEFAULT_CARD = "default"
OfferMode = Literal["one_per_slot", "broadcast"]
OFFER_MODES: tuple[OfferMode, ...] = ("one_per_slot", "broadcast")
_E = TypeVar("_E", Severity, Skill)


class RunCardError(SigapError, ValueError):
    """The run-card file is missing, unreadable or names something unknown."""


@dataclass(frozen=True, slots=True)
class RunCards:
    cards: Mapping[tuple[IncidentType, Severity], tuple[Need, ...]]
    offer_ttl_s: Mapping[Severity, float]
    rings_km: tuple[float, ...]
    distance_resolution_km: float
    certification_required: frozenset[Skill]
    min_step_km: float = 0.125
    """The first ring is searched outwards from a disc of this radius (doubling), in one round trip."""
    offer_modes: Mapping[tuple[IncidentType | None, Severity], OfferMode] = field(
        default_factory=lambda: {(None, Severity.EXTREME): "broadcast"}
    )
    """`[offers] mode`: by severity (`extreme = "broadcast"`) or by card (`"flood.severe" = …`)"""
    broadcast_factor: float = 2.0
    """`[offers] broadcast_factor`: a broadcast need is offered to this many times its open slots"""

    def offer_mode(self, incident_type: IncidentType, severity: Severity) -> OfferMode:
        """How a card's needs are offered (issue 18): one offer per open slot, or a call-out to many."""
        return self.offer_modes.get(
            (incident_type, severity), self.offer_modes.get((None, severity), "one_per_slot")
        )

    def needs(self, incident_type: IncidentType, severity: Severity) -> list[Need]:
        """The needs of an incident posted without explicit ones."""
        return list(self.cards[(incident_type, severity)])

    def rings(self, max_radius_km: float) -> list[float]:
        """The search rings, ending exactly at the maximum radius."""
        rings = [r for r in self.rings_km if r < max_radius_km]
        return [*rings, float(max_radius_km)]


def load_runcards(path: Path) -> RunCards:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RunCardError(f"cannot read run cards {path}: {exc}") from exc
    return parse_runcards(data, source=str(path))


def parse_runcards(data: Mapping[str, Any], source: str = "run cards") -> RunCards:
    cards_data = data.get("cards", {})
    if DEFAULT_CARD not in cards_data:
        raise RunCardError(f"{source}: [cards.{DEFAULT_CARD}] is required (the fallback of every type)")
    unknown = set(cards_data) - {DEFAULT_CARD} - {t.value for t in IncidentType}
    if unknown:
        raise RunCardError(f"{source}: unknown incident types {sorted(unknown)}")
    default = _severity_table(cards_data[DEFAULT_CARD], f"{source} [cards.{DEFAULT_CARD}]")
    missing = [s.value for s in Severity if s not in default]
    if missing:
        raise RunCardError(f"{source}: [cards.{DEFAULT_CARD}] lacks severities {missing}")
    cards: dict[tuple[IncidentType, Severity], tuple[Need, ...]] = {}
    for incident_type in IncidentType:
        own = _severity_table(cards_data.get(incident_type.value, {}), f"{source} [cards.{incident_type}]")
        for severity in Severity:
            cards[(incident_type, severity)] = own.get(severity) or default[severity]

    ttl_data = data.get("offers", {}).get("ttl_s", {})
    ttl: dict[Severity, float] = {
        Severity.EXTREME: 120.0,
        Severity.SEVERE: 180.0,
        Severity.MODERATE: 300.0,
        Severity.MINOR: 600.0,
    }
    for name, seconds in ttl_data.items():
        severity = _enum(Severity, name, f"{source} [offers] ttl_s")
        if not isinstance(seconds, int | float) or seconds <= 0:
            raise RunCardError(f"{source}: [offers] ttl_s.{name} must be a positive number of seconds")
        ttl[severity] = float(seconds)

    matching = data.get("matching", {})
    rings = matching.get("rings_km", [1, 2, 5, 10, 20])
    if not rings or any(not isinstance(r, int | float) or r <= 0 for r in rings) or rings != sorted(rings):
        raise RunCardError(f"{source}: [matching] rings_km must be increasing positive numbers")
    resolution = matching.get("distance_resolution_km", 0.1)
    if not isinstance(resolution, int | float) or resolution < 0:
        raise RunCardError(f"{source}: [matching] distance_resolution_km must be >= 0")
    min_step = matching.get("min_step_km", 0.125)
    if not isinstance(min_step, int | float) or min_step <= 0:
        raise RunCardError(f"{source}: [matching] min_step_km must be a positive number")
    certified = frozenset(
        _enum(Skill, name, f"{source} [matching] certification_required")
        for name in matching.get("certification_required", [])
    )
    modes, factor = _offer_modes(data.get("offers", {}), source)
    return RunCards(
        offer_modes=modes,
        broadcast_factor=factor,
        cards=cards,
        offer_ttl_s=ttl,
        rings_km=tuple(float(r) for r in rings),
        distance_resolution_km=float(resolution),
        certification_required=certified,
        min_step_km=float(min_step),
    )


def _offer_modes(
    offers: Mapping[str, Any], source: str
) -> tuple[dict[tuple[IncidentType | None, Severity], OfferMode], float]:
    """`mode = { extreme = "broadcast", "flood.severe" = "broadcast" }` and `broadcast_factor = 2`;
    without a `mode` table, extreme incidents are broadcast and the rest one offer per slot."""
    where = f"{source} [offers] mode"
    table = offers.get("mode", {"extreme": "broadcast"})
    if not isinstance(table, Mapping):
        raise RunCardError(f"{where} must be a table of severity (or type.severity) = mode")
    modes: dict[tuple[IncidentType | None, Severity], OfferMode] = {}
    for name, mode in table.items():
        if mode not in OFFER_MODES:
            raise RunCardError(f"{where}: {name} = {mode!r}, not one of {', '.join(OFFER_MODES)}")
        kind, dot, severity = str(name).rpartition(".")
        incident_type = IncidentType(kind) if dot and kind in {t.value for t in IncidentType} else None
        if dot and incident_type is None:
            raise RunCardError(f"{where}: unknown incident type {kind!r}")
        modes[(incident_type, _enum(Severity, severity, where))] = mode
    factor = offers.get("broadcast_factor", 2.0)
    if not isinstance(factor, int | float) or not 1 <= factor <= 10:
        raise RunCardError(f"{source}: [offers] broadcast_factor must be a number from 1 to 10")
    return modes, float(factor)


def _severity_table(table: Any, where: str) -> dict[Severity, tuple[Need, ...]]:
    if not isinstance(table, Mapping):
        raise RunCardError(f"{where} must be a table of severities")
    result: dict[Severity, tuple[Need, ...]] = {}
    for name, items in table.items():
        severity = _enum(Severity, name, where)
        if not isinstance(items, list) or not items:
            raise RunCardError(f"{where} {name}: a non-empty list of {{unit, skill, count}}")
        try:
            result[severity] = tuple(Need.model_validate(item) for item in items)
        except ValidationError as exc:
            raise RunCardError(f"{where} {name}: {exc.errors(include_url=False)[0]['msg']} ({exc})") from exc
    return result


def _enum(cls: type[_E], name: str, where: str) -> _E:
    try:
        return cls(name)
    except ValueError:
        raise RunCardError(f"{where}: unknown {cls.__name__.lower()} {name!r}") from None
