"""XML from the web, parsed without its tricks: no entity expansion (billion laughs), no
external entities or DTDs fetched (defusedxml)."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from corpus.sources.errors import SourceError

_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")


def _bomb(what: str, why: str) -> SourceError:
    return SourceError(f"refused {what}: it declares XML entities or external references "
                       f"({why}), which can be used as an XML bomb")


def parse_xml(data: bytes, what: str) -> Element:
    """The root element of ``data``; SourceError naming ``what`` when it is hostile or broken."""
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise _bomb(what, type(err).__name__) from err
    except ParseError as err:
        raise SourceError(f"{what} is not well-formed XML ({err})") from err


def refuse_hostile(data: bytes, what: str) -> None:
    """SourceError when ``data`` declares entities or external references (an XML bomb);
    nothing when it is merely malformed, so that a lenient reader (feedparser reads the
    common broken feeds, e.g. a bare "&" in a title) can try it."""
    try:
        fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise _bomb(what, type(err).__name__) from err
    except ParseError:
        # Broken before the parser reached a DTD: an entity declaration anywhere is refused.
        if b"<!entity" in data.lower():
            raise _bomb(what, "<!ENTITY in a malformed document") from None


def root_name(data: bytes) -> str | None:
    """The root element's local name: parsed when well-formed, else the first tag after the
    prolog (a malformed feed is still a feed); None for hostile XML or no tag at all."""
    try:
        return local(parse_xml(data, "the page").tag)
    except SourceError as err:
        if "XML bomb" in str(err):
            return None
    head = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", data[:4096], flags=re.S)
    found = _ROOT.search(head.lstrip())
    return found.group(2).decode("ascii") if found and head.lstrip().startswith(b"<") else None


def local(tag: str) -> str:
    """A tag without its namespace ("{http://...}loc" -> "loc")."""
    return tag.rsplit("}", 1)[-1]


def child_text(element: Element, name: str) -> str | None:
    for child in element:
        if local(child.tag) == name:
            return (child.text or "").strip() or None
    return None
