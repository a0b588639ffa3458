"""Reading one source in this process: a file path or URL in, cleaned Documents out.

Both the front door (:func:`corpus.load.load_source`, when ``isolate`` is off) and the
isolated worker (:mod:`corpus.isolation`) call :func:`read_source`; it never starts a
process itself. Metadata precedence is described in :mod:`corpus.metadata`; multi-article
splitting in :mod:`corpus.readers.html`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from corpus.clean import clean_field
from corpus.errors import ReadError, UnsupportedFormat
from corpus.fetch import fetch_url
from corpus.metadata import (
    article_slug,
    derive_doc_id,
    from_text,
    is_url,
    merge,
    read_sidecars,
    title_from_source,
    validate_fields,
)
from corpus.readers import Extracted, ReadContext, format_for_path, get_reader, unknown_format_reason
from corpus.types import Document, ReaderSettings

__all__ = ["read_source"]

log = logging.getLogger(__name__)
_MB = 1024 * 1024
# Fields that name one article, so they are not handed to every article of a split issue.
_PER_ARTICLE = ("title", "id")


def read_source(
    source: str, settings: ReaderSettings, overrides: Mapping[str, object] | None = None
) -> list[Document]:
    """Read one file or http(s) URL into Documents here, whatever ``settings.isolate`` says.

    Same contract as :func:`corpus.load.load_source`: bad input is a :class:`ReadError`
    (:class:`UnsupportedFormat` for formats Steward does not read), never another exception.
    """
    try:
        return _read(source, settings, overrides or {})
    except (ReadError, ImportError):  # an ImportError is a broken install, not bad input
        raise
    except RecursionError as err:
        raise ReadError(source, "the document is nested too deeply to read") from err
    except MemoryError as err:
        raise ReadError(source, "the document is too large to read into memory") from err
    except Exception as err:  # a library failing on odd input must not stop a batch
        log.debug("unexpected error reading %s", source, exc_info=True)
        raise ReadError(source, f"could not be read ({type(err).__name__}: {err})") from err


def _read(source: str, settings: ReaderSettings, overrides: Mapping[str, object]) -> list[Document]:
    user = validate_fields(overrides, source, "the overrides")
    sidecar: dict[str, object] = {}
    origin: dict[str, object] = {}
    if is_url(source):
        fetched = fetch_url(source, settings)
        fmt, data, resolved = fetched.format, fetched.data, source
        origin["url"] = fetched.url
        charset, base_url = fetched.charset, fetched.url
    else:
        path = Path(source).expanduser()
        data = _read_file(path, source, settings)
        fmt = format_for_path(path) or ""
        resolved = str(path.resolve())
        sidecar = read_sidecars(path, source)
        charset = base_url = None
    split = user.get("split") or sidecar.get("split")
    ctx = ReadContext(source=source, settings=settings, charset=charset, base_url=base_url,
                      split=str(split) if split else None)
    extracted = get_reader(fmt)(data, ctx)
    ctx.check_length(len(extracted.text))
    if not extracted.text.strip():
        raise ReadError(source, "no text found after cleaning (the file holds only blank "
                                "lines or site chrome)")
    if len(extracted.articles) >= 2:
        return _split_documents(resolved, fmt, extracted, [origin], sidecar, user)
    meta = merge(origin, from_text(extracted.text), extracted.meta, sidecar, user)
    return [_document(resolved, fmt, extracted.text, meta,
                      str(meta.get("id") or derive_doc_id(resolved)), extracted.pages, extracted.headings)]


def _read_file(path: Path, source: str, settings: ReaderSettings) -> bytes:
    """The file's bytes, after the checks that need no reading."""
    try:
        if not path.exists():
            raise ReadError(source, "the path does not exist; check the spelling")
        if path.is_dir():
            raise ReadError(source, "is a folder, not a file; name the folder in "
                                    "`steward ingest`, which reads every file in it")
        if not format_for_path(path):
            raise UnsupportedFormat(source, unknown_format_reason(path))
        size = path.stat().st_size
        if size == 0:
            raise ReadError(source, "file is empty")
        if size > settings.max_file_bytes:
            raise ReadError(source, f"the file is {_size(size)}, over max_file_bytes = "
                                    f"{_size(settings.max_file_bytes)}; split it, or raise "
                                    "max_file_mb in config.toml [reader]")
        with path.open("rb") as fh:
            data = fh.read(settings.max_file_bytes + 1)
    except PermissionError as err:
        raise ReadError(source, "permission denied; check the file's permissions") from err
    except OSError as err:
        raise ReadError(source, f"the file could not be read ({err.strerror or err})") from err
    if len(data) > settings.max_file_bytes:  # it grew while we looked
        raise ReadError(source, f"the file is over max_file_bytes = {settings.max_file_bytes:,}")
    if not data:
        raise ReadError(source, "file is empty")
    return data


def _size(n: int) -> str:
    return f"{n / _MB:,.1f} MB" if n >= _MB // 10 else f"{n:,} bytes"


def _without(meta: Mapping[str, object], keys: Sequence[str]) -> dict[str, object]:
    return {k: v for k, v in meta.items() if k not in keys}


def _split_documents(
    resolved: str,
    fmt: str,
    extracted: Extracted,
    low: list[dict[str, object]],
    sidecar: dict[str, object],
    user: dict[str, object],
) -> list[Document]:
    """One Document per article: the issue's metadata, the article's title and byline."""
    # From the page's text only the dateline: a byline there belongs to one article.
    page = {k: v for k, v in from_text(extracted.text).items() if k in ("date", "publication")}
    issue = merge(*low, page, _without(extracted.meta, _PER_ARTICLE))
    base_id = str(user.get("id") or sidecar.get("id") or derive_doc_id(resolved))
    documents, used_ids = [], set()
    for n, article in enumerate(extracted.articles, start=1):
        own = _without(from_text(article.text), _PER_ARTICLE)
        title = article.title or str(from_text(article.text).get("title") or f"Article {n}")
        meta = merge(issue, own, {"title": title}, _without(sidecar, _PER_ARTICLE),
                     _without(user, _PER_ARTICLE))
        doc_id = f"{base_id}#{article_slug(title)}"
        if doc_id in used_ids:  # two articles with the same heading
            doc_id = f"{doc_id}-{n}"
        used_ids.add(doc_id)
        documents.append(_document(resolved, fmt, article.text, meta, doc_id))
    return documents


def _document(resolved: str, fmt: str, text: str, meta: Mapping[str, object], doc_id: str,
              pages: tuple[int, ...] = (), headings: tuple[tuple[int, int], ...] = ()) -> Document:
    # Metadata comes from the file, its name and the admin; like the text, it is cleaned of
    # control characters, bidi overrides and undecodable bytes (which SQLite cannot store).
    def text_field(key: str) -> str | None:
        value = meta.get(key)
        return (clean_field(str(value)) or None) if value else None

    tags = (clean_field(str(t)) for t in meta.get("tags") or ())  # type: ignore[union-attr]
    return Document(
        source=clean_field(resolved),
        title=text_field("title") or clean_field(title_from_source(resolved)) or "Untitled",
        text=text,
        doc_id=clean_field(doc_id) or derive_doc_id(resolved),
        author=text_field("author"),
        date=meta.get("date"),  # type: ignore[arg-type]  # validated dt.date
        publication=text_field("publication"),
        url=text_field("url"),
        tags=tuple(t for t in tags if t),
        pages=pages,
        headings=headings,
        format=fmt,
        # As the metadata says (validated to an ISO 639-1 code); detected from the text later,
        # outside the isolated reader (corpus.language.with_detected_language).
        language=text_field("language"),
        translation_of=text_field("translation_of"),
        alternates=tuple(str(u) for u in meta.get("alternates") or ()),  # type: ignore[union-attr]
    )
