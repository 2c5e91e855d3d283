"""The settings every service shares (Kafka, Redis, prefixes, transport security, the links, the
service area, the process's event loop and collector), and the parsers of the environment's
`a,b,c` / `key:value,…` forms.

Each service's own class extends `CommonSettings` (`services.gateway.settings`,
`services.dispatcher.settings`, `services.notifier.settings`); `services.common.config.Settings`
is all of them at once, for the command line and the tests. Values are parsed and validated once,
when the class is made: a list is a `list`, a map a `dict`, never a string parsed again at each use.
The environment's text forms stay what they were (README, "Configuration"); a field also accepts its
typed value, so `Settings(**other.model_dump())` round-trips.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, HttpUrl, TypeAdapter, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.reference import KOTA_KEDIRI_AREA, BoundingBox
from services.common.keyring import Keyring

DEV_LINK_SECRET = "local-dev-link-secret-change-me"  # noqa: S105 - refused outside local development
REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM_DATA_DIR = Path("/var/lib/sigap")
DEFAULT_GC_THRESHOLDS = (700, 10, 100)  # why these: services.common.heap.DEFAULT_THRESHOLDS

HASH_TAG = re.compile(r"^[^{]*\{[^}]+\}")
"""a Redis Cluster hash tag: keys starting with the same `{tag}` share a slot"""


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


# --- the environment's text forms -----------------------------------------------------------------


def items(text: str, sep: str = ",") -> list[str]:
    """`a, b,,c` → ['a', 'b', 'c']."""
    return [part.strip() for part in text.split(sep) if part.strip()]


def pairs(text: str, variable: str) -> list[tuple[str, str]]:
    """`key:value,key:value` → [(key, value), …]; a `ValueError` naming the variable otherwise."""
    out: list[tuple[str, str]] = []
    for item in items(text):
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise ValueError(f"{variable}: {item!r} is not 'key:value'")
        out.append((key.strip(), value.strip()))
    return out


def from_text(parse: Callable[[str], Any]) -> BeforeValidator:
    """Parse the environment's text form (with `NoDecode`, pydantic-settings hands it over as it is);
    a typed value passes through to the field's own validation."""

    def validate(value: Any) -> Any:
        return parse(value) if isinstance(value, str) else value

    return BeforeValidator(validate)


def _unset_when_empty(value: object) -> object:
    return None if value == "" else value  # Compose passes unset values as empty


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give the time zone, e.g. 2026-12-31T00:00:00+07:00")
    return value


def parse_sentinels(text: str) -> list[tuple[str, int]]:
    """`host:port,host:port` → [(host, port), …]; a bad entry is a `ValueError` naming it."""
    hosts: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")) if text.strip() else ():
        host, sep, port = item.rpartition(":")
        if not item or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"SIGAP_REDIS_SENTINELS entry {item!r} is not host:port")
        hosts.append((host, int(port)))
    return hosts


def parse_gc_thresholds(text: str) -> tuple[int, int, int]:
    """`gen0,gen1,gen2` (integers, gen0 ≥ 1); empty: the default."""
    if not text.strip():
        return DEFAULT_GC_THRESHOLDS
    try:
        parts = tuple(int(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or parts[0] < 1 or min(parts) < 0:
        raise ValueError(f"SIGAP_GC_THRESHOLDS={text!r}: expected gen0,gen1,gen2 (integers, gen0 ≥ 1)")
    return (parts[0], parts[1], parts[2])


def _gc_thresholds(value: tuple[int, int, int]) -> tuple[int, int, int]:
    return parse_gc_thresholds(",".join(map(str, value)))


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)
REDIS_SCHEMES = ("redis", "rediss", "unix")
"""what redis-py's `from_url` takes"""


def _http_url(value: str) -> str:
    if value:
        _HTTP_URL.validate_python(value)
    return value


def _redis_url(value: str) -> str:
    parsed = urlsplit(value)
    if parsed.scheme not in REDIS_SCHEMES or not (parsed.hostname or parsed.path):
        raise ValueError(f"SIGAP_REDIS_URL is a redis://, rediss:// or unix:// URL, not {value!r}")
    return value


def _bootstrap(value: str) -> str:
    hosts = items(value)
    for host in hosts:
        name, sep, port = host.rpartition(":")
        if not sep or not name or not port.isdigit():
            raise ValueError(f"SIGAP_KAFKA_BOOTSTRAP entry {host!r} is not host:port")
    if not hosts:
        raise ValueError("SIGAP_KAFKA_BOOTSTRAP names no broker")
    return ",".join(hosts)


AwareTime = Annotated[datetime | None, BeforeValidator(_unset_when_empty), AfterValidator(_aware)]
"""a time with its zone (ISO 8601); empty: unset"""
HttpUrlText = Annotated[str, AfterValidator(_http_url)]
"""an http(s) URL, checked at start and kept as written (empty: unset)"""
RedisUrlText = Annotated[str, AfterValidator(_redis_url)]
Bootstrap = Annotated[str, AfterValidator(_bootstrap), Field(json_schema_extra={"env_type": "host:port,…"})]
"""`host:port,…`, as aiokafka takes it"""
Area = Annotated[
    BoundingBox,
    NoDecode,
    from_text(BoundingBox.parse),
    Field(json_schema_extra={"env_type": "south,west,north,east"}),
]
Sentinels = Annotated[
    list[tuple[str, int]],
    NoDecode,
    from_text(parse_sentinels),
    Field(json_schema_extra={"env_type": "host:port,…"}),
]
GcThresholds = Annotated[
    tuple[int, int, int],
    NoDecode,
    from_text(parse_gc_thresholds),
    AfterValidator(_gc_thresholds),
    Field(json_schema_extra={"env_type": "gen0,gen1,gen2"}),
]


class CommonSettings(BaseSettings):
    """What every service reads: Kafka, Redis, prefixes, transport security, links, the area."""

    # hide_input_in_errors: a refused value's error names the variable, never echoes the environment
    # (its secrets) into the log
    model_config = SettingsConfigDict(
        env_prefix="SIGAP_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    env: Literal["local", "test", "production"] = Field(
        default="local",
        description="`local`, `test` or `production`; in production default secrets and keys are refused "
        "at start",
    )
    kafka_bootstrap: Bootstrap = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers")
    redis_url: RedisUrlText = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis; with TLS and an ACL user: "
        "`rediss://USER:PASSWORD@HOST:PORT/0?ssl_ca_certs=/path/ca.pem`",
    )
    topic_prefix: str = Field(default="sigap.", description="prefix of every topic (tests use their own)")
    public_url: HttpUrlText = Field(
        default="http://127.0.0.1:8080", description="base of the links in messages"
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="where the services (faust's data) and local Kafka and Redis keep their data",
        json_schema_extra={
            "env_default": "`.data` in a checkout (`make` sets it); installed: `/var/lib/sigap` when "
            "that exists and is writable, else `$XDG_STATE_HOME/sigap` (`~/.local/state/sigap`)"
        },
    )
    service_area: Area = Field(
        default=KOTA_KEDIRI_AREA,
        description="south,west,north,east of the service area (Kota Kediri); locations outside are "
        "refused unless `allow_outside_area`",
    )
    redis_prefix: str = Field(
        default="{sigap}:",
        description="prefix of every Redis key; its hash tag (`{…}`) keeps all of a deployment's keys in "
        "one Redis Cluster slot (required with `SIGAP_REDIS_CLUSTER`; a province running one deployment "
        "per kota/kabupaten gives each its own tag)",
    )
    log_level: str = Field(default="INFO", description="the gateway's log level (`DEBUG`, `INFO`, …)")
    link_secret: str = Field(
        default=DEV_LINK_SECRET,
        description="HMAC secret of volunteer links (32+ characters in production)",
        json_schema_extra={"env_default": "local dev secret"},
    )
    link_secret_previous: str = Field(
        default="",
        description="during a rotation: the old link secret still verifies links (never signs) until "
        '`SIGAP_LINK_SECRET_PREVIOUS_UNTIL`; both or neither (deploy/README.md "Secrets and rotation")',
    )
    link_secret_previous_until: AwareTime = Field(
        default=None, description="end of the old link secret's grace (ISO 8601 with a time zone)"
    )

    # the process (services/common/loop.py, services/common/heap.py)
    event_loop: Annotated[Literal["uvloop", "asyncio"], BeforeValidator(_stripped)] = Field(
        default="uvloop",
        description="every service's event loop: `uvloop` (libuv, compiled) or `asyncio` (the standard "
        "library's, for its debugging tools)",
    )
    gc_thresholds: GcThresholds = Field(
        default=DEFAULT_GC_THRESHOLDS,
        description="every service's garbage-collector thresholds `gen0,gen1,gen2` (CPython's own are "
        "`700,10,10`; measurements in `bench/PROFILE.md` §7); the pauses are on each `/metrics` as "
        "`sigap_gc_*`",
    )

    # Kafka transport security (issue 17)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`, for every Kafka client (faust "
        "apps, producers, consumers, admin)",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="with `SASL_*`: `SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN`"
    )
    kafka_sasl_username: str = Field(default="", description="with `SASL_*` (required then)")
    kafka_sasl_password: str = Field(default="", description="with `SASL_*` (required then)")
    kafka_ssl_cafile: str = Field(
        default="",
        description="CA bundle that verifies the brokers' certificates (empty: the system's CAs)",
    )
    kafka_ssl_certfile: str = Field(
        default="", description="client certificate for mutual TLS (with the key)"
    )
    kafka_ssl_keyfile: str = Field(default="", description="client key for mutual TLS (with the certificate)")
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="check the broker's name against its certificate"
    )

    # topics (issue 16)
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        le=7,
        description="replicas of each topic `python -m services.common.topics` creates; "
        "`min.insync.replicas` is one less (at least 1); services refuse topics with fewer",
        json_schema_extra={"env_default": "3 on a cluster of 3+ brokers, 1 on one"},
    )
    dispatch_log_retention_ms: int = Field(
        default=-1,
        ge=-1,
        description="retention of `dispatch-log`, the audit trail, when the topics are created (-1 keeps "
        "everything)",
    )
    topic_check_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="how long a service waits for the broker at start to check its topics (missing or "
        "wrongly shaped topics stop the start, naming each difference)",
    )

    # Redis Sentinel (issue 16) and Redis Cluster (issue 15)
    redis_sentinels: Sentinels = Field(
        default_factory=list,
        description="`host:port,…` of Redis Sentinels: every service then finds the Redis primary through "
        "them and follows a failover (`SIGAP_REDIS_URL` still gives the database and credentials)",
    )
    redis_sentinel_master: str = Field(
        default="sigap", description="the name the sentinels monitor the primary under"
    )
    redis_cluster: bool = Field(
        default=False,
        description="`SIGAP_REDIS_URL` names a node of a Redis Cluster: the services use redis-py's "
        "`RedisCluster`",
    )

    # One owner per key space (issue 15): the Redis ACL user each service connects as
    # (services/common/acl.py). A password alone means the user `sigap-<service>`; neither: the
    # credentials in SIGAP_REDIS_URL.
    redis_user_dispatcher: str = Field(
        default="",
        description="the dispatcher's Redis ACL user (default `sigap-dispatcher` when its password is set)",
    )
    redis_password_dispatcher: str = Field(
        default="",
        description="password of the dispatcher's Redis ACL user (`deploy/local/redis-acl.sh env` prints "
        "the local ones); empty: the credentials in `SIGAP_REDIS_URL`",
    )
    redis_user_notifier: str = Field(
        default="",
        description="the notifier's Redis ACL user (default `sigap-notifier` when its password is set)",
    )
    redis_password_notifier: str = Field(
        default="",
        description="password of the notifier's Redis ACL user; empty: the credentials in `SIGAP_REDIS_URL`",
    )
    redis_user_gateway: str = Field(
        default="",
        description="the gateway's Redis ACL user (default `sigap-gateway` when its password is set)",
    )
    redis_password_gateway: str = Field(
        default="",
        description="password of the gateway's Redis ACL user; empty: the credentials in `SIGAP_REDIS_URL`",
    )

    def redis_url_for(self, service: Literal["dispatcher", "notifier", "gateway"]) -> str:
        """`SIGAP_REDIS_URL` with `service`'s ACL user and password, when they are configured."""
        user = getattr(self, f"redis_user_{service}")
        password = getattr(self, f"redis_password_{service}")
        if not (user or password):
            return self.redis_url
        return with_credentials(self.redis_url, user or f"sigap-{service}", password)

    @model_validator(mode="after")
    def _common_checks(self) -> CommonSettings:
        if self.redis_cluster and not HASH_TAG.match(self.redis_prefix):
            raise ValueError(
                "SIGAP_REDIS_PREFIX must start with a hash tag such as '{sigap}:' on a Redis Cluster "
                f"(got {self.redis_prefix!r}): every key of a deployment must live in one slot"
            )
        if self.env == "production" and (self.link_secret == DEV_LINK_SECRET or len(self.link_secret) < 32):
            raise ValueError("SIGAP_LINK_SECRET must be set to a random value of 32+ characters")
        grace_pair("link", self.link_secret_previous, self.link_secret_previous_until)
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"SIGAP_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "SIGAP_KAFKA_SASL_USERNAME and SIGAP_KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("SIGAP_KAFKA_SSL_CERTFILE and SIGAP_KAFKA_SSL_KEYFILE go together (mTLS)")
        return self

    def link_keys(self) -> Keyring:
        """The link secret and, during a rotation, the previous one."""
        return Keyring(self.link_secret, self.link_secret_previous, self.link_secret_previous_until)

    @property
    def area(self) -> BoundingBox:
        """`service_area` (the name it had when it was text)."""
        return self.service_area

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` with `user:password@` in place of any credentials it carries (both quoted)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{quote(user, safe='')}:{quote(password, safe='')}@{rest.rpartition('@')[2]}"


def grace_pair(name: str, previous: str, until: datetime | None) -> None:
    """A rotated-out secret and the end of its grace period go together."""
    if bool(previous) != bool(until):
        upper = name.upper()
        raise ValueError(
            f"SIGAP_{upper}_SECRET_PREVIOUS and SIGAP_{upper}_SECRET_PREVIOUS_UNTIL go together "
            "(the old secret and the end of its grace period)"
        )


def read_settings(cls: type[S]) -> S:
    """A service's settings from the environment; also gives the schemas' validators the service area
    (`SIGAP_SERVICE_AREA`), the one setting the schemas use."""
    from schemas.fields import configure_service_area

    settings = cls()
    configure_service_area(settings.service_area)
    return settings


@cache
def common_settings() -> CommonSettings:
    """The shared settings, read once (for what runs before a service's own class is made: the event
    loop, the collector)."""
    return CommonSettings()


S = TypeVar("S", bound=CommonSettings)
