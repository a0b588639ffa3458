"""XML from the web, parsed without its tricks: no entity expansion (billion laughs), no
external entities or DTDs fetched (defusedxml)."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from corpus.sources.errors import SourceError


def parse_xml(data: bytes, what: str) -> Element:
    """The root element of ``data``; SourceError naming ``what`` when it is hostile or broken."""
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise SourceError(f"refused {what}: it declares XML entities or external references "
                          f"({type(err).__name__}), which can be used as an XML bomb") from err
    except ParseError as err:
        raise SourceError(f"{what} is not well-formed XML ({err})") from err


def local(tag: str) -> str:
    """A tag without its namespace ("{http://...}loc" -> "loc")."""
    return tag.rsplit("}", 1)[-1]


def child_text(element: Element, name: str) -> str | None:
    for child in element:
        if local(child.tag) == name:
            return (child.text or "").strip() or None
    return None
