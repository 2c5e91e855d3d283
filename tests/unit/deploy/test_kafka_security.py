"""Kafka transport settings become the same options for every client (pure: no broker; the live
checks are in tests/integration/secure)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from services.common.config import Settings
from services.common.kafka import faust_credentials, security_options


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "ca.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return folder / "ca.pem"


def test_plaintext_adds_nothing() -> None:
    settings = Settings()
    assert security_options(settings) == {}
    assert faust_credentials(settings) is None


def test_sasl_ssl_with_scram(ca: Path) -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="sigap-dispatcher",
        kafka_sasl_password="pw",
        kafka_ssl_cafile=str(ca),
    )
    options = security_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("sigap-dispatcher", "pw")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"


def test_sasl_needs_credentials_and_mtls_needs_both_files() -> None:
    with pytest.raises(ValidationError, match="SIGAP_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValidationError, match="SIGAP_KAFKA_SSL_KEYFILE"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_certfile="/x.pem")
    with pytest.raises(ValidationError):
        Settings(kafka_security_protocol="SASL_SSL_PLEASE")  # type: ignore[arg-type]
