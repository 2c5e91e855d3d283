"""Configuration: environment variables read once at start and validated (DESIGN.md §5)."""

from __future__ import annotations

import os
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.fields import configure_service_area, normalise_phone
from schemas.reference import KOTA_KEDIRI_AREA, BoundingBox
from schemas.vocabulary import ChannelType
from services.common.keyring import Keyring

DEV_LINK_SECRET = "local-dev-link-secret-change-me"  # noqa: S105 - refused outside local development
DEV_API_KEYS = "operator:dev-operator-key,coordinator:dev-coordinator-key,admin:dev-admin-key"
ROLES = ("operator", "coordinator", "admin")
REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_DATA_DIR = Path("/var/lib/sigap")


def default_data_dir() -> Path:
    """Where a service keeps its state when `SIGAP_DATA_DIR` is unset: `/var/lib/sigap` when a system
    install made it (and this user may write there), else the XDG state dir (`$XDG_STATE_HOME/sigap`,
    `~/.local/state/sigap`). Never beside the code: an installed package's folder is not writable by
    the user who runs it. `make up`/`make test` set `SIGAP_DATA_DIR` to the checkout's `.data`."""
    if SYSTEM_DATA_DIR.is_dir() and os.access(SYSTEM_DATA_DIR, os.W_OK | os.X_OK):
        return SYSTEM_DATA_DIR
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "sigap"


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
    data_dir: Path = Field(default_factory=default_data_dir)
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
    # issue 19 (the ops room's own Bahasa): the posko's number, given on every error page
    posko_phone: str = Field(default="", description="the posko's phone number, e.g. 0354-123456")

    @field_validator("posko_phone")
    @classmethod
    def _posko_phone(cls, value: str) -> str:
        return normalise_phone(value) if value.strip() else ""

    # answers on chat channels (issue 18): the gateway's webhooks; an empty secret turns its endpoint off
    whatsapp_app_secret: str = Field(default="", description="Meta app secret: X-Hub-Signature-256")
    whatsapp_verify_token: str = Field(default="", description="hub.verify_token of the webhook set-up")
    telegram_webhook_secret: str = Field(
        default="", description="setWebhook's secret_token: X-Telegram-Bot-Api-Secret-Token"
    )
    sms_webhook_secret: str = Field(default="", description="X-Sigap-Webhook-Secret of SMS replies")
    inbound_dedupe_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, description="provider message ids kept")

    # scale-out and faults (issue 16): topic replication and checks, fail-fast edge, Redis Sentinel
    replication_factor: int | None = Field(
        default=None, ge=1, le=7, description="topics' replication; unset: 3 on 3+ brokers, 1 on one"
    )
    dispatch_log_retention_ms: int = Field(default=-1, ge=-1, description="the audit trail; -1 keeps all")
    topic_check_timeout_s: float = Field(default=30.0, gt=0, le=600)
    publish_timeout_s: float = Field(default=4.0, gt=0, le=120, description="the gateway's 503 after this")
    redis_sentinels: str = Field(default="", description="host:port,…: find the Redis primary through these")
    redis_sentinel_master: str = "sigap"

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels(cls, value: str) -> str:
        if value.strip():
            from services.common.redis import sentinel_hosts

            sentinel_hosts(value)
        return value.strip()

    # deployment (issue 17): secrets and their rotation; Kafka and Redis transport security
    link_secret_previous: str = Field(default="", description="still verifies links until ..._UNTIL")
    link_secret_previous_until: datetime | None = None
    session_secret: str = Field(default="", description="board sessions; empty outside production: derived")
    session_secret_previous: str = ""
    session_secret_previous_until: datetime | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: str = Field(default="", description="CA bundle that signed the brokers' certificates")
    kafka_ssl_certfile: str = Field(default="", description="client certificate (mTLS)")
    kafka_ssl_keyfile: str = Field(default="", description="client key (mTLS)")
    kafka_ssl_check_hostname: bool = True
    forwarded_allow_ips: str = Field(
        default="127.0.0.1", description="proxies whose X-Forwarded-For/-Proto the gateway trusts"
    )

    # reports (issue 20): the transport allowance, response-time targets, the printed pages' header
    reports_db: str = Field(
        default="", description="the report projection's SQLite file; empty: $SIGAP_DATA_DIR/reports/"
    )
    reports_projection: bool = Field(default=True, description="off: serve the store, read no topic")
    report_allowance: str = Field(
        default="per_day:100000", description="uang transport: per_day|per_deployment|per_hour:<rupiah>"
    )
    report_max_deployment_hours: float = Field(default=12.0, gt=0, le=168)
    report_targets: str = Field(default="reported_to_first_offer:60", description="step:seconds,…")
    report_target_share: float = Field(default=0.9, gt=0, le=1)
    report_office_name: str = "DINAS SOSIAL KOTA KEDIRI"
    report_office_address: str = ""
    report_signatory_title: str = "Kepala Dinas Sosial Kota Kediri"
    report_signatory_name: str = ""
    report_signatory_nip: str = ""

    # Redis Cluster (issue 15): every key of a deployment carries the prefix's hash tag (`{sigap}:`),
    # so each script, MULTI and multi-key command stays in one slot
    redis_cluster: bool = Field(
        default=False, description="SIGAP_REDIS_URL names a node of a Redis Cluster (redis-py RedisCluster)"
    )

    # One owner per key space (issue 15): the Redis ACL user each service connects as
    # (services/common/acl.py). A password alone means the user `sigap-<service>`; neither: the
    # credentials in SIGAP_REDIS_URL.
    redis_user_dispatcher: str = ""
    redis_password_dispatcher: str = ""
    redis_user_notifier: str = ""
    redis_password_notifier: str = ""
    redis_user_gateway: str = ""
    redis_password_gateway: str = ""

    def redis_url_for(self, service: Literal["dispatcher", "notifier", "gateway"]) -> str:
        """`SIGAP_REDIS_URL` with `service`'s ACL user and password, when they are configured."""
        user = getattr(self, f"redis_user_{service}")
        password = getattr(self, f"redis_password_{service}")
        if not (user or password):
            return self.redis_url
        scheme, sep, rest = self.redis_url.partition("://")
        credentials = f"{quote(user or f'sigap-{service}', safe='')}:{quote(password, safe='')}"
        return f"{scheme}{sep}{credentials}@{rest.rpartition('@')[2]}"

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: str) -> str:
        names = [c.strip() for c in value.split(",") if c.strip()]
        unknown = [n for n in names if n not in {c.value for c in ChannelType}]
        if unknown or not names:
            raise ValueError(f"unknown channels {unknown} (known: {', '.join(c.value for c in ChannelType)})")
        return ",".join(names)

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("Telegram's secret_token is 1-256 of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("service_area")
    @classmethod
    def _area(cls, value: str) -> str:
        BoundingBox.parse(value)
        return value

    @field_validator("link_secret_previous_until", "session_secret_previous_until", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("link_secret_previous_until", "session_secret_previous_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-31T00:00:00+07:00")
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
            if len(self.session_secret) < 32 or self.session_secret == self.link_secret:
                raise ValueError(
                    "SIGAP_SESSION_SECRET must be set to a random value of 32+ characters, "
                    "different from SIGAP_LINK_SECRET"
                )
        for name in ("link", "session"):
            if bool(getattr(self, f"{name}_secret_previous")) != bool(
                getattr(self, f"{name}_secret_previous_until")
            ):
                upper = name.upper()
                raise ValueError(
                    f"SIGAP_{upper}_SECRET_PREVIOUS and SIGAP_{upper}_SECRET_PREVIOUS_UNTIL go together "
                    "(the old secret and the end of its grace period)"
                )
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"SIGAP_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "SIGAP_KAFKA_SASL_USERNAME and SIGAP_KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("SIGAP_KAFKA_SSL_CERTFILE and SIGAP_KAFKA_SSL_KEYFILE go together (mTLS)")
        self.api_key_roles()  # validates the format
        return self

    def link_keys(self) -> Keyring:
        """The link secret and, during a rotation, the previous one."""
        return Keyring(self.link_secret, self.link_secret_previous, self.link_secret_previous_until)

    def session_keys(self) -> Keyring:
        """The board-session secret; outside production it may be left empty and is then derived from
        the link secret, as before the two were separate."""
        current = self.session_secret or self.link_secret
        return Keyring(current, self.session_secret_previous, self.session_secret_previous_until)

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
