"""One owner per key space (DESIGN.md §1), enforced by Redis: each service connects as its own ACL user
that may write only its own keys and read, besides them, only the read models the other services
publish for it.

| user | writes (under the prefix) | reads besides its own |
|---|---|---|
| `sigap-dispatcher` | `vol:*`, `volunteers`, `offer:*`, `incident:*`, `incidents:*`, | the notifier's |
|  | `dsp:*`, `alert:*`, `alerts:*` | |
| `sigap-notifier` | `notif:*`, `notifier:*`, `outbox`, `outbox:*`, `sender:*` | the dispatcher's |
| `sigap-gateway` | `idem:*`, `bmkg:*`, `gw:*` (chat answers seen) | both |

The read models: the dispatcher's roster (`vol:*`, `volunteers`), offers, incident documents and lists
and weather banners (not its private `dsp:*`); the notifier's outbox and `sender:*` (not its claims
and rates). Every user may publish and subscribe on the `changes` channel and nothing else; no
administrative or dangerous commands. Applied by `python -m services.common.acl apply`
(`deploy/local/redis-acl.sh`), as a user allowed to run `ACL SETUSER`, or written into an ACL file by
`python -m services.common.acl aclfile` (deploy/k8s's Redis, deploy/README.md); each service then connects as
its user (`SIGAP_REDIS_USER_<SERVICE>`, `SIGAP_REDIS_PASSWORD_<SERVICE>`: `Settings.redis_url_for`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from pydantic import model_validator
from redis.asyncio import Redis

from services.common.base_settings import CommonSettings, with_credentials
from services.common.readmodels import Keys
from services.common.redis import Service

OWNED: dict[Service, tuple[str, ...]] = {
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
PUBLISHED: dict[Service, tuple[str, ...]] = {
    "dispatcher": ("vol:*", "volunteers", "offer:*", "incident:*", "incidents:*", "alert:*", "alerts:*"),
    "notifier": ("outbox", "outbox:*", "sender:*"),
    "gateway": (),
}
"""the read models each owner publishes: what the other services may read of its keys"""
SERVICES: tuple[Service, ...] = ("dispatcher", "notifier", "gateway")


def user_name(service: Service) -> str:
    return f"sigap-{service}"


def _glob(text: str) -> str:
    """A literal for an ACL key or channel pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


@dataclass(frozen=True, slots=True)
class AclUser:
    """One service's ACL user: its own keys read-write, the others' read models read-only, the
    `changes` channel, no administrative or dangerous commands."""

    name: str
    keys: tuple[str, ...]
    channels: tuple[str, ...]
    categories: tuple[str, ...] = ("+@all", "-@admin", "-@dangerous")
    commands: tuple[str, ...] = ("+info",)  # redis-py's health checks

    def setuser(self, password: str) -> dict[str, Any]:
        """The keyword arguments of redis-py's `acl_setuser` that create or replace this user."""
        return {
            "username": self.name,
            "enabled": True,
            "reset": True,
            "passwords": [f"+{password}"],
            "keys": list(self.keys),
            "channels": list(self.channels),
            "categories": list(self.categories),
            "commands": list(self.commands),
        }

    def rule(self, password: str) -> str:
        """The same user as a line of an ACL file (`aclfile`, what deploy/k8s's Redis loads)."""
        channels = " ".join(f"&{c}" for c in self.channels)
        return " ".join(
            ["user", self.name, "on", f">{password}", *self.keys, channels, *self.categories, *self.commands]
        )


def acl_user(service: Service, prefix: str, name: str | None = None) -> AclUser:
    escaped = _glob(prefix)
    reads = [p for other in SERVICES if other != service for p in PUBLISHED[other]]
    return AclUser(
        name=name or user_name(service),
        keys=(
            *(f"~{escaped}{pattern}" for pattern in OWNED[service]),
            *(f"%R~{escaped}{pattern}" for pattern in reads),
        ),
        channels=(_glob(Keys(prefix).changes),),
    )


class AclSettings(CommonSettings):
    """`python -m services.common.acl`: the services' Redis users and their passwords (the fields are
    the shared settings' `SIGAP_REDIS_USER_<SERVICE>` / `SIGAP_REDIS_PASSWORD_<SERVICE>`); every
    password is required in production."""

    @model_validator(mode="after")
    def _set_in_production(self) -> AclSettings:
        if self.env == "production":
            for service in SERVICES:
                if not getattr(self, f"redis_password_{service}"):
                    raise ValueError(f"SIGAP_REDIS_PASSWORD_{service.upper()} must be set in production")
        return self

    def passwords(self) -> dict[Service, str]:
        """service → password; local development falls back to a fixed password per service."""
        return {s: password_for(s, self) for s in SERVICES}


def password_for(service: Service, settings: CommonSettings) -> str:
    """`SIGAP_REDIS_PASSWORD_<SERVICE>`; local development falls back to a fixed password."""
    value: str = getattr(settings, f"redis_password_{service}")
    return value or f"local-{service}-redis-password"


def name_for(service: Service, settings: CommonSettings) -> str:
    """`SIGAP_REDIS_USER_<SERVICE>`, by default `sigap-<service>`."""
    return getattr(settings, f"redis_user_{service}") or user_name(service)


async def apply(
    redis: Redis, prefix: str, passwords: dict[Service, str], names: dict[Service, str] | None = None
) -> list[str]:
    """Create or replace the three service users (named `names`, by default `sigap-<service>`);
    returns their names."""
    applied = []
    for service in SERVICES:
        user = acl_user(service, prefix, (names or {}).get(service))
        await redis.acl_setuser(**user.setuser(passwords[service]))
        applied.append(user.name)
    return applied


def service_url(base_url: str, service: Service, password: str, name: str | None = None) -> str:
    """`base_url` with the service's user and password."""
    return with_credentials(base_url, name or user_name(service), password)


def main() -> None:
    parser = argparse.ArgumentParser(description="Redis ACL users of Sigap's services")
    parser.add_argument(
        "action",
        choices=("apply", "urls", "env", "aclfile"),
        help="apply: create or replace the users; urls: each service's Redis URL; "
        "env: the SIGAP_REDIS_USER_/PASSWORD_ variables of each service, one a line; "
        "aclfile: the users as lines of a Redis ACL file",
    )
    args = parser.parse_args()
    try:
        settings = AclSettings()
    except ValueError as exc:  # pydantic's ValidationError names the variable
        raise SystemExit(str(exc)) from None
    passwords = settings.passwords()
    names = {s: name_for(s, settings) for s in SERVICES}
    if args.action == "urls":
        for service in SERVICES:
            url = service_url(settings.redis_url, service, passwords[service], names[service])
            print(f"{service} {url}")  # noqa: T201
        return
    if args.action == "aclfile":
        for service in SERVICES:
            user = acl_user(service, settings.redis_prefix, names[service])
            print(user.rule(passwords[service]))  # noqa: T201
        return
    if args.action == "env":
        for service in SERVICES:
            upper = service.upper()
            print(f"SIGAP_REDIS_USER_{upper}={names[service]}")  # noqa: T201
            print(f"SIGAP_REDIS_PASSWORD_{upper}={passwords[service]}")  # noqa: T201
        return

    async def run() -> list[str]:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            return await apply(redis, settings.redis_prefix, passwords, names)
        finally:
            await redis.aclose()

    users = asyncio.run(run())
    sys.stderr.write(f"Redis ACL users for prefix {settings.redis_prefix!r}: {', '.join(users)}\n")


if __name__ == "__main__":
    main()
