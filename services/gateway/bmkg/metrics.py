"""Prometheus counters of the BMKG feeds (served by the gateway's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

POLLS = Counter("sigap_bmkg_polls", "BMKG feed polls by result (ok, not_modified, error)", ["feed", "result"])
POLL_ERRORS = Counter(
    "sigap_bmkg_poll_errors",
    "BMKG feed errors by kind (http, network, too_large, parse, kafka, redis, other)",
    ["feed", "kind"],
)
DOCUMENTS = Counter(
    "sigap_bmkg_documents",
    "BMKG documents by origin and outcome (issued, updated, cancelled, ignored, duplicate, rejected)",
    ["origin", "outcome"],
)
