"""BMKG's nowcast RSS list: one item per current warning, pointing to its CAP document. No I/O.

The item `guid` equals the CAP `identifier`; the `link` is .../alerts/nowcast/{id|en}/{CODE}_alert.xml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from services.gateway.bmkg.errors import RssError
from services.gateway.bmkg.xmlsafe import DEFAULT_MAX_BYTES, local_name, parse_xml

MAX_ITEMS = 500


@dataclass(frozen=True, slots=True)
class RssItem:
    guid: str
    url: str
    published: datetime | None
    title: str = ""


@dataclass(frozen=True, slots=True)
class RssFeed:
    items: tuple[RssItem, ...]
    warnings: tuple[str, ...] = ()  # items skipped, with the reason


def _published(text: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": UTC with no claim about local time
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def parse_rss(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RssFeed:
    """The items of an RSS 2.0 list; RssError when the document is not one."""
    root = parse_xml(data, max_bytes=max_bytes, error=RssError)
    if root.tag != "rss":
        raise RssError("invalid", f"the root element is <{local_name(root.tag)[:40]}>, not <rss>")
    channel = root.find("channel")
    if channel is None:
        raise RssError("invalid", "<rss> has no <channel>")
    elements = channel.findall("item")
    if len(elements) > MAX_ITEMS:
        raise RssError("invalid", f"the list has {len(elements)} items, the limit is {MAX_ITEMS}")
    items: list[RssItem] = []
    warnings: list[str] = []
    for index, element in enumerate(elements, start=1):
        url = (element.findtext("link") or "").strip()
        guid = (element.findtext("guid") or "").strip() or url
        if not _is_web_url(url):
            warnings.append(f"item {index} skipped: link {url[:80]!r} is not an http(s) URL")
            continue
        items.append(
            RssItem(
                guid=guid[:200],
                url=url,
                published=_published((element.findtext("pubDate") or "").strip()),
                title=(element.findtext("title") or "").strip()[:500],
            )
        )
    return RssFeed(tuple(items), tuple(warnings))
