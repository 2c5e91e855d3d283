"""The dispatcher's own settings (environment variables, read once at start, validated).

The shared ones (Kafka, Redis, prefixes, link secret, public URL) live in `services.common.config`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.events import ChannelAddress, Recipient
from schemas.vocabulary import ChannelType

DEFAULT_RUNCARDS = Path(__file__).with_name("runcards.toml")
DEFAULT_ASSESSMENT_RULES = Path(__file__).with_name("assessment_rules.toml")
DEFAULT_COORDINATOR = "Pusdalops Dinsos"


class DispatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGAP_", extra="ignore", frozen=True)

    dispatcher_host: str = "127.0.0.1"
    dispatcher_port: int = Field(default=6066, ge=1, le=65535)
    runcards_file: Path = DEFAULT_RUNCARDS
    assessment_rules_file: Path = Field(
        default=DEFAULT_ASSESSMENT_RULES, description="what a kaji cepat adds to an incident's needs"
    )
    max_radius_km: float = Field(default=25.0, gt=0, le=500)
    offer_ttl_s: float | None = Field(
        default=None, gt=0, description="one TTL for every severity (tests, drills); else the run-card file"
    )
    rest_after_s: float = Field(default=4 * 3600, gt=0, description="deployments this long earn a rest")
    rest_s: float = Field(default=8 * 3600, ge=0, description="how long that rest lasts")
    link_ttl_s: float = Field(default=24 * 3600, gt=0, description="a response link's life from the offer")
    coordinators: str = ""
    expiry_interval_s: float = Field(default=0.3, gt=0, le=10)
    expiry_lease_s: float = Field(default=15.0, gt=0)
    retry_interval_s: float = Field(
        default=30.0, gt=0, description="every understaffed incident looks again this often (the backstop)"
    )
    dispatcher_retry_fanout: int = Field(
        default=2,
        ge=1,
        le=100,
        description="a freed volunteer wakes this many of the oldest understaffed incidents of each "
        "kind of need they can fill",
    )
    kafka_session_timeout_s: float = Field(
        default=10.0, ge=6, le=300, description="how soon a dead worker's partitions move to another"
    )
    dispatcher_max_in_flight: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="incident events handled at once per worker (different incidents; one incident's "
        "events always one after another)",
    )
    # Redis rebuilt from the topics (issue 15)
    dispatcher_generation_check_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often a worker checks the generation marker (a lost Redis is rebuilt before "
        "it acts again)",
    )

    @field_validator("coordinators")
    @classmethod
    def _parse_check(cls, value: str) -> str:
        parse_coordinators(value)
        return value

    def coordinator_recipients(self) -> list[Recipient]:
        return parse_coordinators(self.coordinators)


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


@cache
def get_dispatcher_settings() -> DispatcherSettings:
    return DispatcherSettings()
