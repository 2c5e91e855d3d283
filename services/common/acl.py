"""One owner per key space (DESIGN.md §1), enforced by Redis: each service connects as its own ACL user
that may write only its own keys and read the rest (the read models the owners publish).

| user | writes (under the prefix) | reads |
|---|---|---|
| `sigap-dispatcher` | `vol:*`, `volunteers`, `offer:*`, `incident:*`, `incidents:*`, `dsp:*`, |
|  | `alert:*`, `alerts:*` | all |
| `sigap-notifier` | `notif:*`, `notifier:*`, `outbox`, `outbox:*`, `sender:*` (whom it wrote to) | all |
| `sigap-gateway` | `idem:*`, `bmkg:*`, `gw:*` (chat answers seen) | all |

Every user may publish and subscribe on the `changes` channel and nothing else. Applied by
`python -m services.common.acl apply` (`deploy/local/redis-acl.sh`), as a user allowed to run
`ACL SETUSER`; each service then uses a `SIGAP_REDIS_URL` naming its user
(`redis://sigap-gateway:<password>@host:port/0`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator
from redis.asyncio import Redis

from services.common.base_settings import CommonSettings
from services.common.readmodels import Keys

OWNED: dict[str, tuple[str, ...]] = {
    "dispatcher": (
        "vol:*",
        "volunteers",
        "offer:*",
        "incident:*",
        "incidents:*",
        "dsp:*",
        "alert:*",
        "alerts:*",
    ),
    "notifier": ("notif:*", "notifier:*", "outbox", "outbox:*", "sender:*"),
    "gateway": ("idem:*", "bmkg:*", "gw:*"),
}
SERVICES = tuple(OWNED)


def user_name(service: str) -> str:
    return f"sigap-{service}"


def _glob(text: str) -> str:
    """A literal for an ACL key or channel pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


@dataclass(frozen=True, slots=True)
class AclUser:
    """One service's ACL user: its own keys read-write, every other key of the deployment read-only,
    the `changes` channel, no administrative or dangerous commands."""

    name: str
    keys: tuple[str, ...]
    channels: tuple[str, ...]
    categories: tuple[str, ...] = ("+@all", "-@admin", "-@dangerous")
    commands: tuple[str, ...] = ("+info",)  # redis-py's health checks


def acl_user(service: str, prefix: str) -> AclUser:
    escaped = _glob(prefix)
    return AclUser(
        name=user_name(service),
        keys=(f"%R~{escaped}*", *(f"~{escaped}{pattern}" for pattern in OWNED[service])),
        channels=(_glob(Keys(prefix).changes),),
    )


def _password(service: str) -> Any:
    return Field(
        default="",
        description=f"password of the {service}'s Redis ACL user (`sigap-{service}`), set by "
        "`deploy/local/redis-acl.sh apply` (`… urls` prints each service's `SIGAP_REDIS_URL`); "
        "required in production",
        json_schema_extra={"env_default": f"`local-{service}-redis-password`"},
    )


class AclSettings(CommonSettings):
    """`python -m services.common.acl`: the services' Redis users and their passwords."""

    redis_password_dispatcher: str = _password("dispatcher")
    redis_password_notifier: str = _password("notifier")
    redis_password_gateway: str = _password("gateway")

    @model_validator(mode="after")
    def _set_in_production(self) -> AclSettings:
        if self.env == "production":
            for service, password in self.given().items():
                if not password:
                    raise ValueError(f"SIGAP_REDIS_PASSWORD_{service.upper()} must be set in production")
        return self

    def given(self) -> dict[str, str]:
        return {
            "dispatcher": self.redis_password_dispatcher,
            "notifier": self.redis_password_notifier,
            "gateway": self.redis_password_gateway,
        }

    def passwords(self) -> dict[str, str]:
        """service → password; local development falls back to a fixed password per service."""
        return {s: value or f"local-{s}-redis-password" for s, value in self.given().items()}


async def apply(redis: Redis, prefix: str, passwords: dict[str, str]) -> list[str]:
    """Create or replace the three service users; returns their names."""
    for service in SERVICES:
        user = acl_user(service, prefix)
        await redis.acl_setuser(
            user.name,
            enabled=True,
            reset=True,
            passwords=[f"+{passwords[service]}"],
            keys=list(user.keys),
            channels=list(user.channels),
            categories=list(user.categories),
            commands=list(user.commands),
        )
    return [user_name(s) for s in SERVICES]


def service_url(base_url: str, service: str, password: str) -> str:
    """`base_url` with the service's user and password."""
    scheme, sep, rest = base_url.partition("://")
    rest = rest.rpartition("@")[2]
    return f"{scheme}{sep}{user_name(service)}:{password}@{rest}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Redis ACL users of Sigap's services")
    parser.add_argument("action", choices=("apply", "urls"))
    args = parser.parse_args()
    try:
        settings = AclSettings()
    except ValueError as exc:  # pydantic's ValidationError names the variable
        raise SystemExit(str(exc)) from None
    passwords = settings.passwords()
    if args.action == "urls":
        for service in SERVICES:
            print(f"{service} {service_url(settings.redis_url, service, passwords[service])}")  # noqa: T201
        return

    async def run() -> list[str]:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            return await apply(redis, settings.redis_prefix, passwords)
        finally:
            await redis.aclose()

    users = asyncio.run(run())
    sys.stderr.write(f"Redis ACL users for prefix {settings.redis_prefix!r}: {', '.join(users)}\n")


if __name__ == "__main__":
    main()
