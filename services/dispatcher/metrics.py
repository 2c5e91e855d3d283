"""Prometheus metrics of the dispatcher (served at `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("sigap_dispatcher_events_total", "Events processed", ["topic", "event_type"])
DEAD_LETTERS = Counter("sigap_dispatcher_dead_letters_total", "Records sent to dead-letters", ["topic"])
OFFERS = Counter("sigap_dispatcher_offers_total", "Offers made")
NOTIFICATIONS = Counter("sigap_dispatcher_notifications_total", "Notification requests produced", ["kind"])
EXPIRIES = Counter("sigap_dispatcher_offer_expiries_total", "Offer expiries claimed and produced")
RETRIES = Counter("sigap_dispatcher_retries_total", "Dispatch retries requested for understaffed incidents")
UNDERSTAFFED = Counter("sigap_dispatcher_understaffed_total", "Incidents that became understaffed")
ERRORS = Counter("sigap_dispatcher_errors_total", "Processing errors", ["kind"])
IN_FLIGHT = Gauge(
    "sigap_dispatcher_in_flight",
    "Records taken and not yet handled (in the batch being handled, or queued for the next)",
    ["lane"],
)
RUNNING_PEAK = Gauge(
    "sigap_dispatcher_running_peak",
    "The largest batch of records handled at once since the worker started",
    ["lane"],
)
MATCH_SECONDS = Histogram(
    "sigap_dispatcher_match_seconds",
    "Time to search and reserve candidates for one need",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENT_SECONDS = Histogram(
    "sigap_dispatcher_event_seconds",
    "Time to process one incident or response event, outputs acknowledged and state saved",
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REPORT_TO_OFFER_SECONDS = Histogram(
    "sigap_dispatcher_report_to_offer_seconds",
    "From an incident's occurred_at to its first offer requests being acknowledged by the broker",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
