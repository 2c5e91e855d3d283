"""Prometheus metrics of the notifier, served at `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NOTIFICATIONS = Counter(
    "sigap_notifier_notifications_total",
    "Notification requests handled, by outcome",
    ["outcome"],  # delivered | failed | expired | duplicate | poison | abandoned
)
DEAD_LETTERS = Counter("sigap_notifier_dead_letters_total", "Records sent to the dead-letter topic")
ATTEMPTS = Counter(
    "sigap_notifier_attempts_total",
    "Hand-off attempts to providers, by channel and result (ok or an error code)",
    ["channel", "result"],
)
HANDOFF_SECONDS = Histogram(
    "sigap_notifier_handoff_seconds",
    "From the notification request's record time to the provider accepting it",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
PROVIDER_SECONDS = Histogram(
    "sigap_notifier_provider_call_seconds",
    "Duration of one provider call",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_FLIGHT = Gauge("sigap_notifier_in_flight", "Notifications being delivered by this worker")
