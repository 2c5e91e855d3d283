"""Configuration: environment variables read once at start and validated (DESIGN.md §5).

Each service reads its own class — `GatewaySettings`, `DispatcherSettings`, `NotifierSettings`, all
extending `CommonSettings` (`services.common.base_settings`) — so a service validates what it uses and
needs no other service's secrets. `Settings` is all of them at once: the command line (which talks to
every part) and the tests use it.

`python -m services.common.config --markdown` prints the table of every `SIGAP_*` variable that
README.md "Configuration" carries (`--write-readme` puts it there); a test fails when they differ.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field

from services.common.base_settings import (
    DEV_LINK_SECRET,
    HASH_TAG,
    REPO_ROOT,
    SYSTEM_DATA_DIR,
    CommonSettings,
    default_data_dir,
    read_settings,
)
from services.dispatcher.settings import DispatcherSettings
from services.gateway.settings import DEV_API_KEYS, ROLES, GatewaySettings
from services.notifier.settings import NotifierSettings

__all__ = [
    "DEV_API_KEYS",
    "DEV_LINK_SECRET",
    "HASH_TAG",
    "REPO_ROOT",
    "ROLES",
    "SYSTEM_DATA_DIR",
    "CommonSettings",
    "DispatcherSettings",
    "GatewaySettings",
    "NotifierSettings",
    "Settings",
    "default_data_dir",
    "get_settings",
]


class Settings(GatewaySettings, DispatcherSettings, NotifierSettings):
    """Every service's settings at once, for the command line and the tests."""

    # the command line (services/cli.py)
    api_url: str = Field(
        default="",
        description="the gateway the `sigap` command line talks to",
        json_schema_extra={"env_default": "`http://$SIGAP_HTTP_HOST:$SIGAP_HTTP_PORT`"},
    )
    api_key: str = Field(
        default="",
        description="the command line's API key (`--key` wins)",
        json_schema_extra={"env_default": "the local dev key of the command's role"},
    )
    admin_key: str = Field(
        default="",
        description="the admin key `sigap demo` loads the roster with",
        json_schema_extra={"env_default": "the local dev admin key"},
    )


@cache
def get_settings() -> Settings:
    """The settings, read once; also applies the service area to the schemas' validators."""
    return read_settings(Settings)


if __name__ == "__main__":
    from services.common.settings_table import main

    main()
