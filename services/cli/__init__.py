"""`sigap`: the command line of the ops room and its operators (DESIGN.md §5).

sigap incident post|show|list|cancel|close   through the HTTP API (key: --key or SIGAP_API_KEY)
sigap roster import FILE.csv | export FILE.csv | rebuild
sigap rebuild                                 all of the dispatcher's Redis from the topics
sigap tail [--from-beginning]                 one line per event on Sigap's topics
sigap replay dead-letters | topic NAME        re-produce records
sigap demo                                    a flood in Kelurahan Manisrenggo, followed live
sigap demo-roster load                        the demo volunteers of Kota Kediri
sigap topics                                  create the topics
sigap info                                    the board URL and the local API keys

One module per command group, each with its `add_parsers(sub)`; a parser's defaults name the command:
`func(args) -> int` or `coro(args)`, a coroutine run to its exit code.
"""

from __future__ import annotations

import argparse
import asyncio

from services.cli import demo, incidents, info, rebuild, replay, roster, tail, topics
from services.cli.console import EXIT_FAILED, CliError, err

# the order of `sigap --help`
GROUPS = (incidents, roster, tail, replay, demo, topics, rebuild, info)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sigap", description="Sigap — volunteer dispatch for Dinas Sosial Kota Kediri"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "coro"):
            return int(asyncio.run(args.coro(args)))
        return int(args.func(args))
    except CliError as exc:
        err(f"sigap: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
