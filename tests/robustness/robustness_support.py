"""Shared by the robustness tests and ``bench/robustness.py``: seed files of every format,
mutators, the invariant every read must keep, and the kill and concurrency campaigns.

Imported by name (this folder is on ``sys.path`` under pytest; the bench adds it), never from
a conftest. The campaigns take their sizes as arguments: the tests run small ones, the bench
large ones, and both count what they did.
"""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import threading
import time
import traceback
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stewardtest import docx_bytes, pdf_bytes

from corpus.chunk import chunk_document
from corpus.clean import normalise_text
from corpus.errors import ReadError
from corpus.load import load_source
from corpus.store import Store
from corpus.types import Document, ReaderSettings

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config.toml"
FORMATS = (".txt", ".md", ".html", ".pdf", ".docx")
# Characters no stored text or metadata may hold (corpus.clean removes them): C0/C1 controls,
# bidi embeddings/overrides/isolates, zero-width junk, lone surrogates.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ZERO_WIDTH = set("\u200b\u2060\ufeff\u180e")


# -- seed files: small, valid, exercising each reader's features ------------------------------


def bulletin_docx(paragraphs: Sequence[str], title: str | None = None, table: bool = False) -> bytes:
    """A bulletin-like DOCX: a heading, the paragraphs, optionally a small table; a titled one
    also carries its title and author in the document properties."""
    grid = [[f"Row {r} column {c}: dues and wages" for c in range(2)] for r in range(2)] if table else None
    return docx_bytes(paragraphs, title=title, author="Bargaining Committee" if title else None,
                      table=grid, heading=title or "Steward bulletin")


def paragraphs(n: int, topic: str = "wages") -> list[str]:
    return [f"Members of shop {n} met on {topic} and safety. They voted to file grievance {n}-{p} "
            f"together, and the steward will report back to the local on {topic}." for p in range(1, 4)]


def seed_files() -> dict[str, list[bytes]]:
    """A few valid files per format (suffix → contents), the starting points for mutation."""
    body = "\n\n".join(paragraphs(1))
    html = (
        "<!doctype html><html><head><title>Bulletin | Local 12</title>"
        "<meta name='author' content='Ana Ruiz'><meta name='date' content='2024-03-01'>"
        "<link rel='canonical' href='https://example.org/b/1'></head><body><nav>Menu Home</nav>"
        "<main><h1>Contract campaign</h1><p>First paragraph about <b>wages</b>.</p>"
        "<ul><li>One</li><li>Two &amp; three</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
        "<pre>  kept   spacing</pre><script>var x = 1;</script></main></body></html>"
    )
    issue = (
        "<html><head><meta name='steward:split' content='h2'></head><body><main>"
        "<p>from the Feb. 1, 2023 Bulletin</p><h2>First article</h2><p>Dues are due.</p>"
        "<h2>Second article</h2><p>Overtime rules.</p><article><h3>Nested</h3><p>x</p></article>"
        "</main></body></html>"
    )
    return {
        ".txt": [body.encode("utf-8"), "Café “quote” — naïve\r\n\r\nSecond.".encode("cp1252"),
                 body.encode("utf-16")],
        ".md": [("---\ntitle: Dues\nauthor: [A, B]\ndate: Feb. 1, 2023\ntags: pay, dues\n---\n"
                 "# Dues\n\n" + body + "\n\n- item\n- item\n").encode("utf-8"),
                b"# Heading only\n\nText with `code` and *emphasis*.\n"],
        ".html": [html.encode("utf-8"), issue.encode("utf-8")],
        ".pdf": [pdf_bytes([paragraphs(1), paragraphs(2)], title="Minutes", author="Local 12 Communications"),
                 pdf_bytes([["Short page."], [], ["Third page text."]])],
        ".docx": [bulletin_docx(paragraphs(3), title="Organizing guide", table=True),
                  bulletin_docx(["One paragraph only."])],
    }


# -- hostile files -----------------------------------------------------------------------------


def slow_pdf(operators: int = 400_000) -> bytes:
    """A small PDF whose one page holds many text operators: pypdf spends seconds in one call
    (measured: 3 million take ~30 s and 350 MB), which no check between steps can stop."""
    content = b"BT /F1 12 Tf 10 10 Td " + b"(a) Tj " * operators + b"ET"
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return assemble_pdf(objects)


def assemble_pdf(objects: list[bytes]) -> bytes:
    """A PDF file with a correct cross-reference table for ``objects`` (object 1 is the root)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def flate_bomb_pdf(megabytes: int = 100) -> bytes:
    """A ~0.5 MB PDF whose page content inflates to ``megabytes`` MB of spaces (pypdf stops
    at 75 MB per stream)."""
    packer = zlib.compressobj(1)
    chunk = b" " * (1 << 20)
    stream = b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()
    return assemble_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ])


_WAGES_PAGE = b"BT /F1 12 Tf 10 10 Td (Wages page) Tj ET"


def page_tree_pdf(pages_object: bytes, *more: bytes) -> bytes:
    """A one-page PDF whose page tree (object 2) is ``pages_object``; page 3 says "Wages page"."""
    return assemble_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        pages_object,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(_WAGES_PAGE), _WAGES_PAGE),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *more,
    ])


def replace_docx_part(base: bytes, name: str, body: bytes) -> bytes:
    """``base`` with the part ``name`` replaced by ``body`` (added if it is not there)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, body if item.filename == name else src.read(item.filename))
        if name not in src.namelist():
            dst.writestr(name, body)
    return out.getvalue()


# -- mutation ---------------------------------------------------------------------------------

# Fragments that steer mutations toward each parser's hard cases.
TOKENS: dict[str, list[bytes]] = {
    ".txt": [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xe2\x80\xae", b"\r", b"\x1b[31m", b"\xc3",
             b"\xed\xa0\x80", b"\n" * 50],
    ".md": [b"---\n", b"---\ntitle: [\n", b"--- \n...\n", b"&a [*a, *a]\n", b"!!python/object:os.system\n",
            b"\x00", b"# ", b"date: 99999-99-99\n", b"tags: {a: b}\n"],
    ".html": [b"<div>" * 40, b"</div>", b"<!--", b"<![CDATA[", b"<script>", b"<article>", b"<h2>",
              b"&#0;", b"&#x110000;", b"<meta charset='utf-7'>", b"<meta name='steward:split' content='h2'>",
              b"<table><tr><td>", b"\x00", b"<br>" * 20],
    ".pdf": [b"obj", b"endobj", b"stream\n", b"endstream", b"/Length 999999999", b"<<" * 20, b">>",
             b"[" * 50, b"/FlateDecode", b"xref", b"trailer", b"%%EOF", b"/Count 99999999", b"R ",
             b"/Kids [1 0 R]", b"(\\", b"BT", b"Tj", b"/Encrypt"],
    ".docx": [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"\xff" * 8, b"\x00" * 16],
}
_XML_TOKENS = [b"<w:p>", b"</w:p>", b"<w:t>", b"</w:t>", b"<w:tbl>", b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>",
               b"&a;", b"<w:r><w:t>\xe2\x80\xae</w:t></w:r>", b"<!--", b"]]>", b"\x00", b"<w:body>"]
OPS = ("flip", "insert", "delete", "duplicate", "truncate", "token", "splice")


@dataclass(frozen=True)
class Mutation:
    op: str
    at: float  # position as a fraction of the length, so it stays meaningful as data changes
    payload: bytes = b""
    span: float = 0.01


def apply_mutations(data: bytes, mutations: Sequence[Mutation], other: bytes = b"") -> bytes:
    """``data`` changed by each mutation in turn (deterministic: hypothesis can shrink these)."""
    out = bytearray(data)
    for m in mutations:
        n = len(out)
        at = min(int(m.at * n), n)
        width = max(1, int(m.span * n))
        if m.op == "flip" and n:
            out[min(at, n - 1)] ^= (m.payload[:1] or b"\x01")[0] or 1
        elif m.op in ("insert", "token"):
            out[at:at] = m.payload
        elif m.op == "delete":
            del out[at : at + width]
        elif m.op == "duplicate":
            out[at:at] = out[at : at + width] * 3
        elif m.op == "truncate":
            del out[at:]
        elif m.op == "splice" and other:
            out[at:] = other[int(m.at * len(other)) :]
    return bytes(out)


def random_mutations(rng: random.Random, suffix: str) -> list[Mutation]:
    found = []
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(OPS)
        payload = (rng.choice(TOKENS[suffix]) if op == "token"
                   else rng.randbytes(rng.randint(1, 32)) if op in ("insert", "flip") else b"")
        found.append(Mutation(op, rng.random(), payload, rng.choice((0.001, 0.01, 0.1))))
    return found


def mutate_docx_xml(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    """Structure-aware: mutate ``word/document.xml`` inside a valid archive, so the XML
    parser sees damaged XML rather than the ZIP reader refusing a bad checksum."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "word/document.xml":
                body = apply_mutations(body, mutations)
            dst.writestr(item.filename, body)
    return out.getvalue()


def xml_mutations(rng: random.Random) -> list[Mutation]:
    return [Mutation(rng.choice(("insert", "delete", "duplicate", "token")), rng.random(),
                     rng.choice(_XML_TOKENS), rng.choice((0.001, 0.01))) for _ in range(rng.randint(1, 3))]


# -- the invariant of every read ----------------------------------------------------------------


class InvariantBroken(AssertionError):
    """A read returned something no reader may return, or raised something other than ReadError."""


def _bad_char(ch: str, allow_newline: bool) -> bool:
    if ch == "\n":
        return not allow_newline
    return (unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI or ch in _ZERO_WIDTH)


def check_documents(documents: Sequence[Document], store: Store | None = None) -> int:
    """Assert what every stored document obeys; returns the number of passages it makes."""
    if not documents:
        raise InvariantBroken("load_source returned no documents and no error")
    passages = 0
    for doc in documents:
        if not doc.text.strip():
            raise InvariantBroken(f"{doc.doc_id}: empty text accepted")
        if normalise_text(doc.text) != doc.text:
            raise InvariantBroken(f"{doc.doc_id}: stored text is not normalised")
        bad = [hex(ord(c)) for c in doc.text if _bad_char(c, allow_newline=True)]
        if bad:
            raise InvariantBroken(f"{doc.doc_id}: text holds control/bidi/surrogate characters {bad[:5]}")
        fields = [doc.title, doc.doc_id, doc.source, doc.author, doc.publication, doc.url, *doc.tags]
        for value in fields:
            if value is not None and any(_bad_char(c, allow_newline=False) for c in value):
                raise InvariantBroken(f"{doc.doc_id}: metadata {value!r} holds control/bidi/surrogate characters")
        if not doc.title.strip() or not doc.doc_id:
            raise InvariantBroken(f"{doc.source}: a document without a title or an id")
        if list(doc.pages) != sorted(doc.pages) or any(not 0 <= p <= len(doc.text) for p in doc.pages):
            raise InvariantBroken(f"{doc.doc_id}: page offsets {doc.pages[:5]} are not within the text")
        chunks = chunk_document(doc)
        for p in chunks:
            if doc.text[p.start : p.end] != p.text or not p.text.strip():
                raise InvariantBroken(f"{doc.doc_id}: passage {p.ordinal} does not slice back to its text")
        if not chunks:
            raise InvariantBroken(f"{doc.doc_id}: accepted text that makes no passage")
        if store is not None:
            store.upsert(doc, chunks)  # must store: no surrogates, no NULs SQLite cannot take
        passages += len(chunks)
    return passages


@dataclass
class Outcome:
    """What one read did: accepted with this many passages, or refused with this reason."""

    accepted: bool
    detail: str
    seconds: float


def read_one(path: Path, settings: ReaderSettings, store: Store | None = None) -> Outcome:
    """Read ``path``; a ReadError is a refusal, anything else raised is a broken invariant."""
    started = time.perf_counter()
    try:
        documents = load_source(str(path), settings)
    except ReadError as err:
        if not err.reason or "Traceback" in err.reason:
            raise InvariantBroken(f"{path}: unclear refusal {err.reason!r}") from err
        return Outcome(False, err.reason, time.perf_counter() - started)
    except Exception as err:
        raise InvariantBroken(f"{path}: {type(err).__name__} escaped the reader: {err}") from err
    passages = check_documents(documents, store)
    return Outcome(True, f"{len(documents)} documents, {passages} passages", time.perf_counter() - started)


@dataclass
class FuzzTally:
    files: int = 0
    accepted: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)
    slowest_s: float = 0.0
    by_format: dict[str, int] = field(default_factory=dict)

    def add(self, suffix: str, outcome: Outcome) -> None:
        self.files += 1
        self.by_format[suffix] = self.by_format.get(suffix, 0) + 1
        self.slowest_s = max(self.slowest_s, outcome.seconds)
        if outcome.accepted:
            self.accepted += 1
        else:
            self.refused += 1


def fuzz_campaign(workdir: Path, per_format: int, seed: int, settings: ReaderSettings | None = None,
                  time_limit_s: float = 30.0) -> FuzzTally:
    """Mutate the seed files ``per_format`` times per format and read each result."""
    settings = settings or ReaderSettings(read_timeout_s=time_limit_s, isolate=False)  # the readers themselves
    rng = random.Random(seed)
    seeds = seed_files()
    tally = FuzzTally()
    workdir.mkdir(parents=True, exist_ok=True)
    store = Store(workdir / "fuzz.sqlite3")
    try:
        for suffix in FORMATS:
            for n in range(per_format):
                base = rng.choice(seeds[suffix])
                if suffix == ".docx" and n % 2:
                    data = mutate_docx_xml(base, xml_mutations(rng))
                else:
                    other = rng.choice(seeds[rng.choice(FORMATS)])
                    data = apply_mutations(base, random_mutations(rng, suffix), other)
                path = workdir / f"fuzz-{n % 7}{suffix}"
                path.write_bytes(data)
                try:
                    outcome = read_one(path, settings, store)
                except InvariantBroken as err:
                    keep = workdir / f"failure-{len(tally.failures)}{suffix}"
                    keep.write_bytes(data)
                    tally.failures.append(f"{keep}: {err}")
                    continue
                if outcome.seconds > time_limit_s:
                    tally.failures.append(f"{path}: took {outcome.seconds:.1f} s")
                tally.add(suffix, outcome)
    finally:
        store.close()
    return tally


# -- Steward on a throwaway folder, with a fast encoder --------------------------------------


def make_steward(data_dir: Path, encoder: object, **overrides: object):  # -> bot.app.Steward
    """A Steward on ``data_dir`` with the repo's config and ``encoder`` instead of the model;
    ``overrides`` are ``section__key=value``."""
    from bot.app import Steward
    from bot.config import load_config

    config = load_config(CONFIG, data_dir)
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        setattr(getattr(config, section), key, value)
    steward = Steward(config)
    steward._encoder = encoder
    return steward


def hash_encoder(delay_s: float = 0.0):  # -> stewardtest.HashEncoder
    """The suite's deterministic encoder; ``delay_s`` per batch widens the window a kill lands in."""
    from stewardtest import HashEncoder

    encoder = HashEncoder()
    if delay_s:
        original = encoder.encode

        def slow(texts, batch_size=32, progress=False):  # type: ignore[no-untyped-def]
            time.sleep(delay_s)
            return original(texts, batch_size, progress)

        encoder.encode = slow  # type: ignore[method-assign]
    return encoder


def write_corpus(folder: Path, names: Sequence[int], version: int = 0,
                 kinds: Sequence[str] = FORMATS) -> None:
    """One bulletin per number, cycling through ``kinds`` (HTML ones are two-article issues)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        paras = paragraphs(n, topic=f"wages round {version}" if version else "wages")
        kind = kinds[n % len(kinds)]
        path = folder / f"bulletin-{n:03d}{kind}"
        if kind == ".txt":
            path.write_text(f"Bulletin {n}\n\n" + "\n\n".join(paras), encoding="utf-8")
        elif kind == ".md":
            path.write_text(f"---\ntitle: Bulletin {n}\ndate: 2024-01-{n % 28 + 1:02d}\n---\n\n"
                            + "\n\n".join(paras), encoding="utf-8")
        elif kind == ".html":
            articles = "".join(f"<article><h2>Article {n}.{a}</h2>"
                               + "".join(f"<p>{p}</p>" for p in paras) + "</article>" for a in (1, 2))
            path.write_text(f"<html><head><title>Issue {n}</title></head><body><main>{articles}"
                            "</main></body></html>", encoding="utf-8")
        elif kind == ".pdf":
            path.write_bytes(pdf_bytes([paras[:2], paras[2:]], title=f"Minutes {n}", author="Local 12 Communications"))
        else:
            path.write_bytes(bulletin_docx(paras, title=f"Guide {n}"))


def documents_in(folder: Path) -> int:
    """How many documents the folder's files make (HTML issues hold two articles each)."""
    return sum(2 if p.suffix == ".html" else 1 for p in folder.iterdir() if p.suffix in FORMATS)


# -- SIGKILL during a real multi-document ingest -----------------------------------------------


@dataclass
class KillTally:
    kills: int = 0
    survived: int = 0
    isolated_rounds: int = 0
    failures: list[str] = field(default_factory=list)
    phases: dict[str, int] = field(default_factory=dict)  # where the kill landed


def _child_ingest(data_dir: str, folder: str, delay_s: float, publish_delay_s: float, isolate: bool) -> None:
    import embeddings.generations as generations

    if publish_delay_s:  # widen the window between writing a generation and swapping to it
        original = generations.fsync_tree

        def slow_fsync(path: Path) -> None:
            original(path)
            time.sleep(publish_delay_s)

        generations.fsync_tree = slow_fsync  # this forked child only
    steward = make_steward(Path(data_dir), hash_encoder(delay_s), reader__isolate=isolate)
    steward.ingest([folder])
    os._exit(0)


def _phase(data_dir: Path) -> str:
    index = data_dir / "index"
    if index.is_dir() and any(p.name.startswith(".tmp-gen-") for p in index.iterdir()):
        return "writing a generation"
    return "reading/storing/encoding"


def store_agrees_with_index(steward) -> str | None:  # steward: bot.app.Steward
    """None when the serving generation holds exactly the store's passages, else why not."""
    from embeddings.dense import DenseIndex
    from embeddings.generations import DENSE_FILE

    current = steward.generations.current()
    if current is None:
        return "no generation is serving"
    ids = set(DenseIndex.load(current / DENSE_FILE).ids().tolist())
    wanted = set(steward.store.all_vids())
    if ids != wanted:
        return f"index has {len(ids)} vectors, store {len(wanted)} passages ({len(ids ^ wanted)} differ)"
    return None


def kill_campaign(workdir: Path, rounds: int, seed: int, isolate_every: int = 5,
                  on_round: Callable[[int, KillTally], None] | None = None) -> KillTally:
    """SIGKILL a forked ``Steward.ingest`` of a multi-format folder at random moments.

    After every kill: the store passes SQLite's integrity check, a fresh Steward serves
    searches from a complete generation, and the next ingest completes with every document
    accounted for (added + updated + unchanged = documents in the folder, none failed) and
    the index agreeing with the store. At the end the store equals a clean ingest's.
    """
    import multiprocessing as mp

    rng = random.Random(seed)
    data, folder = workdir / "data", workdir / "docs"
    write_corpus(folder, range(5))
    parent = make_steward(data, hash_encoder(), reader__isolate=False)
    tally = KillTally()
    try:
        first = parent.ingest([str(folder)])
        assert first.ok and len(first.added) == documents_in(folder), first.summary()
        ctx = mp.get_context("fork")
        next_doc = 5
        # The kill lands uniformly in [0, window); the window follows the ingest's length, so
        # kills spread over reading, storing, encoding and publishing.
        window = {False: 0.6, True: 1.5}
        attempts = 0
        while tally.kills < rounds and attempts < 3 * rounds:
            attempts += 1
            round_ = tally.kills
            # Change the folder: a new bulletin now and then (at most 10 in all, so rounds stay
            # short), and two edited ones (their passages change).
            if next_doc < 10 and rng.random() < 0.5:
                write_corpus(folder, [next_doc])
                next_doc += 1
            write_corpus(folder, rng.sample(range(next_doc), 2), version=attempts)
            isolate = bool(isolate_every) and round_ % isolate_every == isolate_every - 1
            delays = (rng.choice((0.0, 0.01, 0.05)), rng.choice((0.0, 0.0, 0.1, 0.3)))
            child = ctx.Process(target=_child_ingest, args=(str(data), str(folder), *delays, isolate))
            child.start()
            time.sleep(rng.uniform(0.0, window[isolate]))
            phase = _phase(data)
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                phase = ""
            child.join()
            killed = bool(phase) and child.exitcode == -signal.SIGKILL
            if killed:
                tally.kills += 1
                tally.isolated_rounds += isolate
                tally.phases[phase] = tally.phases.get(phase, 0) + 1
                window[isolate] *= 1.05
            else:  # it finished first: not a kill; aim earlier next time
                window[isolate] *= 0.7
            problem = _after_kill(data, folder, parent)
            if problem:
                tally.failures.append(f"round {round_} ({'killed ' + phase if killed else 'not killed'}): {problem}")
            elif killed:
                tally.survived += 1
            if on_round:
                on_round(round_, tally)
        if tally.kills < rounds:
            tally.failures.append(f"only {tally.kills} of {rounds} kills landed in {attempts} attempts")
        clean = make_steward(workdir / "clean", hash_encoder(), reader__isolate=False)
        try:
            clean.ingest([str(folder)])
            if _passage_ids(clean) != _passage_ids(parent):
                tally.failures.append("after the kills the store differs from a clean ingest of the same folder")
        finally:
            clean.close()
        leftovers = [p.name for p in (data / "index").iterdir() if p.name.startswith(".")
                     and p.name != ".lock"]
        if leftovers:
            tally.failures.append(f"left behind in the index folder: {leftovers}")
    finally:
        parent.close()
    return tally


def _passage_ids(steward) -> set[tuple[str, str]]:
    return set(steward.store.execute("SELECT doc_id, passage_id FROM passages"))


def _after_kill(data: Path, folder: Path, parent) -> str | None:
    conn = sqlite3.connect(data / "steward.sqlite3")
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    if check != "ok":
        return f"store integrity check: {check}"
    fresh = make_steward(data, hash_encoder(), reader__isolate=False)
    try:
        if not fresh.search("members wages grievance", 5):
            return "the serving generation answered no search"
    except Exception as err:
        return f"search after the kill failed: {type(err).__name__}: {err}"
    finally:
        fresh.close()
    report = parent.ingest([str(folder)])
    expected = documents_in(folder)
    seen = len(report.added) + len(report.updated) + len(report.unchanged)
    if report.failed or seen != expected:
        return f"the next ingest: {report.summary()} (expected {expected} documents, none failed)"
    if parent.store.counts()[0] != expected:
        return f"the store holds {parent.store.counts()[0]} documents, expected {expected}"
    return store_agrees_with_index(parent)


# -- searches while a large ingest swaps generations -------------------------------------------


@dataclass
class SwapTally:
    searches: int = 0
    swaps: int = 0
    generations_seen: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def searches_during_swaps(workdir: Path, batches: int, per_batch: int, threads: int = 2,
                          seed: int = 0, kinds: Sequence[str] = FORMATS) -> SwapTally:
    """Search continuously from ``threads`` threads (half on the ingesting Steward, as the bot
    does with /admin add, half on a second Steward on the same folder, as the bot does while
    the CLI ingests) while ``batches`` ingests of ``per_batch`` documents, a removal and a
    full re-embed each publish a generation. Every search must succeed and come from a
    generation that was published whole."""
    rng = random.Random(seed)
    data, folder = workdir / "data", workdir / "docs"
    writer = make_steward(data, hash_encoder(), reader__isolate=False)
    reader = make_steward(data, hash_encoder(), reader__isolate=False)
    tally = SwapTally()
    published: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    queries = ["members wages", "grievance steward", "safety local report", "shop voted", "dues"]

    def search_loop(steward) -> None:  # type: ignore[no-untyped-def]
        last = ""
        while not stop.is_set():
            try:
                hits = steward.search(rng.choice(queries), 5)
                loaded = steward.searcher._loaded
                name = loaded.name if loaded is not None else ""
                with lock:
                    tally.searches += 1
                    tally.generations_seen.add(name)
                    if not hits:
                        tally.errors.append(f"no hits from generation {name}")
                    if name < last:
                        tally.errors.append(f"went back from {last} to {name}")
                    if loaded is not None and loaded.dense.size != loaded.manifest.passages:
                        tally.errors.append(f"{name} holds {loaded.dense.size} vectors, "
                                            f"its manifest {loaded.manifest.passages}")
                last = name
            except Exception as err:
                where = traceback.extract_tb(err.__traceback__)[-3:]
                with lock:
                    tally.errors.append(f"{type(err).__name__}: {err} (at {traceback.format_list(where)})")
                time.sleep(0.01)

    try:
        write_corpus(folder, range(5), kinds=kinds)
        first = writer.ingest([str(folder)])
        published.add(first.sync.generation)  # type: ignore[union-attr]
        workers = [threading.Thread(target=search_loop, args=(writer if i % 2 == 0 else reader,),
                                    daemon=True) for i in range(threads)]
        for w in workers:
            w.start()
        total = 5
        for b in range(batches):
            batch = workdir / f"batch-{b}"
            write_corpus(batch, range(total, total + per_batch), kinds=kinds)
            total += per_batch
            report = writer.ingest([str(batch)])
            if report.failed:
                tally.errors.append(f"ingest {b}: {report.summary()}")
            published.add(report.sync.generation)  # type: ignore[union-attr]
            tally.swaps += 1
            if b % 2 == 1:
                doc = rng.choice([d.doc_id for d in writer.store.documents()])
                removed = writer.remove(doc)
                if removed is not None:
                    published.add(removed.generation)  # type: ignore[arg-type]
                    tally.swaps += 1
        full = writer.reindex()
        published.add(full.generation)  # type: ignore[arg-type]
        tally.swaps += 1
        time.sleep(0.2)  # let every thread search the last generation too
        stop.set()
        for w in workers:
            w.join(10)
        unknown = tally.generations_seen - published
        if unknown:
            tally.errors.append(f"searches used generations never published whole: {sorted(unknown)}")
        problem = store_agrees_with_index(writer)
        if problem:
            tally.errors.append(problem)
    finally:
        stop.set()
        writer.close()
        reader.close()
    return tally
