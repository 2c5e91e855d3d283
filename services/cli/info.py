"""`sigap info`: the board URL and, on a local stack, the API keys (elsewhere only which are set)."""

from __future__ import annotations

import argparse
from typing import Any

from services.common.config import get_settings


def info(args: argparse.Namespace) -> int:
    settings = get_settings()
    print(f"board:   {settings.public_url.rstrip('/')}/board")
    print(f"API:     {settings.public_url.rstrip('/')}/docs")
    for key, role in settings.api_key_roles().items():
        print(f"{role + ' key:':<17}{key}" if settings.env == "local" else f"{role} key: (set)")
    return 0


def add_parsers(sub: Any) -> None:
    sub.add_parser("info", help="the board URL and the local API keys").set_defaults(func=info)
