"""`python -m services.notifier worker -l info`."""

import sys

from services.common.heap import freeze_startup_heap, tune_collector, watch_collector
from services.common.loop import install_event_loop
from services.notifier.errors import Misconfigured

if __name__ == "__main__":
    try:
        install_event_loop()  # before the app exists: faust and its consumer thread make their loops
        from services.notifier.app import app
    except (
        ValueError,
        Misconfigured,
    ) as exc:  # invalid settings (pydantic's ValidationError is a ValueError)
        sys.exit(f"notifier: cannot start: {exc}")
    app.conf.datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level itself
    freeze_startup_heap()  # modules, templates, the app: out of every later full collection
    watch_collector()  # its pauses on /metrics
    tune_collector()
    app.main()
