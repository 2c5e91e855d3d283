"""CAP 1.2 documents as BMKG publishes them, and the rule that turns one into a `weather-alerts` event.

`parse_cap` reads untrusted bytes into a typed `CapAlert` (or raises `CapError` with a reason);
`match_cap` finds the Kota Kediri kelurahan its areas cover; `assess_cap` decides, with the time passed
in, whether it becomes `weather_alert.issued` / `.updated` / `.cancelled` or is ignored. No I/O.

Facts from real captures (tests/fixtures/bmkg/SOURCE.md): times carry the local offset (+07:00, +08:00);
Indonesian and English are separate documents with the same identifier; one `<info>`; `<area>` holds
the province name and many `<polygon>`s of "lat,lon" pairs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar
from xml.etree.ElementTree import Element

from schemas.events import WeatherAlertCancelled, WeatherAlertIssued, WeatherAlertUpdated
from schemas.vocabulary import Language
from services.gateway.bmkg.area import (
    Affected,
    AreaError,
    Shape,
    affected_kelurahan,
    parse_circle,
    parse_polygon,
)
from services.gateway.bmkg.errors import CapError
from services.gateway.bmkg.outcome import Ignored, Outcome, Produce
from services.gateway.bmkg.xmlsafe import DEFAULT_MAX_BYTES, local_name, namespace, parse_xml

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = "{" + CAP_NAMESPACE + "}"
MAX_INFOS = 20
MAX_SHAPES = 5_000
MAX_REFERENCES = 50
MAX_IDENTIFIER = 200

MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
CapStatus = Literal["Actual", "Exercise", "System", "Test", "Draft"]
SeverityValue = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
UrgencyValue = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
CertaintyValue = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]

_MSG_TYPES: tuple[MsgType, ...] = ("Alert", "Update", "Cancel", "Ack", "Error")
_STATUSES: tuple[CapStatus, ...] = ("Actual", "Exercise", "System", "Test", "Draft")
_SEVERITIES: tuple[SeverityValue, ...] = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
_URGENCIES: tuple[UrgencyValue, ...] = ("Immediate", "Expected", "Future", "Past", "Unknown")
_CERTAINTIES: tuple[CertaintyValue, ...] = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
# "Very Likely" was CAP 1.0's word for Likely; some feeds still send it.
_CERTAINTY_ALIASES = {"very likely": "Likely"}

_T = TypeVar("_T", bound=str)


@dataclass(frozen=True, slots=True)
class CapReference:
    """One "sender,identifier,sent" triple of `<references>`."""

    sender: str
    identifier: str
    sent: str


@dataclass(frozen=True, slots=True)
class CapArea:
    description: str
    shapes: tuple[Shape, ...]


@dataclass(frozen=True, slots=True)
class CapInfo:
    language: str
    event: str
    urgency: UrgencyValue
    severity: SeverityValue
    certainty: CertaintyValue
    effective: datetime | None
    expires: datetime | None
    sender_name: str
    headline: str
    description: str
    instruction: str
    web: str
    areas: tuple[CapArea, ...]
    category: tuple[str, ...] = ()

    @property
    def is_indonesian(self) -> bool:
        return self.language.lower().split("-")[0] in ("id", "in")


@dataclass(frozen=True, slots=True)
class CapAlert:
    identifier: str
    sender: str
    sent: datetime
    status: CapStatus
    msg_type: MsgType
    scope: str
    note: str
    references: tuple[CapReference, ...]
    infos: tuple[CapInfo, ...]
    warnings: tuple[str, ...] = ()  # parts rejected individually (malformed polygons, …)

    @property
    def primary(self) -> CapInfo | None:
        """The Indonesian `<info>` when there is one, else the first."""
        return next((i for i in self.infos if i.is_indonesian), self.infos[0] if self.infos else None)

    @property
    def expires(self) -> datetime | None:
        """The latest `expires` of the infos; None when no info says."""
        times = [i.expires for i in self.infos if i.expires is not None]
        return max(times) if times else None

    @property
    def referenced_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.identifier for r in self.references))

    def shapes(self) -> Iterator[Shape]:
        for info in self.infos:
            for area in info.areas:
                yield from area.shapes


# --- parsing ----------------------------------------------------------------------------------


def _children(element: Element, name: str) -> list[Element]:
    return element.findall(_NS + name)


def _text(element: Element, name: str) -> str:
    child = element.find(_NS + name)
    return (child.text or "").strip() if child is not None else ""


def _required(element: Element, name: str, where: str) -> str:
    value = _text(element, name)
    if not value:
        raise CapError("invalid", f"<{where}> has no <{name}>")
    return value


def _time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CapError(
            "invalid", f"<{field}> {value[:40]!r} is not a date-time like 2026-01-15T15:10:00+07:00"
        ) from None
    if parsed.tzinfo is None:
        raise CapError("invalid", f"<{field}> {value[:40]!r} has no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise CapError("invalid", f"<{field}> {value[:40]!r} is out of range") from None


def _optional_time(element: Element, name: str) -> datetime | None:
    value = _text(element, name)
    return _time(value, name) if value else None


def _choice(value: str, allowed: tuple[_T, ...], field: str, default: _T | None = None) -> _T:
    for option in allowed:
        if option.lower() == value.lower():
            return option
    if default is not None:
        return default
    raise CapError("invalid", f"<{field}> {value[:40]!r} is not one of {', '.join(allowed)}")


def _references(text: str) -> tuple[CapReference, ...]:
    triples = text.split()
    if len(triples) > MAX_REFERENCES:
        raise CapError("invalid", f"<references> names {len(triples)} alerts, the limit is {MAX_REFERENCES}")
    refs = []
    for triple in triples:
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapError("invalid", f"<references> item {triple[:80]!r} is not 'sender,identifier,sent'")
        if len(parts[1]) > MAX_IDENTIFIER:
            raise CapError("invalid", "<references> names an identifier longer than 200 characters")
        refs.append(CapReference(*parts))
    return tuple(refs)


def _area(element: Element, warnings: list[str], budget: list[int]) -> CapArea:
    shapes: list[Shape] = []
    description = _text(element, "areaDesc")
    for kind, parse in (("polygon", parse_polygon), ("circle", parse_circle)):
        for index, child in enumerate(_children(element, kind), start=1):
            budget[0] -= 1
            if budget[0] < 0:
                raise CapError("invalid", f"document has more than {MAX_SHAPES} polygons and circles")
            try:
                shapes.append(parse(child.text or ""))
            except AreaError as exc:
                warnings.append(f"{description or 'area'}: {kind} {index} rejected: {exc.reason}")
    return CapArea(description, tuple(shapes))


def _info(element: Element, warnings: list[str], budget: list[int]) -> CapInfo:
    certainty = _text(element, "certainty")
    return CapInfo(
        language=_text(element, "language") or "en-US",  # CAP's default
        category=tuple((c.text or "").strip() for c in _children(element, "category")),
        event=_text(element, "event"),
        urgency=_choice(_text(element, "urgency"), _URGENCIES, "urgency", "Unknown"),
        severity=_choice(_text(element, "severity"), _SEVERITIES, "severity", "Unknown"),
        certainty=_choice(
            _CERTAINTY_ALIASES.get(certainty.lower(), certainty), _CERTAINTIES, "certainty", "Unknown"
        ),
        effective=_optional_time(element, "effective"),
        expires=_optional_time(element, "expires"),
        sender_name=_text(element, "senderName"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        web=_text(element, "web"),
        areas=tuple(_area(a, warnings, budget) for a in _children(element, "area")),
    )


def parse_cap(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> CapAlert:
    """Parse a CAP 1.2 document; raise CapError (with `code` and `reason`) for anything unusable."""
    root = parse_xml(data, max_bytes=max_bytes, error=CapError)
    if local_name(root.tag) != "alert":
        raise CapError("invalid", f"the root element is <{local_name(root.tag)[:40]}>, not a CAP <alert>")
    if namespace(root.tag) != CAP_NAMESPACE:
        found = namespace(root.tag) or "no namespace"
        raise CapError("wrong_namespace", f"expected CAP 1.2 ({CAP_NAMESPACE}), found {found[:100]}")
    identifier = _required(root, "identifier", "alert")
    if len(identifier) > MAX_IDENTIFIER or any(c.isspace() or c in ",<&" for c in identifier):
        raise CapError("invalid", "<identifier> must be at most 200 characters without spaces or commas")
    msg_type = _choice(_required(root, "msgType", "alert"), _MSG_TYPES, "msgType")
    references = _references(_text(root, "references"))
    if msg_type in ("Update", "Cancel") and not references:
        raise CapError("invalid", f"a {msg_type} must name the alerts it replaces in <references>")
    infos = _children(root, "info")
    if len(infos) > MAX_INFOS:
        raise CapError("invalid", f"document has {len(infos)} <info> blocks, the limit is {MAX_INFOS}")
    if not infos and msg_type in ("Alert", "Update"):
        raise CapError("invalid", f"a {msg_type} needs at least one <info>")
    warnings: list[str] = []
    budget = [MAX_SHAPES]
    return CapAlert(
        identifier=identifier,
        sender=_required(root, "sender", "alert"),
        sent=_time(_required(root, "sent", "alert"), "sent"),
        status=_choice(_required(root, "status", "alert"), _STATUSES, "status"),
        msg_type=msg_type,
        scope=_text(root, "scope"),
        note=_text(root, "note"),
        references=references,
        infos=tuple(_info(i, warnings, budget) for i in infos),
        warnings=tuple(warnings),
    )


# --- rules ------------------------------------------------------------------------------------


def match_cap(alert: CapAlert) -> Affected:
    """The Kota Kediri kelurahan whose centroid one of the alert's areas contains."""
    return affected_kelurahan(alert.shapes())


def _language(info: CapInfo) -> Language:
    if not info.is_indonesian and info.language.lower().startswith("en"):
        return Language.EN
    return Language.ID


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _details(alert: CapAlert, affected: Affected) -> dict[str, object]:
    info = alert.primary
    assert info is not None  # noqa: S101 - parse_cap guarantees an info for Alert and Update
    description = info.description
    if info.instruction:
        description = f"{description}\n{info.instruction}" if description else info.instruction
    return {
        "alert_id": alert.identifier,
        "kind": "cap",
        "sender": _cut(info.sender_name or alert.sender, 200),
        "language": _language(info),
        "event": _cut(info.event, 200),
        "headline": _cut(info.headline, 500),
        "description": _cut(description, 4000),
        "severity": info.severity,
        "urgency": info.urgency,
        "certainty": info.certainty,
        "sent": alert.sent,
        "effective": info.effective,
        "expires": alert.expires,
        "affected_kelurahan": list(affected.kelurahan),
        "affected_kecamatan": list(affected.kecamatan),
        "web": _cut(info.web, 500),
    }


def assess_cap(
    alert: CapAlert, affected: Affected, *, now: datetime, known_alert_ids: Collection[str] = ()
) -> Outcome:
    """Decide what a parsed document means for Kota Kediri.

    `known_alert_ids`: the referenced alerts this service already published (an Update or Cancel of
    one of them is relevant even when its own area no longer covers the city).
    """
    ident = alert.identifier
    if alert.status != "Actual":
        return Ignored(ident, "not_actual", f"status {alert.status} is not an actual alert")
    if alert.msg_type in ("Ack", "Error"):
        return Ignored(ident, "unsupported", f"msgType {alert.msg_type} carries no warning")
    key = f"{ident}:{alert.msg_type}"
    known = [r for r in alert.referenced_ids if r in known_alert_ids]

    if alert.msg_type == "Cancel":
        if not (known or affected):
            return Ignored(ident, "elsewhere", "cancels no alert known for Kota Kediri")
        reason = alert.note or (alert.primary.headline if alert.primary else "") or "cancelled by the sender"
        payload = WeatherAlertCancelled(
            alert_id=ident, cancelled_alert_ids=list(alert.referenced_ids), reason=_cut(reason, 1000)
        )
        return Produce(ident, "cancelled", payload, key, affected)

    expires = alert.expires
    if expires is not None and expires <= now:
        return Ignored(ident, "expired", f"expired at {expires.isoformat()} (now {now.isoformat()})")
    if not affected:
        if alert.msg_type == "Update" and known:
            payload = WeatherAlertCancelled(
                alert_id=ident,
                cancelled_alert_ids=known,
                reason="the updated warning no longer covers Kota Kediri",
            )
            return Produce(ident, "cancelled", payload, key)
        return Ignored(ident, "elsewhere", "no Kota Kediri kelurahan affected")

    details = _details(alert, affected)
    if alert.msg_type == "Update":
        updated = WeatherAlertUpdated.model_validate({**details, "references": list(alert.referenced_ids)})
        return Produce(ident, "updated", updated, key, affected)
    return Produce(ident, "issued", WeatherAlertIssued.model_validate(details), key, affected)
