"""Parse untrusted XML safely: a size limit, no DTDs, no entities, no external references."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from services.gateway.bmkg.errors import FeedError

DEFAULT_MAX_BYTES = 1024 * 1024


def parse_xml(data: bytes | str, *, max_bytes: int, error: type[FeedError]) -> Element:
    """The document's root element; `error` (a FeedError subclass) for anything unusable."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise error("too_large", f"document is {len(raw)} bytes, the limit is {max_bytes}")
    if not raw.strip():
        raise error("not_xml", "document is empty")
    try:
        return fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)  # type: ignore[no-any-return]  # defusedxml is untyped
    except DefusedXmlException as exc:
        raise error("forbidden_xml", f"refused: {type(exc).__name__} ({exc})") from None
    except ParseError as exc:
        raise error("not_xml", f"not well-formed XML: {exc}") from None
    except (ValueError, LookupError, UnicodeError) as exc:  # odd encodings declared in the prolog
        raise error("not_xml", f"cannot decode the document: {exc}") from None


def local_name(tag: str) -> str:
    """`{ns}name` → `name`."""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    """`{ns}name` → `ns` ('' when there is none)."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
