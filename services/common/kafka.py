"""Kafka producers for the edges (gateway, CLI, timers): idempotent, `acks=all`."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from schemas.envelope import Envelope
from schemas.events import Payload

if TYPE_CHECKING:
    from services.common.base_settings import CommonSettings


# --- transport security (issue 17): every Kafka client of Sigap takes its options from here -------------


def _settings(settings: CommonSettings | None) -> CommonSettings:
    if settings is not None:
        return settings
    from services.common.base_settings import common_settings

    return common_settings()


def ssl_context(settings: CommonSettings | None = None) -> ssl.SSLContext:
    """TLS to the brokers: verify them with `SIGAP_KAFKA_SSL_CAFILE` (else the system's CAs), and present
    `SIGAP_KAFKA_SSL_CERTFILE`/`_KEYFILE` when set (mutual TLS)."""
    s = _settings(settings)
    context: ssl.SSLContext = create_ssl_context(
        cafile=s.kafka_ssl_cafile or None,
        certfile=s.kafka_ssl_certfile or None,
        keyfile=s.kafka_ssl_keyfile or None,
    )
    context.check_hostname = s.kafka_ssl_check_hostname
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def security_options(settings: CommonSettings | None = None) -> dict[str, Any]:
    """aiokafka's keyword arguments for `SIGAP_KAFKA_SECURITY_PROTOCOL` and its credentials (none for
    PLAINTEXT), for producers, consumers and admin clients alike."""
    s = _settings(settings)
    protocol = s.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(s)
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = s.kafka_sasl_mechanism
        options["sasl_plain_username"] = s.kafka_sasl_username
        options["sasl_plain_password"] = s.kafka_sasl_password
    return options


def faust_credentials(settings: CommonSettings | None = None) -> Any:
    """The same as faust's `broker_credentials` (None for PLAINTEXT)."""
    import faust

    s = _settings(settings)
    protocol = s.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(s) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=s.kafka_sasl_username,
        password=s.kafka_sasl_password,
        ssl_context=context,
        mechanism=s.kafka_sasl_mechanism,
    )


def new_producer(
    bootstrap: str,
    client_id: str = "sigap",
    request_timeout_ms: int = 15000,
    *,
    settings: CommonSettings | None = None,
    linger_ms: int = 1,
) -> AIOKafkaProducer:
    """A producer whose `send_and_wait` returns only once the broker has the record (all in-sync
    replicas: `acks=all`), written once however often it is retried (`enable_idempotence`)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
        **security_options(settings),
    )


def key_of(event: Envelope[Payload]) -> bytes | None:
    """Per-incident events are keyed by the incident id (order per incident); others by their subject."""
    payload = event.payload
    for attr in ("incident_id", "volunteer_id", "notification_id", "alert_id"):
        value = getattr(payload, attr, None)
        if isinstance(value, str):
            return value.encode()
    profile = getattr(payload, "profile", None)
    if profile is not None:
        return str(profile.volunteer_id).encode()
    return event.correlation_id.encode() if event.correlation_id else None


async def publish(producer: AIOKafkaProducer, topic: str, event: Envelope[Payload]) -> None:
    """Send one event and wait for the broker's acknowledgement."""
    await producer.send_and_wait(topic, event.to_json(), key=key_of(event))
