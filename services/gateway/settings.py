"""The gateway's settings: the HTTP edge, its keys and sessions, webhooks, BMKG feeds, reports."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from schemas.fields import normalise_phone
from services.common.base_settings import (
    AwareTime,
    CommonSettings,
    HttpUrlText,
    from_text,
    grace_pair,
    items,
    pairs,
    read_settings,
)
from services.common.keyring import Keyring
from services.gateway.reports.policy import AllowanceRule, parse_targets

Role = Literal["operator", "coordinator", "admin"]
ROLES: tuple[Role, ...] = ("operator", "coordinator", "admin")
DEV_API_KEYS = "operator:dev-operator-key,coordinator:dev-coordinator-key,admin:dev-admin-key"


def parse_api_keys(text: str) -> dict[str, Role]:
    """`role:key,role:key` → key → role."""
    keys: dict[str, Role] = {}
    for role, key in pairs(text, "SIGAP_API_KEYS"):
        if role not in ROLES or len(key) < 8:
            raise ValueError(
                "SIGAP_API_KEYS is 'role:key,…' with roles operator, coordinator, admin "
                "and keys of 8+ characters"
            )
        keys[key] = role
    if not keys:
        raise ValueError("SIGAP_API_KEYS names no key")
    return keys


class GatewaySettings(CommonSettings):
    """`python -m services.gateway`."""

    http_host: str = Field(default="127.0.0.1", description="the gateway's address")
    http_port: int = Field(default=8080, ge=1, le=65535, description="the gateway's port")
    api_keys: Annotated[dict[str, Role], NoDecode, from_text(parse_api_keys)] = Field(
        default_factory=lambda: parse_api_keys(DEV_API_KEYS),
        description="`role:key,role:key,…`; roles `operator` < `coordinator` < `admin`; keys of 8+ "
        "characters",
        json_schema_extra={"env_default": "local dev keys", "env_type": "role:key,…"},
    )
    session_secret: str = Field(
        default="",
        description="HMAC secret of board sessions and CSRF tokens; required in production (32+ "
        "characters, not the link secret), so rotating one does not undo the other",
        json_schema_extra={"env_default": "derived from the link secret outside production"},
    )
    session_secret_previous: str = Field(
        default="",
        description="during a rotation: sessions signed with the old secret stay valid until "
        "`SIGAP_SESSION_SECRET_PREVIOUS_UNTIL`; both or neither",
    )
    session_secret_previous_until: AwareTime = Field(
        default=None, description="end of the old session secret's grace (ISO 8601 with a time zone)"
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode, from_text(items)] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="addresses of the reverse proxies whose `X-Forwarded-For`/`-Proto` the gateway trusts "
        "(`*` where only the proxy can reach it: Compose, Kubernetes)",
    )
    publish_timeout_s: float = Field(
        default=4.0,
        gt=0,
        le=120,
        description="how long an API post waits for the broker before it answers `503 broker_unavailable` "
        "(retry with the same `Idempotency-Key`)",
    )
    # issue 19 (the ops room's own Bahasa): the posko's number, given on every error page
    posko_phone: str = Field(
        default="",
        description="the posko's phone number, given on every error page of the volunteer links (e.g. "
        "`0354-123456`)",
    )

    # answers on chat channels (issue 18): the webhooks; an empty secret turns its endpoint off
    whatsapp_app_secret: str = Field(
        default="",
        description="the Meta app's secret: `POST /webhooks/whatsapp` accepts only bodies whose "
        "`X-Hub-Signature-256` is their HMAC-SHA256 with it (unset: the webhook refuses everything)",
    )
    whatsapp_verify_token: str = Field(
        default="",
        description="the verify token typed into the Meta app dashboard: `GET /webhooks/whatsapp` echoes "
        "`hub.challenge` only for it",
    )
    telegram_webhook_secret: str = Field(
        default="",
        description="`setWebhook`'s `secret_token`: `POST /webhooks/telegram` needs it in "
        "`X-Telegram-Bot-Api-Secret-Token` (1–256 of `A-Z a-z 0-9 _ -`)",
    )
    sms_webhook_secret: str = Field(
        default="",
        description="the SMS gateway's inbound forward must send it in `X-Sigap-Webhook-Secret` to "
        "`POST /webhooks/sms`",
    )
    inbound_dedupe_ttl_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="how long the gateway remembers a provider's message id (`gw:inbound:*`), so a "
        "redelivered webhook changes nothing",
    )

    # BMKG feeds (DESIGN.md §6). Polling is off by default: it needs the internet, and tests point the
    # URLs at local servers. An empty URL disables that one feed.
    bmkg_poll: bool = Field(
        default=False,
        description="poll the BMKG feeds from the gateway. **Off by default** (also in `make up`): the "
        "feeds need the internet; warnings can always be posted to `POST /api/v1/weather/cap`",
    )
    bmkg_nowcast_rss_url: HttpUrlText = Field(
        default="https://www.bmkg.go.id/alerts/nowcast/id/rss.xml",
        description="BMKG's nowcast RSS (empty: that feed is off)",
    )
    bmkg_autogempa_url: HttpUrlText = Field(
        default="https://data.bmkg.go.id/DataMKG/TEWS/autogempa.json",
        description="BMKG's latest earthquake (empty: that feed is off)",
    )
    bmkg_gempadirasakan_url: HttpUrlText = Field(
        default="https://data.bmkg.go.id/DataMKG/TEWS/gempadirasakan.json",
        description="BMKG's felt earthquakes (empty: that feed is off)",
    )
    bmkg_poll_interval_s: float = Field(default=60.0, ge=0.05, le=86400, description="poll interval")
    bmkg_backoff_max_s: float = Field(
        default=600.0, ge=0.1, le=86400, description="ceiling of the backoff (with jitter) after errors"
    )
    bmkg_http_timeout_s: float = Field(default=15.0, gt=0, le=300, description="per-request timeout")
    bmkg_max_document_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest CAP/RSS/earthquake document accepted (polled or posted)",
    )
    bmkg_seen_ttl_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="how long Redis remembers a published alert (dedupe)"
    )
    quake_min_magnitude: float = Field(
        default=5.0, ge=0, le=10, description="an earthquake concerns the city at this magnitude …"
    )
    quake_max_distance_km: float = Field(
        default=150.0, ge=0, description="… within this distance of its centre …"
    )
    quake_strong_magnitude: float = Field(default=6.0, ge=0, le=10, description="… or at this magnitude …")
    quake_strong_distance_km: float = Field(
        default=300.0,
        ge=0,
        description="… within this distance, or when its `Dirasakan` text names Kediri; it then affects "
        "all 46 kelurahan",
    )
    quake_alert_ttl_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="how long an earthquake alert stays on the board; older reports are ignored",
    )

    # reports (issue 20): the transport allowance, response-time targets, the printed pages' header
    reports_db: str = Field(
        default="",
        description="the report projection's SQLite file (a view: delete it and the gateway rebuilds it "
        "from the topics). With `SIGAP_ENV=test` and no value: in memory",
        json_schema_extra={"env_default": "`$SIGAP_DATA_DIR/reports/<topic prefix>.sqlite3`"},
    )
    reports_projection: bool = Field(
        default=True,
        description="`false`: the gateway serves its report store as it is and reads no topic (a "
        "benchmark, the API fuzz test)",
    )
    report_allowance: Annotated[AllowanceRule, NoDecode, from_text(AllowanceRule.parse)] = Field(
        default=AllowanceRule("per_day", 100_000),
        description="uang transport: `per_day` (per deployment day), `per_deployment` or `per_hour` "
        "(en route + on scene), in rupiah",
        json_schema_extra={"env_type": "per_day|per_deployment|per_hour:<rupiah>"},
    )
    report_max_deployment_hours: float = Field(
        default=12.0,
        gt=0,
        le=168,
        description="the longest one deployment counts (hours and days), e.g. for a volunteer who never "
        'reported "selesai"',
    )
    report_targets: Annotated[dict[str, float], NoDecode, from_text(parse_targets)] = Field(
        default_factory=lambda: {"reported_to_first_offer": 60.0},
        description="response-time targets `step:seconds,…` (NFPA 1225: answering → dispatch within 60 s)",
        json_schema_extra={"env_type": "step:seconds,…"},
    )
    report_target_share: float = Field(
        default=0.9, gt=0, le=1, description="the share of incidents that must meet the targets"
    )
    report_office_name: str = Field(
        default="DINAS SOSIAL KOTA KEDIRI", description="the printed reports' letterhead"
    )
    report_office_address: str = Field(default="", description="the printed reports' letterhead")
    report_signatory_title: str = Field(
        default="Kepala Dinas Sosial Kota Kediri",
        description="the printed reports' signature block",
    )
    report_signatory_name: str = Field(
        default="", description="the printed reports' signature block (empty: a dotted line to fill by hand)"
    )
    report_signatory_nip: str = Field(
        default="", description="the printed reports' signature block (empty: a dotted line to fill by hand)"
    )

    @field_validator("posko_phone")
    @classmethod
    def _posko_phone(cls, value: str) -> str:
        return normalise_phone(value) if value.strip() else ""

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("Telegram's secret_token is 1-256 of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _gateway_checks(self) -> GatewaySettings:
        if self.env == "production":
            if self.api_keys == parse_api_keys(DEV_API_KEYS):
                raise ValueError("SIGAP_API_KEYS must be set outside local development")
            if len(self.session_secret) < 32 or self.session_secret == self.link_secret:
                raise ValueError(
                    "SIGAP_SESSION_SECRET must be set to a random value of 32+ characters, "
                    "different from SIGAP_LINK_SECRET"
                )
        grace_pair("session", self.session_secret_previous, self.session_secret_previous_until)
        return self

    def api_key_roles(self) -> dict[str, str]:
        """key → role."""
        return dict(self.api_keys)

    def session_keys(self) -> Keyring:
        """The board-session secret; outside production it may be left empty and is then derived from
        the link secret, as before the two were separate."""
        current = self.session_secret or self.link_secret
        return Keyring(current, self.session_secret_previous, self.session_secret_previous_until)


@cache
def get_gateway_settings() -> GatewaySettings:
    """The gateway's settings, read once; also applies the service area to the schemas' validators."""
    return read_settings(GatewaySettings)
