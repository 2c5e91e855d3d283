"""The one error a BMKG document can raise: `FeedError`, with a machine code and a reason for people."""

from __future__ import annotations

from typing import Literal

from schemas.errors import SigapError

ErrorCode = Literal[
    "too_large",  # over the configured size limit
    "not_xml",  # not well-formed XML
    "forbidden_xml",  # DTD, entity declaration or external reference (billion laughs, XXE)
    "wrong_namespace",  # not a CAP 1.2 document
    "not_json",  # not JSON
    "invalid",  # well-formed, but a field is missing or has the wrong shape
]


class FeedError(SigapError, ValueError):
    """A document that cannot be used. Never retriable: the same bytes fail the same way again."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code: ErrorCode = code
        self.reason = reason


class CapError(FeedError):
    """A CAP 1.2 document that cannot be used."""


class RssError(FeedError):
    """A nowcast RSS list that cannot be used."""


class QuakeError(FeedError):
    """An earthquake feed that cannot be used."""
