"""The root of Sigap's own errors.

Every domain error of the services and schemas derives from `SigapError`, whose `retriable` says
whether the same operation can succeed later (Redis or the broker back, a rebalance over), as
aiokafka's `KafkaError.retriable` does. What to do with a failure — retry, dead-letter, answer 4xx —
is then a declaration on the error's class, not a scattered `except`. It lives in `schemas` because
`schemas` is the layer every service imports and that imports none of them (`InvalidEvent` is here).
"""

from __future__ import annotations


class SigapError(Exception):
    """A failure Sigap names. `retriable`: trying the same thing again later can succeed; False (the
    default) when the same input fails the same way again (bad input, a broken rule file)."""

    retriable: bool = False
