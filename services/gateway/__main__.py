"""`python -m services.gateway`: serve the gateway with uvicorn on SIGAP_HTTP_HOST:SIGAP_HTTP_PORT."""

from __future__ import annotations

import logging

import uvicorn

from services.common.heap import freeze_startup_heap, tune_collector
from services.common.loop import install_event_loop
from services.common.topics import GATEWAY_TOPICS, verify_or_exit
from services.gateway.app import create_app
from services.gateway.errors import redact
from services.gateway.settings import get_gateway_settings


class RedactTokens(logging.Filter):
    """Access logs show link paths as `/r/abcdef…`: a whole token is a key to someone's offer."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def main() -> None:
    settings = get_gateway_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    verify_or_exit("gateway", GATEWAY_TOPICS)
    app = create_app(settings)
    freeze_startup_heap()  # modules, routes, templates: out of every later full collection
    tune_collector(settings.gc_thresholds)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        loop=install_event_loop(settings.event_loop),  # "uvloop" or "asyncio", uvicorn's names too
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,  # the reverse proxy or ingress in front
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
