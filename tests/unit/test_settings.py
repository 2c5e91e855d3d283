"""The settings: one class per service over a shared base, typed values parsed once, and README's
table of every `SIGAP_*` variable generated from them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from pydantic import ValidationError

from schemas.fields import service_area
from schemas.reference import KOTA_KEDIRI_AREA, BoundingBox
from schemas.vocabulary import ChannelType, NotificationKind
from services.common import settings_table
from services.common.acl import AclSettings
from services.common.base_settings import REPO_ROOT, CommonSettings
from services.common.config import Settings
from services.dispatcher.settings import DispatcherSettings
from services.gateway.reports.policy import AllowanceRule
from services.gateway.settings import GatewaySettings
from services.notifier.settings import NotifierSettings

README = REPO_ROOT / "README.md"


def test_readme_carries_the_generated_table() -> None:
    """Fails when a setting is added, removed or described differently without README following:
    run `python -m services.common.config --write-readme`."""
    readme = README.read_text("utf-8")
    assert settings_table.readme_table(readme) == settings_table.markdown()
    rows = [line for line in readme.splitlines() if line.startswith("| `SIGAP_")]
    assert len(rows) == len(settings_table.variables())  # no second, hand-kept table


def test_the_generator_prints_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.common.config", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    ).stdout
    assert out == settings_table.markdown()


def test_every_variable_the_code_and_scripts_read_is_in_the_table() -> None:
    files = [
        *REPO_ROOT.joinpath("services").rglob("*.py"),
        *REPO_ROOT.joinpath("schemas").rglob("*.py"),
        *REPO_ROOT.joinpath("deploy", "local").glob("*.sh"),
        *REPO_ROOT.joinpath("deploy", "container").glob("*"),
        REPO_ROOT / "deploy" / "compose.yaml",
        REPO_ROOT / "Makefile",
    ]
    seen = {
        name
        for path in files
        if path.is_file()
        for name in re.findall(r"SIGAP_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8", errors="replace"))
    }
    seen -= {
        "SIGAP_QUAKE",
        "SIGAP_SECURE",
        "SIGAP_REDIS_PASSWORD",
        "SIGAP_REDIS_USER",
    }  # prefixes named in prose
    listed = {v.name for v in settings_table.variables()}
    assert seen - settings_table.INTERNAL - listed == set()


def test_every_field_has_a_meaning() -> None:
    assert [v.name for v in settings_table.variables() if not v.meaning.strip()] == []
    names = [v.name for v in settings_table.variables()]
    assert len(names) == len(set(names))


def test_the_union_keeps_every_validator_of_every_class() -> None:
    """A validator method of the same name in two classes would silently replace the other in
    `Settings` (they inherit from one another); every one must survive."""
    union = Settings.__pydantic_decorators__
    for cls in (CommonSettings, GatewaySettings, DispatcherSettings, NotifierSettings):
        own = cls.__pydantic_decorators__
        assert set(own.field_validators) <= set(union.field_validators), cls
        assert set(own.model_validators) <= set(union.model_validators), cls


def test_each_service_reads_only_its_own_part() -> None:
    assert "api_keys" not in NotifierSettings.model_fields
    assert "notifier_rates" not in GatewaySettings.model_fields
    assert "channels" not in DispatcherSettings.model_fields
    for cls in (GatewaySettings, DispatcherSettings, NotifierSettings, AclSettings):
        assert issubclass(cls, CommonSettings)
        assert issubclass(Settings, cls) or cls is AclSettings


def test_a_notifier_in_production_needs_no_gateway_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGAP_ENV", "production")
    monkeypatch.setenv("SIGAP_LINK_SECRET", "l" * 40)
    for name in ("SIGAP_API_KEYS", "SIGAP_SESSION_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert NotifierSettings().env == "production"
    assert DispatcherSettings().env == "production"
    with pytest.raises(ValidationError, match="SIGAP_API_KEYS"):
        GatewaySettings()


def test_lists_and_maps_are_parsed_once_from_their_text_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGAP_CHANNELS", " whatsapp, sms ,outbox")
    monkeypatch.setenv("SIGAP_NOTIFIER_TIMEOUTS", "email:30, sms:2.5")
    monkeypatch.setenv("SIGAP_NOTIFIER_CONCURRENCY", "sms:2")
    monkeypatch.setenv("SIGAP_WHATSAPP_TEMPLATE", "offer:sigap_tawaran")
    monkeypatch.setenv("SIGAP_REDIS_SENTINELS", "10.0.0.1:26379, sentinel-b:26380")
    monkeypatch.setenv("SIGAP_SERVICE_AREA", "-8.5,111.0,-7.0,113.0")
    monkeypatch.setenv("SIGAP_GC_THRESHOLDS", "700,10,10")
    monkeypatch.setenv("SIGAP_API_KEYS", "operator:op-key-1234,admin:admin-key-99")
    monkeypatch.setenv("SIGAP_FORWARDED_ALLOW_IPS", "10.0.0.1, 10.0.0.2")
    monkeypatch.setenv("SIGAP_REPORT_ALLOWANCE", "per_hour:10000")
    monkeypatch.setenv("SIGAP_REPORT_TARGETS", "reported_to_first_offer:45,reported_to_staffed:600")
    monkeypatch.setenv("SIGAP_COORDINATORS", "Bu Sari|telegram:12345;Pak Budi|sms:+6281234567890")
    s = Settings()
    assert s.channels == s.enabled_channels == [ChannelType.WHATSAPP, ChannelType.SMS, ChannelType.OUTBOX]
    assert s.notifier_timeouts == {ChannelType.EMAIL: 30.0, ChannelType.SMS: 2.5}
    assert s.notifier_concurrency == {ChannelType.SMS: 2}
    assert s.whatsapp_template == {NotificationKind.OFFER: "sigap_tawaran"}
    assert s.redis_sentinels == [("10.0.0.1", 26379), ("sentinel-b", 26380)]
    assert s.service_area == s.area == BoundingBox(-8.5, 111.0, -7.0, 113.0)
    assert s.gc_thresholds == (700, 10, 10)
    assert s.api_keys == s.api_key_roles() == {"op-key-1234": "operator", "admin-key-99": "admin"}
    assert s.forwarded_allow_ips == ["10.0.0.1", "10.0.0.2"]
    assert s.report_allowance == AllowanceRule("per_hour", 10_000)
    assert s.report_targets == {"reported_to_first_offer": 45.0, "reported_to_staffed": 600.0}
    assert [p.name for p in s.coordinators] == ["Bu Sari", "Pak Budi"]
    assert s.coordinators[0].channels[-1].type == ChannelType.OUTBOX  # always also the outbox
    again = Settings(**s.model_dump())  # the typed values are accepted as they are
    assert again == s


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SIGAP_CHANNELS", "whatsapp,pigeon", "unknown channels"),
        ("SIGAP_NOTIFIER_TIMEOUTS", "sms:0", "every timeout must be > 0"),
        ("SIGAP_NOTIFIER_CONCURRENCY", "sms:0", "SIGAP_NOTIFIER_CONCURRENCY"),
        ("SIGAP_NOTIFIER_RATES", "sms:fast", "SIGAP_NOTIFIER_RATES"),
        ("SIGAP_REDIS_SENTINELS", "a:1,b", "SIGAP_REDIS_SENTINELS"),
        ("SIGAP_SERVICE_AREA", "-7.0,111.0,-8.0,113.0", "south < north"),
        ("SIGAP_API_KEYS", "chief:key-12345678", "SIGAP_API_KEYS"),
        ("SIGAP_REPORT_ALLOWANCE", "per_week:5", "SIGAP_REPORT_ALLOWANCE"),
        ("SIGAP_REPORT_TARGETS", "coffee:5", "SIGAP_REPORT_TARGETS"),
        ("SIGAP_COORDINATORS", "nobody", "SIGAP_COORDINATORS"),
        ("SIGAP_PUBLIC_URL", "sigap.example.org", "URL"),
        ("SIGAP_REDIS_URL", "127.0.0.1:6379", "SIGAP_REDIS_URL is a redis://"),
        ("SIGAP_KAFKA_BOOTSTRAP", "broker-without-port", "SIGAP_KAFKA_BOOTSTRAP"),
    ],
)
def test_a_bad_value_stops_the_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_the_service_area_is_configuration_and_the_schemas_take_it_from_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CommonSettings().service_area == KOTA_KEDIRI_AREA  # the default: Kota Kediri
    from services.common.config import get_settings

    monkeypatch.setenv("SIGAP_SERVICE_AREA", "-8.5,111.0,-7.0,113.0")
    get_settings.cache_clear()
    try:
        get_settings()
        assert service_area() == BoundingBox(-8.5, 111.0, -7.0, 113.0)
    finally:
        monkeypatch.delenv("SIGAP_SERVICE_AREA")
        get_settings.cache_clear()
        get_settings()
    assert service_area() == KOTA_KEDIRI_AREA


def test_acl_passwords_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGAP_REDIS_PASSWORD_NOTIFIER", "n" * 20)
    passwords = AclSettings().passwords()
    assert passwords["notifier"] == "n" * 20
    assert passwords["gateway"] == "local-gateway-redis-password"  # local development only
    monkeypatch.setenv("SIGAP_ENV", "production")
    monkeypatch.setenv("SIGAP_LINK_SECRET", "l" * 40)
    with pytest.raises(ValidationError, match="SIGAP_REDIS_PASSWORD_DISPATCHER must be set in production"):
        AclSettings()


async def test_the_parsed_sentinels_reach_the_client() -> None:
    from redis.asyncio.sentinel import SentinelConnectionPool

    from services.common.redis import redis_for

    s = Settings(redis_sentinels="127.0.0.1:23001,127.0.0.1:23002", redis_sentinel_master="kediri")
    client = redis_for(s)  # nothing connects until a command is sent
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "kediri"
    sentinels = [node.connection_pool.connection_kwargs for node in pool.sentinel_manager.sentinels]
    assert [(k["host"], k["port"]) for k in sentinels] == [("127.0.0.1", 23001), ("127.0.0.1", 23002)]
    await client.aclose()


def test_a_refused_start_does_not_echo_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGAP_ENV", "production")
    monkeypatch.setenv("SIGAP_LINK_SECRET", "the-real-link-secret-" + "x" * 20)
    monkeypatch.setenv("SIGAP_KAFKA_SASL_PASSWORD", "the-real-kafka-password")
    with pytest.raises(ValidationError) as refused:
        GatewaySettings()  # no API keys: refused
    assert "SIGAP_API_KEYS" in str(refused.value)
    assert "the-real" not in str(refused.value)
