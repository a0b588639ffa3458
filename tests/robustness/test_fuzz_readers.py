"""Fuzzing the readers and the chunker with generated and mutated files of every format.

Whatever the bytes, a read either gives documents that keep the stored-text invariants
(normalised text; no control, bidi or surrogate characters in the text or the metadata;
passages that slice back to the text; storable in SQLite) or is refused with a ReadError.
No other exception escapes and no file takes long. CI runs a fixed, modest set of examples
(``derandomize``); ``python -m bench.robustness`` runs thousands with fresh seeds.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robustness_support import (
    FORMATS,
    OPS,
    TOKENS,
    Mutation,
    apply_mutations,
    check_documents,
    mutate_docx_xml,
    read_one,
    seed_files,
)

from corpus.chunk import ChunkerSettings, chunk_document
from corpus.clean import normalise_text
from corpus.errors import ReadError
from corpus.load import load_source
from corpus.store import Store
from corpus.types import Document, ReaderSettings

SEEDS = seed_files()
SETTINGS = ReaderSettings(read_timeout_s=20, isolate=False)
PER_FILE_S = 10.0  # in-process; the hard limit for hostile files is tested in test_isolation.py
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def store(workdir: Path) -> Iterator[Store]:
    store = Store(workdir / "fuzz.sqlite3")
    yield store
    store.close()


def _read(workdir: Path, store: Store, suffix: str, data: bytes) -> None:
    path = workdir / f"input{suffix}"
    path.write_bytes(data)
    outcome = read_one(path, SETTINGS, store)  # raises InvariantBroken on anything but ReadError
    assert outcome.seconds < PER_FILE_S, f"{suffix}: {outcome.seconds:.1f} s for {len(data)} bytes"


def mutations(suffix: str) -> st.SearchStrategy[list[Mutation]]:
    payload = st.one_of(st.binary(min_size=1, max_size=48), st.sampled_from(TOKENS[suffix]))
    one = st.builds(Mutation, op=st.sampled_from(OPS), at=st.floats(0, 1), payload=payload,
                    span=st.sampled_from((0.001, 0.01, 0.1, 0.5)))
    return st.lists(one, min_size=1, max_size=5)


@pytest.mark.parametrize("suffix", FORMATS)
def test_mutated_files_are_read_or_refused(workdir: Path, store: Store, suffix: str) -> None:
    @FUZZ
    @given(base=st.sampled_from(SEEDS[suffix]), muts=mutations(suffix),
           other=st.sampled_from([s for seeds in SEEDS.values() for s in seeds]))
    def check(base: bytes, muts: list[Mutation], other: bytes) -> None:
        _read(workdir, store, suffix, apply_mutations(base, muts, other))

    check()


def test_docx_with_damaged_xml_inside_a_valid_archive(workdir: Path, store: Store) -> None:
    xml_payload = st.sampled_from([b"<w:p>", b"</w:p>", b"<w:t>", b"&a;", b"<!--", b"\x00",
                                   b"<w:r><w:t>\xe2\x80\xae\x07</w:t></w:r>", b"]]>"])
    one = st.builds(Mutation, op=st.sampled_from(("insert", "delete", "duplicate", "token")),
                    at=st.floats(0, 1), payload=xml_payload, span=st.sampled_from((0.001, 0.01)))

    @FUZZ
    @given(base=st.sampled_from(SEEDS[".docx"]), muts=st.lists(one, min_size=1, max_size=4))
    def check(base: bytes, muts: list[Mutation]) -> None:
        _read(workdir, store, ".docx", mutate_docx_xml(base, muts))

    check()


# Any text, including NUL, C0/C1 controls, bidi overrides, zero-width characters and lone
# surrogates (written as invalid UTF-8 with "surrogatepass").
_ANY_CHAR = st.characters(codec=None, exclude_categories=())
_TEXTY = st.text(_ANY_CHAR, max_size=600) | st.text(st.sampled_from(
    [*"ab .\n\t\r", "\u202e", "\u2066", "\x00", "\x85", "\u2028", "\u2029", "\ufeff",
                          "\ud800", "é", "\u0301", "—", "“"]), max_size=600)
_ENCODINGS = ("utf-8", "utf-16", "cp1252", "latin-1")


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_generated_text_in_any_encoding(workdir: Path, store: Store, suffix: str) -> None:
    @FUZZ
    @given(text=_TEXTY, encoding=st.sampled_from(_ENCODINGS), junk=st.binary(max_size=16))
    def check(text: str, encoding: str, junk: bytes) -> None:
        data = text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")
        _read(workdir, store, suffix, data + junk)

    check()


@pytest.mark.parametrize("suffix", FORMATS)
def test_generated_bytes_behind_a_plausible_header(workdir: Path, store: Store, suffix: str) -> None:
    header = {".pdf": b"%PDF-1.7\n", ".docx": b"PK\x03\x04", ".html": b"<html><body>",
              ".md": b"---\n", ".txt": b""}[suffix]

    @FUZZ
    @given(body=st.binary(min_size=1, max_size=2048))
    def check(body: bytes) -> None:
        _read(workdir, store, suffix, header + body)

    check()


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_generated_docx_archives(workdir: Path, store: Store) -> None:
    """Valid ZIPs with arbitrary parts: the DOCX reader must refuse, never crash."""
    names = st.sampled_from(["word/document.xml", "[Content_Types].xml", "_rels/.rels",
                             "word/_rels/document.xml.rels", "docProps/core.xml", "../evil.xml",
                             "/abs.xml", "word/styles.xml"])
    xml = st.one_of(st.binary(max_size=300), st.sampled_from([
        b"<?xml version='1.0'?><w:document xmlns:w='http://schemas.openxmlformats.org/"
        b"wordprocessingml/2006/main'><w:body><w:p><w:r><w:t>Hi</w:t></w:r></w:p></w:body></w:document>",
        b"<a/>", b"", b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY b 'c'>]><a>&b;</a>"]))

    @FUZZ
    @given(entries=st.dictionaries(names, xml, min_size=1, max_size=6))
    def check(entries: dict[str, bytes]) -> None:
        _read(workdir, store, ".docx", _zip(entries))

    check()


def _tree(depth: int) -> st.SearchStrategy[str]:
    tags = st.sampled_from(["div", "p", "article", "main", "h1", "h2", "nav", "table", "tr", "td",
                            "li", "ul", "pre", "br", "script", "span", "b", "header", "section"])
    leaf = st.one_of(st.text(_ANY_CHAR, max_size=30).map(lambda s: s.replace("\ud800", "")),
                     st.sampled_from(["&amp;", "&#0;", "&#x202e;", "<!-- c -->", "<![CDATA[x]]>",
                                      "<meta name='steward:split' content='h2'>", "&nbsp;"]))
    return st.recursive(leaf, lambda children: st.builds(
        lambda tag, kids, close: f"<{tag}>{''.join(kids)}" + (f"</{tag}>" if close else ""),
        tags, st.lists(children, max_size=4), st.booleans()), max_leaves=depth)


def test_generated_html_trees(workdir: Path, store: Store) -> None:
    @FUZZ
    @given(body=_tree(40))
    def check(body: str) -> None:
        _read(workdir, store, ".html", f"<html><head><title>t</title></head><body>{body}</body></html>"
              .encode("utf-8", "surrogatepass"))

    check()


def _json_string(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar, \\ud800 and all


@pytest.mark.parametrize("where", ["html head", "front matter", "overrides", "file name"])
def test_generated_metadata_is_cleaned(workdir: Path, store: Store, where: str) -> None:
    """Titles, authors, tags and ids from any source hold no control, bidi or surrogate
    characters once read (they are shown in Discord embeds and stored in SQLite)."""
    import html

    @FUZZ
    @given(value=_TEXTY.filter(lambda v: v.strip()), tag=_TEXTY, name=st.binary(min_size=1, max_size=60))
    def check(value: str, tag: str, name: bytes) -> None:
        body = "<p>Members met about wages.</p>"
        if where == "html head":
            attr = html.escape(value, quote=True)
            data = (f"<html><head><title>{html.escape(value)}</title><meta name='author' content='{attr}'>"
                    f"<meta name='keywords' content='{html.escape(tag, quote=True)}'></head>"
                    f"<body>{body}</body></html>").encode("utf-8", "surrogatepass")
            path = workdir / "meta.html"
        elif where == "front matter":
            data = (f"---\ntitle: {_json_string(value)}\nauthor: {_json_string(value)}\n"
                    f"tags: [{_json_string(tag)}]\npublication: {_json_string(value)}\n---\n"
                    "Members met about wages.\n").encode()
            path = workdir / "meta.md"
        else:
            data, path = b"Members met about wages.", workdir / "meta.txt"
        overrides: dict[str, object] = {}
        if where == "overrides":
            overrides = {"title": value, "author": value, "id": value, "tags": [tag, value]}
        if where == "file name":  # any bytes but '/' and NUL; not UTF-8 ones come back as surrogates
            name = name.replace(b"/", b"_").replace(b"\x00", b"_").lstrip(b".") or b"x"
            path = Path(os.fsdecode(os.fsencode(workdir) + b"/" + name + b".txt"))
        try:
            path.write_bytes(data)
        except (OSError, ValueError):
            return  # a name the filesystem refuses
        try:
            documents = load_source(str(path), SETTINGS, overrides)
        except ReadError:
            return  # e.g. an id of only junk, a date that is no date
        check_documents(documents, store)

    check()


_SHAPES = st.lists(st.sampled_from(["Word", " ", ".", "?", "\n", "\n\n", "A", "é", "“", "Mr.", "U.S.",
                                    "—", "1.", "#", "\u00a0", "x" * 30]), min_size=1, max_size=200).map("".join)


@FUZZ
@given(text=_SHAPES, target=st.integers(1, 30), extra=st.integers(0, 20), overlap=st.integers(0, 3),
       pages=st.lists(st.integers(0, 400), max_size=5))
def test_chunker_on_odd_shapes_with_pages(text: str, target: int, extra: int, overlap: int,
                                          pages: list[int]) -> None:
    """Headings only, one-word paragraphs, abbreviations, huge words, page offsets anywhere:
    every passage slices back, stays within the page range and fits the word limit (or is
    one piece of an over-long sentence)."""
    text = normalise_text(text)
    if not text.strip():
        return
    offsets = tuple(sorted({min(p, len(text)) for p in pages}))
    doc = Document(source="/x", title="T", text=text, doc_id="d", pages=offsets)
    chunker = ChunkerSettings(target_words=target, max_words=target + extra, overlap_sentences=overlap)
    passages = chunk_document(doc, chunker)
    assert passages, "text with words made no passage"
    for p in passages:
        assert text[p.start : p.end] == p.text and p.text.strip()
        if offsets:
            assert p.locator_kind == "page" and 1 <= p.locator <= len(offsets)
    assert len({p.passage_id for p in passages}) == len(passages)


def test_check_documents_rejects_what_it_should() -> None:
    """The invariant itself: a document with a bidi override in its title is caught."""
    bad = Document(source="/x", title="Pay \u202eraise", text="Fine text.", doc_id="d")
    with pytest.raises(AssertionError, match="bidi"):
        check_documents([bad])
