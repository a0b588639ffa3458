"""Document metadata: read from the text itself, from sidecar files and from overrides.

Precedence, lowest to highest (a higher layer replaces a field, it never merges):

1. what the text says (first line as title, "from the Feb. 1, 2023 Bulletin", "Written by …",
   and in Spanish "Boletín del 1 de febrero de 2023", "Escrito por …", "Por …");
2. what the format declares: HTML ``<meta>``/``<title>``, Markdown front matter, DOCX core
   properties, PDF document info;
3. the sidecar ``NAME.meta.toml`` beside the file — ``bulletin.meta.toml`` (shared by every
   ``bulletin.*``) then ``bulletin.pdf.meta.toml``, the more specific one winning;
4. ``overrides`` (the command line).

Fields: ``id``, ``title``, ``author``, ``date`` (``YYYY-MM-DD``), ``publication``, ``url``,
``tags`` (a list or a comma-separated string), ``language`` (an ISO 639-1 code such as
``"es"``; tags and names like ``"es-MX"`` or ``"Spanish"`` are accepted; detected from the
text when not given, see :mod:`corpus.language`), and ``split`` (``"h2"``: split an HTML
issue at its ``<h2>`` headings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from corpus.errors import ReadError
from corpus.language import normalize_language

FIELDS = ("id", "title", "author", "date", "publication", "url", "tags", "split", "language",
          "translation_of")
SPLIT_MODES = ("h2",)
_MAX_TAGS = 100
_MAX_FIELD_CHARS = 2000

# -- dates -------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
    # Spanish (names and the usual abbreviations; "mar", "may", "jun", "jul" mean the same
    # month in both languages).
    "ene": 1, "enero": 1, "febrero": 2, "marzo": 3, "abr": 4, "abril": 4, "mayo": 5,
    "junio": 6, "julio": 7, "ago": 8, "agosto": 8, "set": 9, "septiembre": 9,
    "setiembre": 9, "octubre": 10, "noviembre": 11, "dic": 12, "diciembre": 12,
}
_MON = r"[A-Za-z]{3,10}\.?"
# 1st, 2nd… and Spanish ordinals of the first day: 1º, 1°, 1o, 1ro, 1ero.
_DAY = r"\d{1,2}(?:st|nd|rd|th|º|°|o|ro|ero)?"
_DE = r"\s+de(?:l)?\s+"  # "1 de febrero de 2023", "febrero del 2023"
# Dates as bulletins print them. Numeric dates: ISO (2023-02-01) or US order (2/1/2023).
_DATE = (
    rf"(?:{_MON}\s+{_DAY},?\s+\d{{4}}"  # Feb. 1, 2023 / February 1st 2023 / febrero 1, 2023
    rf"|{_DAY}\s+{_MON},?\s+\d{{4}}"  # 1 February 2023
    rf"|{_DAY}{_DE}{_MON}(?:,?{_DE}|,?\s+)\d{{4}}"  # 1 de febrero de 2023
    r"|\d{4}-\d{1,2}-\d{1,2}"  # 2023-02-01
    r"|\d{1,2}/\d{1,2}/\d{4}"  # 2/1/2023
    rf"|{_MON}(?:{_DE}|,?\s+)\d{{4}})"  # February 2023 / febrero de 2023 (the 1st)
)
_DATE_PARTS = (
    re.compile(rf"(?P<mon>{_MON})\s+(?P<day>{_DAY}),?\s+(?P<year>\d{{4}})"),
    re.compile(rf"(?P<day>{_DAY})\s+(?P<mon>{_MON}),?\s+(?P<year>\d{{4}})"),
    re.compile(rf"(?P<day>{_DAY}){_DE}(?P<mon>{_MON})(?:,?{_DE}|,?\s+)(?P<year>\d{{4}})"),
    re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"),
    re.compile(r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})"),
    re.compile(rf"(?P<mon>{_MON})(?:{_DE}|,?\s+)(?P<year>\d{{4}})"),
)
# A weekday before a date ("miércoles 1 de febrero de 2023", "Wednesday, Feb. 1, 2023").
_WEEKDAY = re.compile(
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|"
    r"mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo),?\s+",
    re.IGNORECASE,
)
_DATELINE = re.compile(
    rf"from\s+(?:the\s+)?(?P<date>{_DATE})\s+(?:issue\s+of\s+(?:the\s+)?)?"
    r"(?P<publication>\S.{0,80}?)\s*[.:]?",
    re.IGNORECASE,
)
_PUBLISHED = re.compile(
    rf"(?:published|posted)(?:\s+on)?:?\s+(?P<date>{_DATE})\.?", re.IGNORECASE
)
# Spanish datelines: "Del Boletín del 1 de febrero de 2023" (any publication after a leading
# "del"/"de la"/"en el", capitalised like a name), or "Boletín del 1 de febrero de 2023"
# without it when the line starts with a word that names a periodical, so that a title such
# as "La reforma del 1 de mayo de 2019" is not read as a dateline.
_PERIODICAL = r"(?:Bolet[íi]n|Gaceta|Revista|Peri[óo]dico|Semanario|Noticiero|Circular|Bulletin)"
_DATELINE_ES = re.compile(
    rf"(?:(?:[Dd]e(?:l|\s+la)?|[Ee]n\s+(?:el|la))\s+(?P<publication>[A-ZÁÉÍÓÚÑ].{{0,80}}?)"
    rf"|(?P<periodical>{_PERIODICAL}\b.{{0,80}}?))"
    rf"(?:,\s*|\s+)(?:de(?:l)?|del\s+d[íi]a)\s+(?P<date>{_DATE})\s*[.:]?",
)
_PUBLISHED_ES = re.compile(
    rf"(?:publicad[oa]|fecha(?:\s+de\s+publicaci[óo]n)?)(?:\s+el)?:?\s+(?P<date>{_DATE})\.?",
    re.IGNORECASE,
)
_ISO_PREFIX = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ].*)?")


def parse_date_text(text: str) -> dt.date | None:
    """A date written the way bulletins write them, or None if ``text`` is not one."""
    text = text.strip()
    if weekday := _WEEKDAY.match(text):
        text = text[weekday.end():]
    iso = _ISO_PREFIX.fullmatch(text)  # also ISO timestamps from <meta> tags
    if iso:
        text = iso.group(1)
    for pattern in _DATE_PARTS:
        m = pattern.fullmatch(text)
        if not m:
            continue
        parts = m.groupdict()
        month = _MONTHS.get(parts["mon"].rstrip(".").lower()) if parts.get("mon") else int(parts["month"])
        day = int(re.sub(r"\D", "", parts["day"])) if parts.get("day") else 1
        try:
            return dt.date(int(parts["year"]), month or 0, day)
        except ValueError:
            return None
    return None


def coerce_date(value: object, source: str, where: str) -> dt.date:
    """A user-given date (TOML/YAML date or ``YYYY-MM-DD`` string); ReadError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ReadError(source, f"invalid date {value!r} in {where}; expected YYYY-MM-DD, "
                            "e.g. 2023-02-01")


# -- what the text says ------------------------------------------------------------------

_HEADER_LINES = 30  # metadata lines sit near the top; never search the body
_MAX_TITLE_CHARS = 200
_WRITTEN_BY = re.compile(r"(?:written\s+by|by|author:?)\s+(?P<name>.+)", re.IGNORECASE)
_WRITTEN_BY_ALONE = re.compile(r"(?:written\s+by|by|author:?)", re.IGNORECASE)
# Spanish: "Escrito por …", "Autora: …"; and "Por …", which also starts ordinary sentences
# ("Por eso, la asamblea…"), so its name must be capitalised word by word (see _is_full_name).
_WRITTEN_BY_ES = re.compile(r"(?:escrit[oa]\s+por|autor(?:a)?:?)\s+(?P<name>.+)", re.IGNORECASE)
_BY_ES = re.compile(r"por\s+(?P<name>.+)", re.IGNORECASE)
_WRITTEN_BY_ALONE_ES = re.compile(r"(?:escrit[oa]\s+por|por|autor(?:a)?:?)", re.IGNORECASE)
# Lower-case words that belong inside names ("María de la Luz", "Ana y Juan Pérez").
_NAME_PARTICLES = frozenset(("de", "del", "la", "las", "los", "y", "e", "da", "das", "do",
                             "dos", "van", "von", "der", "di", "le"))
# A letter, then letters, digits, spaces and the punctuation names use ("Jane Doe & Ann
# O’Neil-Ruiz"); one character class, so the match is linear.
_NAME_CHARS = re.compile(r"[^\W\d_][\w.'’\-&, ]*")


def _looks_like_name(text: str) -> bool:
    """A short, capitalised run of words without sentence punctuation ("Kim Scipes")."""
    words = text.split()
    return (
        0 < len(words) <= 10
        and len(text) <= 80
        and text[0].isupper()
        and _NAME_CHARS.fullmatch(text) is not None
        and not (text.endswith(".") and len(words[-1]) > 3 and words[-1] not in ("Jr.", "Sr."))
    )


def _is_full_name(text: str) -> bool:
    """A name whose every word is capitalised, but for particles ("María de la Luz Ramírez");
    "la tarde, los trabajadores…" is not one."""
    words = text.replace("&", " ").replace(",", " ").split()
    return _looks_like_name(text) and all(
        w[0].isupper() or w.casefold() in _NAME_PARTICLES for w in words
    )


def _header_lines(text: str) -> list[str]:
    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            lines.append(stripped)
            if len(lines) == _HEADER_LINES:
                break
    return lines


def _byline_author(line: str) -> str | None:
    """The name in "Written by Kim Scipes" / "By Jane Doe" / "Author: X", else None."""
    for pattern, looks_right in ((_WRITTEN_BY, _looks_like_name),
                                 (_WRITTEN_BY_ES, _looks_like_name),
                                 (_BY_ES, _is_full_name)):
        m = pattern.fullmatch(line)
        name = m.group("name").strip() if m else ""
        if name and looks_right(name):
            return name
    return None


def _byline_alone(line: str) -> bool:
    """"Written by", "Escrito por", "Por" on a line of their own (the name on the next)."""
    return bool(_WRITTEN_BY_ALONE.fullmatch(line) or _WRITTEN_BY_ALONE_ES.fullmatch(line))


def _is_meta_line(line: str) -> bool:
    return bool(_DATELINE.fullmatch(line) or _PUBLISHED.fullmatch(line)
                or _DATELINE_ES.fullmatch(line) or _PUBLISHED_ES.fullmatch(line)
                or _byline_alone(line) or _byline_author(line))


def from_text(text: str) -> dict[str, object]:
    """Metadata the text states near its top: title, date, publication, author.

    * title: the first line, if it is short and not itself a metadata line;
    * "from the Feb. 1, 2023 Bulletin" → date 2023-02-01, publication "Bulletin";
      "Published February 1, 2023" → date;
    * "Written by Kim Scipes", "By Jane Doe", or "Written by" with the name on the next
      non-blank line → author;
    * in Spanish: "Boletín del 1 de febrero de 2023" → date and publication "Boletín";
      "Publicado el 1 de febrero de 2023" → date; "Escrito por …", "Por …" → author.
    """
    meta: dict[str, object] = {}
    lines = _header_lines(text)
    if lines and len(lines[0]) <= _MAX_TITLE_CHARS and not _is_meta_line(lines[0]):
        meta["title"] = lines[0].lstrip("#").strip() or lines[0]
    for i, line in enumerate(lines):
        if len(line) > _MAX_TITLE_CHARS:
            continue
        if "date" not in meta and (m := _DATELINE.fullmatch(line)):
            date = parse_date_text(m.group("date"))
            if date:
                meta["date"] = date
                meta["publication"] = m.group("publication").strip()
        if "date" not in meta and (m := _DATELINE_ES.fullmatch(line)):
            date = parse_date_text(m.group("date"))
            if date:
                meta["date"] = date
                meta["publication"] = (m.group("publication") or m.group("periodical")).strip()
        if "date" not in meta and (m := _PUBLISHED.fullmatch(line) or _PUBLISHED_ES.fullmatch(line)):
            date = parse_date_text(m.group("date"))
            if date:
                meta["date"] = date
        if "author" not in meta:
            if author := _byline_author(line):
                meta["author"] = author
            elif _byline_alone(line) and i + 1 < len(lines) and _next_line_name(line, lines[i + 1]):
                meta["author"] = lines[i + 1]
    return meta


def _next_line_name(byline: str, name: str) -> bool:
    # A lone "Por" is a weaker sign than "Written by": its name must be capitalised throughout.
    return _is_full_name(name) if byline.casefold() == "por" else _looks_like_name(name)


# -- sidecars and overrides --------------------------------------------------------------


def sidecar_paths(path: Path) -> list[Path]:
    """Sidecars for ``path``, lowest precedence first: ``STEM.meta.toml``, ``NAME.meta.toml``."""
    return [path.with_name(f"{path.stem}.meta.toml"), path.with_name(f"{path.name}.meta.toml")]


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(".meta.toml")


def read_sidecars(path: Path, source: str) -> dict[str, object]:
    """The merged sidecar metadata for the file at ``path`` ({} when it has none)."""
    merged: dict[str, object] = {}
    for sidecar in sidecar_paths(path):
        if not sidecar.is_file():
            continue
        try:
            with sidecar.open("rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ReadError(source, f"sidecar {sidecar.name} could not be read ({err}); "
                                    "fix or remove it") from err
        merged.update(validate_fields(data, source, f"sidecar {sidecar.name}"))
    return merged


def validate_fields(values: Mapping[str, object], source: str, where: str,
                    *, ignore_unknown: bool = False) -> dict[str, object]:
    """Check and coerce user-given metadata; ReadError saying what is wrong and where.

    ``None`` values are dropped (an unset command-line option). Unknown keys are an error
    (a typo would otherwise be silently ignored) unless ``ignore_unknown``, which front matter
    uses because static-site generators put their own keys there.
    """
    clean: dict[str, object] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key not in FIELDS:
            if ignore_unknown:
                continue
            raise ReadError(source, f"unknown metadata field {key!r} in {where}; "
                                    f"known fields: {', '.join(FIELDS)}")
        if key == "date":
            clean[key] = coerce_date(value, source, where)
        elif key == "tags":
            clean[key] = coerce_tags(value, source, where)
        elif key == "language":
            code = normalize_language(value)
            if code is None:
                raise ReadError(source, f"invalid language {value!r} in {where}; use a "
                                        "two-letter ISO 639-1 code such as en or es")
            clean[key] = code
        elif key == "split":
            if value not in SPLIT_MODES:
                raise ReadError(source, f"invalid split {value!r} in {where}; "
                                        f"use one of: {', '.join(SPLIT_MODES)}")
            clean[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ReadError(source, f"{key} in {where} must be text, "
                                        f"not {type(value).__name__}")
            text = str(value).strip()
            if len(text) > _MAX_FIELD_CHARS:
                raise ReadError(source, f"{key} in {where} is too long "
                                        f"({len(text)} characters; at most {_MAX_FIELD_CHARS})")
            if text:
                clean[key] = text
    return clean


def coerce_tags(value: object, source: str, where: str) -> tuple[str, ...]:
    """Tags from a list or a comma-separated string, stripped, de-duplicated, in order."""
    if isinstance(value, str):
        items: Iterable[object] = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ReadError(source, f"tags in {where} must be a list or a comma-separated "
                                f"string, not {type(value).__name__}")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise ReadError(source, f"each tag in {where} must be text")
        tag = str(item).strip()
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > _MAX_TAGS:
        raise ReadError(source, f"too many tags in {where} ({len(tags)}; at most {_MAX_TAGS})")
    return tuple(tags)


def merge(*layers: Mapping[str, object]) -> dict[str, object]:
    """Merge metadata layers given lowest precedence first; later layers win per field."""
    merged: dict[str, object] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v not in (None, "", ())})
    return merged


# -- document ids ------------------------------------------------------------------------


def slug(text: str, max_len: int = 60) -> str:
    """Lower-case ASCII words joined by '-' ("México’s CIO" → "mexico-s-cio"); may be ''."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_len].strip("-")


def is_url(source: str) -> bool:
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", source) is not None


def derive_doc_id(source: str, article_title: str | None = None) -> str:
    """A stable id for ``source``: ``slug-hash6``, plus ``#article-slug`` for split articles.

    Files: slug of the file stem and the first 6 hex digits of the SHA-1 of the resolved
    absolute path (the same file always gets the same id; two files named alike do not
    collide). URLs: slug of the last path segment (or the host) and the hash of the URL.
    """
    if is_url(source):
        parts = urlsplit(source)
        segments = [s for s in parts.path.split("/") if s]
        stem = Path(segments[-1]).stem if segments else (parts.hostname or "")
        key = source
    else:
        path = Path(source).expanduser().resolve()
        stem, key = path.stem, str(path)
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    doc_id = f"{slug(stem) or 'doc'}-{digest}"
    if article_title is not None:
        doc_id = f"{doc_id}#{article_slug(article_title)}"
    return doc_id


def article_slug(title: str) -> str:
    """The slug of an article title; a short hash for titles with no ASCII letters."""
    return slug(title) or hashlib.sha1(title.encode("utf-8", "surrogatepass")).hexdigest()[:6]


def title_from_source(source: str) -> str:
    """A readable fallback title from a file name or URL ("march-bulletin" → "March bulletin")."""
    if is_url(source):
        parts = urlsplit(source)
        segments = [s for s in parts.path.split("/") if s]
        name = Path(segments[-1]).stem if segments else (parts.hostname or source)
    else:
        name = Path(source).stem
    words = re.sub(r"[-_]+", " ", name).strip() or name
    return words[:1].upper() + words[1:]
