"""What every `sigap` command shares: a failure told in one line, messages on stderr, exit codes, and
times shown as the ops room in Kediri reads them (WIB)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import NoReturn

EXIT_FAILED = 1
WIB_OFFSET_H = 7


class CliError(Exception):
    """A failure to report in one line (no traceback)."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    err(f"  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")


def wib(text: str | None, seconds: bool = False) -> str:
    """An ISO time as `28 Nov 14:05 WIB`, or `14:05:09` with `seconds`; `-` when there is none."""
    if not text:
        return "-"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    local = moment.timestamp() + WIB_OFFSET_H * 3600
    return time.strftime("%H:%M:%S" if seconds else "%d %b %H:%M", time.gmtime(local)) + (
        "" if seconds else " WIB"
    )
