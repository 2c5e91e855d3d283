"""Which Redis user a service connects as, and what its ACL user may touch (services/common/acl.py)."""

from __future__ import annotations

from services.common.acl import acl_user
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
