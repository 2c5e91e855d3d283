"""The dispatcher's settings (environment variables, read once at start, validated): the shared
ones (`services.common.base_settings`) and its own."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import NoDecode

from schemas.events import ChannelAddress, Recipient
from schemas.vocabulary import ChannelType
from services.common.base_settings import CommonSettings, from_text, read_settings

DEFAULT_RUNCARDS = Path(__file__).with_name("runcards.toml")
DEFAULT_ASSESSMENT_RULES = Path(__file__).with_name("assessment_rules.toml")
DEFAULT_COORDINATOR = "Pusdalops Dinsos"


def parse_coordinators(text: str) -> list[Recipient]:
    """`name|channel:address[,channel:address];…` → recipients. Every coordinator also gets the
    `outbox` channel last, so an understaffed warning always lands somewhere visible; with none
    configured, the ops room's outbox is the coordinator."""
    people: list[Recipient] = []
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        name, sep, channels_text = entry.partition("|")
        if not sep or not name.strip():
            raise ValueError(f"SIGAP_COORDINATORS entry {entry!r} is not 'name|channel:address,…'")
        channels: list[ChannelAddress] = []
        for item in (c.strip() for c in channels_text.split(",")):
            if not item:
                continue
            kind, sep2, address = item.partition(":")
            if not sep2:
                raise ValueError(f"SIGAP_COORDINATORS channel {item!r} is not 'channel:address'")
            channels.append(ChannelAddress(type=ChannelType(kind.strip()), address=address.strip()))
        if not any(c.type == ChannelType.OUTBOX for c in channels):
            channels.append(ChannelAddress(type=ChannelType.OUTBOX, address=name.strip()))
        people.append(Recipient(name=name.strip(), channels=channels[:6]))
    if not people:
        people.append(
            Recipient(
                name=DEFAULT_COORDINATOR,
                channels=[ChannelAddress(type=ChannelType.OUTBOX, address="ops-room")],
            )
        )
    return people


class DispatcherSettings(CommonSettings):
    """`python -m services.dispatcher worker`."""

    dispatcher_host: str = Field(
        default="127.0.0.1", description="the dispatcher's `/healthz`, `/metrics` (its address)"
    )
    dispatcher_port: int = Field(
        default=6066,
        ge=1,
        le=65535,
        description="the port of those (`SIGAP_DISPATCHER_WORKERS` in `services.sh` starts more workers "
        "on the next ports)",
    )
    runcards_file: Path = Field(
        default=DEFAULT_RUNCARDS,
        description="the run cards: incident type × severity → unit × skill × count; also offer TTLs by "
        "severity, search rings, skills that need a certification",
    )
    assessment_rules_file: Path = Field(
        default=DEFAULT_ASSESSMENT_RULES,
        description="what a kaji cepat (TRC's rapid assessment) adds to an incident's needs: a finding "
        "(evacuees, families, damaged houses, injured, dead, missing, urgent needs ticked) × threshold → "
        "unit × skill × count, growing with the finding",
    )
    max_radius_km: float = Field(
        default=25.0, gt=0, le=500, description="widest search ring; beyond it a need is understaffed"
    )
    offer_ttl_s: float | None = Field(
        default=None,
        gt=0,
        description="one TTL for every offer (tests, drills); otherwise by severity from the run cards "
        "(extreme 120 s, severe 180 s, moderate 300 s, minor 600 s)",
    )
    rest_after_s: float = Field(
        default=4 * 3600, gt=0, description="a deployment longer than this earns a rest before the next offer"
    )
    rest_s: float = Field(default=8 * 3600, ge=0, description="how long that rest lasts")
    link_ttl_s: float = Field(
        default=24 * 3600,
        gt=0,
        description="lifetime of the link in an offer (it also serves en route / on scene / released)",
    )
    coordinators: Annotated[list[Recipient], NoDecode, from_text(parse_coordinators)] = Field(
        default_factory=lambda: parse_coordinators(""),
        description="who hears of understaffed incidents: `name|channel:address;…` (always also the "
        "outbox; unset: the ops room's outbox)",
        json_schema_extra={"env_default": "the ops room's outbox", "env_type": "name|channel:address;…"},
    )
    expiry_interval_s: float = Field(default=0.3, gt=0, le=10, description="how often due offers are claimed")
    expiry_lease_s: float = Field(
        default=15.0,
        gt=0,
        description="how long a claim on due offers waits before another worker retries it",
    )
    retry_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="how often every understaffed incident is retried (the backstop: a volunteer becoming "
        "free retries the incidents they could help at once)",
    )
    dispatcher_retry_fanout: int = Field(
        default=2,
        ge=1,
        le=100,
        description="a volunteer becoming free wakes this many of the longest-waiting understaffed "
        "incidents short of each kind of need (unit, unit and skill) they can fill",
    )
    kafka_session_timeout_s: float = Field(
        default=10.0,
        ge=6,
        le=300,
        description="how soon a dead dispatcher worker's partitions move to another",
    )
    dispatcher_max_in_flight: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="the largest batch of incident events a dispatcher worker handles at once (each "
        "incident's own events stay in order)",
    )
    # Redis rebuilt from the topics (issue 15)
    dispatcher_generation_check_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often a dispatcher worker checks Redis's generation marker; without one (Redis "
        "lost) it rebuilds Redis from the topics before acting again",
    )

    def coordinator_recipients(self) -> list[Recipient]:
        return list(self.coordinators)


@cache
def get_dispatcher_settings() -> DispatcherSettings:
    """The dispatcher's settings, read once; also applies the service area to the schemas' validators."""
    return read_settings(DispatcherSettings)
