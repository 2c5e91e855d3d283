"""The nowcast RSS list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.bmkg.errors import RssError
from services.gateway.bmkg.rss import parse_rss
from tests.unit.bmkg.documents import GORONTALO_ID, RSS, read


def test_capture_lists_two_warnings_with_guid_link_and_utc_date() -> None:
    feed = parse_rss(read(RSS))

    assert feed.warnings == ()
    assert [i.guid for i in feed.items] == [GORONTALO_ID, "2.49.0.1.360.0.2026.09.24.07.11.001"]
    assert feed.items[0].url == "https://www.bmkg.go.id/alerts/nowcast/id/CGT20260924002_alert.xml"
    assert feed.items[0].published == datetime(2026, 9, 24, 7, 7, tzinfo=UTC)  # 15:07 +0800
    assert feed.items[1].published == datetime(2026, 9, 24, 6, 54, tzinfo=UTC)  # 13:54 +0700
    assert feed.items[0].title == "Hujan Lebat disertai Petir di Gorontalo"


def _rss(items: str) -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    )


def test_items_without_a_web_link_are_skipped_with_a_reason() -> None:
    feed = parse_rss(
        _rss(
            "<item><guid>a</guid><link>javascript:alert(1)</link></item>"
            "<item><guid>b</guid></item>"
            "<item><guid>c</guid><link>file:///etc/passwd</link></item>"
            "<item><guid>d</guid><link>http://127.0.0.1:8000/d.xml</link><pubDate>kemarin</pubDate></item>"
        )
    )
    assert [i.guid for i in feed.items] == ["d"]
    assert feed.items[0].published is None
    assert len(feed.warnings) == 3
    assert "item 1 skipped" in feed.warnings[0]


def test_missing_guid_falls_back_to_the_link() -> None:
    feed = parse_rss(_rss("<item><link>https://example.org/x_alert.xml</link></item>"))
    assert feed.items[0].guid == "https://example.org/x_alert.xml"


def test_empty_channel_is_an_empty_list() -> None:
    assert parse_rss(_rss("")).items == ()


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (b"", "not_xml"),
        (b"{}", "not_xml"),
        (b"<rss><channel>", "not_xml"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "invalid"),
        (b"<rss version='2.0'/>", "invalid"),
        (b'<!DOCTYPE rss [<!ENTITY x "y">]><rss><channel>&x;</channel></rss>', "forbidden_xml"),
    ],
)
def test_what_is_not_an_rss_list_is_rejected(document: bytes, code: str) -> None:
    with pytest.raises(RssError) as caught:
        parse_rss(document)
    assert caught.value.code == code


def test_size_limit() -> None:
    with pytest.raises(RssError) as caught:
        parse_rss(read(RSS), max_bytes=1000)
    assert caught.value.code == "too_large"
