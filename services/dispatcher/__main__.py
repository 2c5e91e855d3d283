"""`python -m services.dispatcher worker -l info` runs a worker; `… rebuild-roster` rebuilds the roster."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main(before_start: Callable[[Any], None] | None = None) -> None:
    """Run the faust command line; `before_start` is given the app first (a test's entry point adds
    its pages there: `tests/support/clocked.py`)."""
    from services.common.heap import freeze_startup_heap, tune_collector, watch_collector
    from services.common.loop import install_event_loop
    from services.dispatcher.settings import get_dispatcher_settings

    if sys.argv[1:2] == ["worker"]:
        from services.common.topics import DISPATCHER_TOPICS, verify_or_exit

        verify_or_exit("dispatcher", DISPATCHER_TOPICS)  # before faust could subscribe to a guess
    own = get_dispatcher_settings()
    # before the app exists: faust and its consumer thread make their loops
    install_event_loop(own.event_loop)
    from services.dispatcher.app import app

    Path(app.conf.datadir).mkdir(parents=True, exist_ok=True)  # faust makes only the last level
    freeze_startup_heap()  # modules, run cards, the app: out of every later full collection
    watch_collector()  # its pauses on /metrics
    tune_collector(own.gc_thresholds)
    if before_start is not None:
        before_start(app)
    app.main()


if __name__ == "__main__":
    main()
