"""Prometheus counters of the BMKG feeds: in the default registry, and in the gateway's own registry once
`api.start` has run (the gateway's /metrics serves that one)."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter

POLLS = Counter("sigap_bmkg_polls", "BMKG feed polls by result (ok, not_modified, error)", ["feed", "result"])
POLL_ERRORS = Counter(
    "sigap_bmkg_poll_errors",
    "BMKG feed errors by kind (http, network, too_large, parse, foreign_link, kafka, redis, other)",
    ["feed", "kind"],
)
DOCUMENTS = Counter(
    "sigap_bmkg_documents",
    "BMKG documents by origin and outcome (issued, updated, cancelled, ignored, duplicate, rejected)",
    ["origin", "outcome"],
)


def register_in(registry: CollectorRegistry) -> None:
    """Also expose the counters in another registry (the gateway serves its own on /metrics)."""
    for collector in (POLLS, POLL_ERRORS, DOCUMENTS):
        with contextlib.suppress(ValueError):  # already there: the same app started twice
            registry.register(collector)
