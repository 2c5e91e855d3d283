"""`python -m services.common.healthcheck [URL]`: exit 0 when URL answers 2xx within 4 s, 1 otherwise.

The container image's HEALTHCHECK (no curl in a slim image). The URL is the argument, else
`SIGAP_HEALTHCHECK_URL`, else the gateway's `/healthz` on `SIGAP_HTTP_PORT`.

It reads those two variables itself, not through the settings classes: the probe runs every few
seconds in every container (gateway, dispatcher, notifier) and must judge the service by its answer
only — validating the container's whole configuration would make a probe of the notifier fail on a
gateway setting, and would import pydantic each time. Both are in README's table
(`services.common.settings_table.OTHER_VARIABLES`).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def healthy(url: str, timeout_s: float = 4.0) -> bool:
    if not url.startswith(("http://", "https://")):
        return False
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - http(s) only, checked
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    port = os.environ.get("SIGAP_HTTP_PORT", "8080")
    url = args[0] if args else os.environ.get("SIGAP_HEALTHCHECK_URL", f"http://127.0.0.1:{port}/healthz")
    return 0 if healthy(url) else 1


if __name__ == "__main__":
    sys.exit(main())
