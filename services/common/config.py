"""Configuration: environment variables read once at start and validated (DESIGN.md §5)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.fields import configure_service_area
from schemas.reference import KOTA_KEDIRI_AREA, BoundingBox
from schemas.vocabulary import ChannelType

DEV_LINK_SECRET = "local-dev-link-secret-change-me"  # noqa: S105 - refused outside local development
DEV_API_KEYS = "operator:dev-operator-key,coordinator:dev-coordinator-key,admin:dev-admin-key"
ROLES = ("operator", "coordinator", "admin")
REPO_ROOT = Path(__file__).resolve().parents[2]
HASH_TAG = re.compile(r"^[^{]*\{[^}]+\}")
"""a Redis Cluster hash tag: keys starting with the same `{tag}` share a slot"""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGAP_", extra="ignore", frozen=True)

    env: Literal["local", "test", "production"] = "local"
    kafka_bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    topic_prefix: str = "sigap."
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    api_keys: str = DEV_API_KEYS
    link_secret: str = DEV_LINK_SECRET
    public_url: str = "http://127.0.0.1:8080"
    channels: str = "outbox"
    data_dir: Path = REPO_ROOT / ".data"
    service_area: str = str(KOTA_KEDIRI_AREA)
    redis_prefix: str = "{sigap}:"
    log_level: str = "INFO"

    # channel providers (DESIGN.md §4): every base URL and credential is configuration
    whatsapp_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_phone_number_id: str = ""
    whatsapp_token: str = ""
    whatsapp_template: str = Field(default="", description="approved template name; empty sends text")
    whatsapp_template_language: str = "id"
    telegram_url: str = "https://api.telegram.org"
    telegram_bot_token: str = ""
    sms_url: str = ""
    sms_provider: str = "zenziva"
    sms_user: str = ""
    sms_password: str = ""
    sms_sender: str = "SIGAP"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_from: str = "sigap@localhost"

    # BMKG feeds (DESIGN.md §6). Polling is off by default: it needs the internet, and tests point the
    # URLs at local servers. An empty URL disables that one feed.
    bmkg_poll: bool = False
    bmkg_nowcast_rss_url: str = "https://www.bmkg.go.id/alerts/nowcast/id/rss.xml"
    bmkg_autogempa_url: str = "https://data.bmkg.go.id/DataMKG/TEWS/autogempa.json"
    bmkg_gempadirasakan_url: str = "https://data.bmkg.go.id/DataMKG/TEWS/gempadirasakan.json"
    bmkg_poll_interval_s: float = Field(default=60.0, ge=0.05, le=86400)
    bmkg_backoff_max_s: float = Field(default=600.0, ge=0.1, le=86400)
    bmkg_http_timeout_s: float = Field(default=15.0, gt=0, le=300)
    bmkg_max_document_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    bmkg_seen_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, description="dedupe memory in Redis")
    quake_min_magnitude: float = Field(default=5.0, ge=0, le=10)
    quake_max_distance_km: float = Field(default=150.0, ge=0)
    quake_strong_magnitude: float = Field(default=6.0, ge=0, le=10)
    quake_strong_distance_km: float = Field(default=300.0, ge=0)
    quake_alert_ttl_s: float = Field(default=6 * 3600.0, gt=0, description="banner life of a quake alert")
    sms_max_parts: int = Field(default=3, ge=1, le=10, description="SMS segments a message may use")

    # notifier (DESIGN.md §4); per-channel values are `channel:value,…`
    notifier_host: str = "127.0.0.1"
    notifier_port: int = Field(default=6067, ge=1, le=65535)
    notifier_timeouts: str = "whatsapp:10,telegram:10,sms:10,email:20,outbox:5"
    notifier_concurrency: str = "whatsapp:16,telegram:16,sms:4,email:4,outbox:32"
    notifier_rates: str = "whatsapp:20,telegram:25,sms:5,email:5,outbox:0"
    notifier_max_attempts: int = Field(default=4, ge=1, le=20)
    notifier_backoff_base_s: float = Field(default=0.5, gt=0)
    notifier_backoff_max_s: float = Field(default=30.0, gt=0)
    notifier_claim_margin_s: float = Field(default=15.0, gt=0)
    notifier_default_ttl_s: float = Field(default=900.0, gt=0, description="for requests without deadline")
    notifier_max_in_flight: int = Field(default=256, ge=1)
    outbox_max: int = Field(default=1000, ge=1)
    outbox_volunteer_max: int = Field(default=100, ge=1)

    # Redis Cluster (issue 15): every key of a deployment carries the prefix's hash tag (`{sigap}:`),
    # so each script, MULTI and multi-key command stays in one slot
    redis_cluster: bool = Field(
        default=False, description="SIGAP_REDIS_URL names a node of a Redis Cluster (redis-py RedisCluster)"
    )

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: str) -> str:
        names = [c.strip() for c in value.split(",") if c.strip()]
        unknown = [n for n in names if n not in {c.value for c in ChannelType}]
        if unknown or not names:
            raise ValueError(f"unknown channels {unknown} (known: {', '.join(c.value for c in ChannelType)})")
        return ",".join(names)

    @field_validator("service_area")
    @classmethod
    def _area(cls, value: str) -> str:
        BoundingBox.parse(value)
        return value

    @model_validator(mode="after")
    def _hash_tag_on_a_cluster(self) -> Settings:
        if self.redis_cluster and not HASH_TAG.match(self.redis_prefix):
            raise ValueError(
                "SIGAP_REDIS_PREFIX must start with a hash tag such as '{sigap}:' on a Redis Cluster "
                f"(got {self.redis_prefix!r}): every key of a deployment must live in one slot"
            )
        return self

    @model_validator(mode="after")
    def _no_default_secrets_outside_local(self) -> Settings:
        if self.env == "production":
            if self.link_secret == DEV_LINK_SECRET or len(self.link_secret) < 32:
                raise ValueError("SIGAP_LINK_SECRET must be set to a random value of 32+ characters")
            if self.api_keys == DEV_API_KEYS:
                raise ValueError("SIGAP_API_KEYS must be set outside local development")
        self.api_key_roles()  # validates the format
        return self

    def api_key_roles(self) -> dict[str, str]:
        """key → role, from `role:key,role:key`."""
        keys: dict[str, str] = {}
        for item in self.api_keys.split(","):
            role, sep, key = item.strip().partition(":")
            if not sep or role not in ROLES or len(key) < 8:
                raise ValueError(
                    "SIGAP_API_KEYS is 'role:key,…' with roles operator, coordinator, admin "
                    "and keys of 8+ characters"
                )
            keys[key] = role
        return keys

    @property
    def enabled_channels(self) -> list[ChannelType]:
        return [ChannelType(c) for c in self.channels.split(",")]

    @property
    def area(self) -> BoundingBox:
        return BoundingBox.parse(self.service_area)

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


@cache
def get_settings() -> Settings:
    """The settings, read once; also applies the service area to the schemas' validators."""
    settings = Settings()
    configure_service_area(settings.area)
    return settings
