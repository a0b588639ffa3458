"""Plain text: decode sensibly, clean, keep paragraphs as the file has them."""

from __future__ import annotations

import codecs
import re
import unicodedata

import charset_normalizer

from corpus.clean import clean_text
from corpus.readers import Extracted, ReadContext

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Formats that are often given the wrong extension, by their first bytes.
_MAGIC = (
    (b"%PDF", "it starts like a PDF: rename it to .pdf"),
    (b"PK\x03\x04", "it is a ZIP archive, perhaps a .docx: rename it to .docx"),
    (b"\xd0\xcf\x11\xe0", "it is an old Office file (.doc): save it as .docx"),
    (b"\x89PNG", "it is a PNG image"),
    (b"\xff\xd8\xff", "it is a JPEG image"),
)
_SNIFF_BYTES = 64 * 1024
_MAX_CONTROL_RATIO = 0.05  # real text has next to no control characters


def binary_reason(data: bytes) -> str | None:
    """Why ``data`` is not text (a message), or None if it may be text."""
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None  # UTF-16/32 text holds NUL bytes
    head = data[:_SNIFF_BYTES]
    for magic, hint in _MAGIC:
        if head.startswith(magic):
            return f"looks like a binary file, not text ({hint})"
    if b"\x00" in head:
        return "looks like a binary file, not text"
    return None


def decode_text(data: bytes, ctx: ReadContext) -> str:
    """Decode text bytes: BOM, then the declared charset, UTF-8, then a detected charset.

    Detection prefers Windows-1252 whenever it explains the bytes as well as the best guess,
    because short Western texts (the common case for a union bulletin saved by Word) are
    otherwise often taken for a Central European or DOS code page.
    """
    reason = binary_reason(data)
    if reason:
        raise ctx.fail(reason)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data.decode(encoding, errors="replace"), ctx)
    if ctx.charset:
        try:
            return _checked(data.decode(ctx.charset), ctx)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong header is common; fall through to detection
    try:
        return _checked(data.decode("utf-8"), ctx)
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):  # UTF-8 with a few stray Windows-1252 bytes pasted in
        return _checked(data.decode("utf-8", errors=_CP1252_FALLBACK), ctx)
    matches = charset_normalizer.from_bytes(data)
    if not matches:
        raise ctx.fail("looks like a binary file, not text (no text encoding fits its bytes)")
    least_chaos = min(m.percent_chaos for m in matches)
    for match in matches:
        if match.percent_chaos <= least_chaos and (
            match.encoding == "cp1252" or "cp1252" in match.could_be_from_charset
        ):
            try:
                return _checked(data.decode("cp1252"), ctx)
            except UnicodeDecodeError:
                break
    return _checked(str(matches.best()), ctx)


def _cp1252_bytes(err: UnicodeError) -> tuple[str, int]:
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start : err.end].decode("cp1252", errors="replace"), err.end


_CP1252_FALLBACK = "steward-cp1252-fallback"
codecs.register_error(_CP1252_FALLBACK, _cp1252_bytes)
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                            rb"|[\xf0-\xf4][\x80-\xbf]{3}")


def _mostly_utf8(data: bytes) -> bool:
    """True when valid multi-byte UTF-8 sequences outnumber the bytes that are not UTF-8."""
    valid = len(_UTF8_SEQUENCE.findall(data))
    invalid = data.decode("utf-8", errors="replace").count("\ufffd")
    return valid > 0 and invalid <= valid


def _checked(text: str, ctx: ReadContext) -> str:
    """Refuse decoded text that is mostly control characters (binary that happened to decode)."""
    sample = text[:_SNIFF_BYTES]
    controls = sum(
        1 for ch in sample if ch not in "\n\r\t\f" and unicodedata.category(ch) == "Cc"
    )
    if sample and controls / len(sample) > _MAX_CONTROL_RATIO:
        raise ctx.fail("looks like a binary file, not text")
    return text


def read(data: bytes, ctx: ReadContext) -> Extracted:
    return Extracted(text=clean_text(decode_text(data, ctx), ctx.settings.chrome_lines, ctx.settings.chrome_captions))
