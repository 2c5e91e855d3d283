"""faust's aiokafka transport with idempotent producers (`acks=all`, `enable_idempotence`).

faust-streaming turns idempotence on only inside transactions (`processing_guarantee="exactly_once"`),
so a retry after a lost acknowledgement could write a dispatcher's or notifier's event twice. This
transport is faust's own, registered under its own URL scheme in faust's transport registry
(`faust.transport.drivers.TRANSPORTS`, the table `broker="kafka://…"` is looked up in); its producer
adds the two settings to the ones faust builds for aiokafka. Apps use it through `broker_url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "sigapkafka"

IDEMPOTENT: Mapping[str, Any] = {"acks": "all", "enable_idempotence": True}
"""What every Sigap producer adds to faust's aiokafka settings (the edges' `new_producer` has both)."""


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        # faust's hook for the driver-specific producer settings (it returns the transactional ones)
        return {**super()._settings_extra(), **IDEMPOTENT}


class Transport(faust_aiokafka.Transport):
    Producer = IdempotentProducer


TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")


def broker_url(bootstrap: str) -> str:
    """faust's `broker` for `SIGAP_KAFKA_BOOTSTRAP` (`host:port,host:port`), on this transport."""
    return ";".join(f"{SCHEME}://{host.strip()}" for host in bootstrap.split(",") if host.strip())
