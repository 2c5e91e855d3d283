"""`python -m services.notifier worker -l info`."""

import sys

from services.common.heap import freeze_startup_heap, tune_collector, watch_collector
from services.common.loop import install_event_loop
from services.common.topics import NOTIFIER_TOPICS, verify_or_exit
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
    if sys.argv[1:2] == ["worker"]:
        verify_or_exit("notifier", NOTIFIER_TOPICS)  # before faust could subscribe to a guess
    app.conf.datadir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level itself
    freeze_startup_heap()  # modules, templates, the app: out of every later full collection
    watch_collector()  # its pauses on /metrics
    tune_collector()
    app.main()
