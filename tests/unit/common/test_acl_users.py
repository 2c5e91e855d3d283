"""Which Redis user a service connects as, and what its ACL user may touch (services/common/acl.py)."""

from __future__ import annotations

import re
from pathlib import Path

from services.common.acl import SERVICES, acl_user
from services.common.config import Settings


def test_a_service_connects_as_its_own_user_when_one_is_configured() -> None:
    plain = Settings(redis_url="redis://127.0.0.1:6379/0")
    assert plain.redis_url_for("gateway") == "redis://127.0.0.1:6379/0"  # the URL's own credentials
    s = Settings(
        redis_url="rediss://ops:secret@redis.example:6380/0?ssl_ca_certs=/ca.pem",
        redis_password_gateway="p@ss:/word",
        redis_user_dispatcher="dsp",
        redis_password_dispatcher="x",
    )
    assert s.redis_url_for("gateway") == (
        "rediss://sigap-gateway:p%40ss%3A%2Fword@redis.example:6380/0?ssl_ca_certs=/ca.pem"
    )
    assert s.redis_url_for("dispatcher") == "rediss://dsp:x@redis.example:6380/0?ssl_ca_certs=/ca.pem"
    assert s.redis_url_for("notifier") == s.redis_url  # none configured for it


def test_each_user_writes_its_own_keys_and_reads_only_the_others_read_models() -> None:
    gateway = acl_user("gateway", "{kediri}:")
    assert "~{kediri}:idem:*" in gateway.keys
    assert "%R~{kediri}:vol:*" in gateway.keys and "%R~{kediri}:outbox:*" in gateway.keys
    assert not any("dsp:" in k or "notif:" in k for k in gateway.keys)  # private keys stay private
    notifier = acl_user("notifier", "{kediri}:", name="sigap-notifier-t1")
    assert notifier.name == "sigap-notifier-t1"
    assert "~{kediri}:outbox" in notifier.keys and "%R~{kediri}:incident:*" in notifier.keys
    assert not any(k.startswith("%R~") and "idem:" in k for k in notifier.keys)
    assert acl_user("dispatcher", "te[st]:").keys[0] == "~te\\[st\\]:vol:*"  # the prefix is a literal
    assert notifier.channels == ("{kediri}:changes",)


def test_the_runbooks_acl_file_has_exactly_the_services_users() -> None:
    """deploy/README.md writes deploy/k8s's users.acl by hand: its service lines are what
    `python -m services.common.acl aclfile` gives for the manifests' prefix, `sigap:`."""
    runbook = (Path(__file__).resolve().parents[3] / "deploy" / "README.md").read_text("utf-8")
    block = re.search(r"cat >users.acl <<EOF\n(.*?)\nEOF", runbook, re.S)
    assert block, "deploy/README.md no longer makes users.acl"
    lines = {line.split()[1]: line for line in block.group(1).splitlines() if line.startswith("user sigap-")}
    variables = {"dispatcher": "$DSP_PW", "notifier": "$NTF_PW", "gateway": "$GW_PW"}
    assert lines == {
        f"sigap-{service}": acl_user(service, "sigap:").rule(variables[service]) for service in SERVICES
    }
    for service in SERVICES:  # and each Deployment signs in as that user with that password
        manifest = (Path(__file__).resolve().parents[3] / "deploy" / "k8s" / f"{service}.yaml").read_text()
        upper = service.upper()
        assert f"name: SIGAP_REDIS_USER_{upper}\n              value: sigap-{service}" in manifest
        assert f"name: SIGAP_REDIS_PASSWORD_{upper}" in manifest and f"key: {service}-password" in manifest


def test_an_acl_file_line_is_the_same_user_as_acl_setuser_makes() -> None:
    user = acl_user("gateway", "{kediri}:")
    line = user.rule("pw")
    assert line.startswith("user sigap-gateway on >pw ~{kediri}:idem:* ")
    assert line.endswith("&{kediri}:changes +@all -@admin -@dangerous +info")
    assert line.split()[4:-5] == list(user.keys)
