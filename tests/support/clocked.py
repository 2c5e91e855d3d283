"""`python -m tests.support.clocked worker -l info`: a dispatcher worker whose clock the test moves.

The worker runs on a `ManualClock` (`services.common.clock`) that starts at the wall-clock time it was
started and then stands still. `POST /test/clock` on the worker's web port moves it and runs the timers
that act on deadlines at once, with the new now:

    {"advance_s": 3600, "run": ["wake_rested"]}  →  {"now": "...", "ran": {"wake_rested": 1}}

so a test crosses a rule's duration (an offer's deadline, a rest) by advancing the clock instead of
sleeping through it. `GET /test/clock` answers the worker's now. The timers still run on their own
intervals too; they read the same clock, so they find nothing the test's run did not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.common.clock import ManualClock
from services.common.loop import install_event_loop

if TYPE_CHECKING:
    from faust.web import View

    from services.dispatcher.runtime import Runtime

Job = Callable[["Runtime", datetime], Awaitable[int]]

TIMERS: dict[str, Job] = {
    "expire_offers": lambda rt, at: rt.dispatch.followups.expire_due(at),
    "wake_rested": lambda rt, at: rt.dispatch.followups.wake_rested(at),
    "retry_understaffed": lambda rt, at: rt.dispatch.followups.request_retries("periodic retry", at),
    "expire_alerts": lambda rt, at: rt.alerts.expire_due(at),
}
"""the worker's timers (`services.dispatcher.agents`) that act on the clock, by name"""


def clock_view(clock: ManualClock, rt: Callable[[], Runtime]) -> type[View]:
    from faust.web import Request, Response, View

    class ClockView(View):
        async def get(self, request: Request, **kwargs: Any) -> Response:
            return self.json({"now": clock().isoformat()})

        async def post(self, request: Request, **kwargs: Any) -> Response:
            body = await request.json()
            unknown = [name for name in body.get("run", []) if name not in TIMERS]
            if unknown:
                return self.json({"error": f"unknown timers {unknown}; known: {sorted(TIMERS)}"}, status=400)
            now = clock.advance(float(body.get("advance_s", 0)))
            current = rt()
            await current.generation.wait()
            ran = {name: await TIMERS[name](current, now) for name in body.get("run", [])}
            return self.json({"now": now.isoformat(), "ran": ran})

    return ClockView


def main() -> None:
    install_event_loop()  # before faust, aiokafka and redis are imported, as the dispatcher's own main
    from services.dispatcher import runtime as worker_runtime
    from services.dispatcher.__main__ import main as run_dispatcher

    clock = ManualClock()
    worker_runtime.use_clock(clock)

    def add_pages(app: Any) -> None:
        from services.dispatcher.agents import runtime

        app.page("/test/clock")(clock_view(clock, runtime))

    run_dispatcher(before_start=add_pages)


if __name__ == "__main__":
    main()
