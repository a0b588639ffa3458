"""Languages: codes as Steward stores them (ISO 639-1, e.g. "en", "es") and detection.

A document's language is what its metadata says (front matter ``language``/``lang``, the
sidecar, the command line, HTML ``lang``), else detected from its text at ingest. Each
passage's language is detected on its own, since a bulletin may mix languages; a passage
too short to tell takes its document's language.

Detection uses py3langid (a maintained fork of langid.py: naive Bayes over byte n-grams,
pure Python + NumPy, its model inside the wheel, so it works offline). Its model takes about
a second to load, so it is loaded on first use, once per process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

    from corpus.types import Document

__all__ = [
    "ISO_639_1",
    "detect_language",
    "language_label",
    "likeliest_language",
    "normalize_language",
    "passage_language",
    "with_detected_language",
]

# Every ISO 639-1 code: what a stored, filtered or typed language must be.
_ISO_639_1_CODES = """
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())

# Each language's name in itself, for lists a member picks from (autocomplete).
_NATIVE_NAMES = {
    "ar": "العربية", "ca": "català", "de": "Deutsch", "en": "English", "es": "español",
    "eu": "euskara", "fr": "français", "gl": "galego", "hi": "हिन्दी", "ht": "kreyòl ayisyen",
    "it": "italiano", "ja": "日本語", "ko": "한국어", "nl": "Nederlands", "pl": "polski",
    "pt": "português", "ru": "русский", "tl": "Tagalog", "vi": "Tiếng Việt", "zh": "中文",
}
# Names people type instead of a code ("Spanish", "español"), and ISO 639-2 codes.
_ALIASES = {
    **{name.casefold(): code for code, name in _NATIVE_NAMES.items()},
    "english": "en", "inglés": "en", "ingles": "en", "eng": "en",
    "spanish": "es", "espanol": "es", "castellano": "es", "spa": "es",
    "french": "fr", "francés": "fr", "frances": "fr", "fra": "fr", "fre": "fr",
    "portuguese": "pt", "portugués": "pt", "portugues": "pt", "por": "pt",
    "german": "de", "alemán": "de", "deu": "de", "ger": "de",
    "italian": "it", "italiano": "it", "ita": "it",
    "catalan": "ca", "catalán": "ca", "tagalog": "tl", "filipino": "tl", "fil": "tl",
    "haitian creole": "ht", "chinese": "zh", "vietnamese": "vi", "korean": "ko",
    "arabic": "ar", "russian": "ru",
}
_TAG = re.compile(r"(?P<primary>[a-z]{2,3})(?:[-_][a-z0-9]{1,8})*")

# Below these, py3langid's answer is a guess ("Hola" comes out Serbian): the text takes the
# fallback instead. Measured: a 30-letter English or Spanish sentence scores 0.85-0.99 for
# its language, a 10-20 letter one often under 0.5 for the wrong one.
MIN_LETTERS = 20
MIN_CONFIDENCE = 0.8
# The part of a document's text its language is detected from (detection cost grows with
# length; a bulletin's language shows in its first pages).
DOCUMENT_SAMPLE_CHARS = 20_000
PASSAGE_SAMPLE_CHARS = 5_000

_lock = threading.Lock()
_identifier: LanguageIdentifier | None = None


def normalize_language(value: object) -> str | None:
    """The ISO 639-1 code for a language tag or name ("es", "es-MX", "es_419", "spa",
    "Spanish", "español" → "es"); None when ``value`` names no language Steward knows."""
    if not isinstance(value, str):
        return None
    text = value.strip().casefold()
    if text in _ALIASES:
        return _ALIASES[text]
    m = _TAG.fullmatch(text)
    if not m:
        return None
    primary = m.group("primary")
    if primary in ISO_639_1:
        return primary
    return _ALIASES.get(primary)


def language_label(code: str) -> str:
    """"es (español)" for a known code, else the code itself."""
    name = _NATIVE_NAMES.get(code)
    return f"{code} ({name})" if name else code


def _get_identifier() -> LanguageIdentifier:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            # norm_probs: a confidence in [0, 1] to compare with MIN_CONFIDENCE.
            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def detect_language(text: str, sample_chars: int = PASSAGE_SAMPLE_CHARS) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in, or None when the text is
    too short or too mixed to tell reliably."""
    sample = text[:sample_chars]
    if sum(1 for c in sample if c.isalpha()) < MIN_LETTERS:
        return None
    code, confidence = _get_identifier().classify(sample)
    if confidence < MIN_CONFIDENCE or code not in ISO_639_1:
        return None
    return code


def likeliest_language(text: str, candidates: Iterable[str]) -> str | None:
    """Of ``candidates`` (ISO 639-1 codes), the one py3langid ranks ``text`` likeliest to be
    written in, however short the text: for choosing between a few known languages (e.g. the
    ones keyword search has rules for) where ``detect_language`` cannot tell. None when
    ``text`` has no letters or no candidate is a language py3langid knows."""
    wanted = set(candidates)
    if not wanted or not any(c.isalpha() for c in text):
        return None
    for code, _probability in _get_identifier().rank(text[:PASSAGE_SAMPLE_CHARS]):
        if code in wanted:
            return code
    return None


def passage_language(text: str, fallback: str | None) -> str | None:
    """A passage's language: detected, else (too short to tell) its document's."""
    return detect_language(text) or fallback


def with_detected_language(documents: Iterable[Document]) -> list[Document]:
    """The documents, each with its language detected from its text when none was given."""
    return [
        document if document.language else
        replace(document, language=detect_language(document.text, DOCUMENT_SAMPLE_CHARS))
        for document in documents
    ]
