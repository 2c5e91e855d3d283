"""One error root: every error Sigap names derives from `SigapError` and declares `retriable`."""

from __future__ import annotations

import pytest

from schemas.envelope import InvalidEvent
from schemas.errors import SigapError
from services.common.links import InvalidToken
from services.common.topics import TopicMismatch
from services.dispatcher.assessment import AssessmentRuleError
from services.dispatcher.batching import BatcherStopped
from services.dispatcher.roster import StoreNotReady
from services.dispatcher.runcards import RunCardError
from services.dispatcher.store import StaleState
from services.gateway.bmkg.area import AreaError
from services.gateway.bmkg.errors import CapError, FeedError
from services.gateway.bmkg.poller import FetchError
from services.gateway.errors import ApiError, BrokerUnavailable, StoreUnavailable, conflict
from services.gateway.reports.events import Unreadable
from services.gateway.reports.policy import PolicyError
from services.gateway.routes.board import SignInRequired
from services.gateway.routes.links import PageError
from services.notifier.errors import ConnectionFailed, DeliveryError, ProviderTimeout, Rejected

ALL = [
    InvalidEvent,
    InvalidToken,
    TopicMismatch,
    AssessmentRuleError,
    BatcherStopped,
    StoreNotReady,
    RunCardError,
    StaleState,
    AreaError,
    FeedError,
    CapError,
    FetchError,
    ApiError,
    BrokerUnavailable,
    StoreUnavailable,
    Unreadable,
    PolicyError,
    SignInRequired,
    PageError,
    DeliveryError,
    ConnectionFailed,
    Rejected,
]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_domain_error_is_a_sigap_error(cls: type[Exception]) -> None:
    assert issubclass(cls, SigapError)


def test_value_errors_stay_value_errors() -> None:
    """Callers that catch `ValueError` around a parser keep working."""
    for cls in (InvalidEvent, InvalidToken, RunCardError, FeedError, AreaError, Unreadable, PolicyError):
        assert issubclass(cls, ValueError), cls


def test_retriable_is_declared_by_the_class_or_the_instance() -> None:
    assert SigapError("x").retriable is False
    assert StaleState("moved").retriable and StoreNotReady("gone").retriable
    assert not FeedError("invalid", "no area").retriable
    assert ConnectionFailed("refused").retriable and ProviderTimeout("slow").retriable
    assert not Rejected("blocked").retriable
    assert BrokerUnavailable().retriable and StoreUnavailable().retriable
    assert not conflict("taken", "already taken").retriable
