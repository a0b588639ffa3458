"""Hostile and broken documents: each is refused with a clear reason or contained, quickly,
in bounded memory, and one hostile file never stops the rest of an ingest.

Already covered elsewhere (not repeated here): the DOCX ZIP-size bomb, too many entries,
3,000-deep HTML and a 10 MB line read directly (tests/readers/test_bad_input.py,
test_readers.py); a symbolic link to a file outside the folder (test_clean_metadata.py);
path-traversal attachment names (tests/discord/test_discord_admin.py, test_discord_embeds.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from robustness_support import (
    check_documents,
    docx_bytes,
    flate_bomb_pdf,
    hash_encoder,
    make_steward,
    page_tree_pdf,
    paragraphs,
    replace_docx_part,
)

import corpus.isolation as isolation
from corpus.errors import ReadError
from corpus.load import expand_sources, load_source
from corpus.types import ReaderSettings

# The production path: a worker with a memory cap and a hard deadline.
HOSTILE = ReaderSettings(isolate=True, read_timeout_s=10, max_read_memory_bytes=384 * 1024 * 1024)
_W = b"xmlns:w='http://schemas.openxmlformats.org/wordprocessingml/2006/main'"


def refused(path: Path, settings: ReaderSettings = HOSTILE, within_s: float = 10.0) -> str:
    started = time.monotonic()
    with pytest.raises(ReadError) as info:
        load_source(str(path), settings)
    assert time.monotonic() - started < within_s
    return info.value.reason


def _document_xml(body: bytes, doctype: bytes = b"") -> bytes:
    return (b"<?xml version='1.0'?>" + doctype + b"<w:document " + _W + b"><w:body>" + body
            + b"</w:body></w:document>")


def test_docx_entity_expansion_bomb_is_refused(tmp_path: Path) -> None:
    """A billion laughs in word/document.xml: 10^9 'lol's if expanded."""
    entities = b"<!ENTITY a0 'lol'>" + b"".join(
        b"<!ENTITY a%d '%s'>" % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    xml = _document_xml(b"<w:p><w:r><w:t>&a9;</w:t></w:r></w:p>", b"<!DOCTYPE w:document [" + entities + b"]>")
    path = tmp_path / "laughs.docx"
    path.write_bytes(replace_docx_part(docx_bytes(["x"]), "word/document.xml", xml))
    assert refused(path).startswith("the DOCX is damaged")


def test_docx_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PAYROLL")
    doctype = b"<!DOCTYPE w:document [<!ENTITY x SYSTEM '" + secret.as_uri().encode() + b"'>]>"
    xml = _document_xml(b"<w:p><w:r><w:t>Hello &x; members</w:t></w:r></w:p>", doctype)
    path = tmp_path / "xxe.docx"
    path.write_bytes(replace_docx_part(docx_bytes(["x"]), "word/document.xml", xml))
    try:
        documents = load_source(str(path), HOSTILE)
    except ReadError:
        return  # refusing is as good
    assert all("TOP-SECRET" not in d.text for d in documents)


def test_docx_that_lies_about_its_unpacked_size_is_refused(tmp_path: Path) -> None:
    """The size check trusts the ZIP directory; a part that says 1 KB but inflates to 40 MB
    must still not be read whole."""
    import io
    import struct
    import zipfile

    body = _document_xml(b"<w:p><w:r><w:t>" + b" " * (40 << 20) + b"</w:t></w:r></w:p>")
    data = bytearray(replace_docx_part(docx_bytes(["x"]), "word/document.xml", body))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("word/document.xml")
    struct.pack_into("<I", data, info.header_offset + 22, 1000)  # local header: uncompressed size
    at = data.find(b"PK\x01\x02")
    while at >= 0:  # central directory entries
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == b"word/document.xml":
            struct.pack_into("<I", data, at + 24, 1000)
        at = data.find(b"PK\x01\x02", at + 4)
    path = tmp_path / "lying.docx"
    path.write_bytes(bytes(data))
    assert refused(path).startswith("the DOCX is damaged")


def test_pdf_flate_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """0.5 MB that inflates to 100 MB of blanks: pypdf stops at 75 MB, so it is read within
    the worker's 384 MB cap and refused for having no text."""
    path = tmp_path / "bomb.pdf"
    path.write_bytes(flate_bomb_pdf(100))
    assert path.stat().st_size < 1_000_000
    assert refused(path).startswith("the PDF has no text to extract")


@pytest.mark.parametrize(("name", "pages", "reason"), [
    ("thousands", b"<< /Type /Pages /Kids [" + b" ".join([b"3 0 R"] * 5000) + b"] /Count 5000 >>",
     "the PDF has 5,000 pages, more than max_pdf_pages = 2,000"),
    ("cycle", b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>", "the PDF is damaged: its page list"),
])
def test_pdf_page_trees(tmp_path: Path, name: str, pages: bytes, reason: str) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(page_tree_pdf(pages))
    assert refused(path, within_s=5).startswith(reason)


def test_pdf_page_tree_too_deep(tmp_path: Path) -> None:
    chain = [b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 1) for n in range(6, 3006)]
    path = tmp_path / "deep.pdf"
    path.write_bytes(page_tree_pdf(b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>", *chain,
                                   b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"))
    assert refused(path, within_s=5).startswith("the PDF is damaged")


def _hostile_folder(folder: Path, outside: Path) -> dict[str, str]:
    """Write the batch; return each hostile file's name → a phrase its refusal must contain."""
    folder.mkdir()
    for n in range(3):
        (folder / f"good-{n}.txt").write_text(f"Bulletin {n}\n\n" + "\n\n".join(paragraphs(n)))
    deep = 100_000
    (folder / "nested.html").write_bytes(b"<html><body>" + b"<div>" * deep + b"deep" + b"</div>" * deep)
    (folder / "bomb.pdf").write_bytes(flate_bomb_pdf(100))
    (folder / "nul.txt").write_bytes(b"Members\x00met\x00" * 100)
    (folder / "huge-line.txt").write_bytes(b"Wages rose. " * 500_000)  # 6 MB, one line
    (folder / "not-utf8.md").write_bytes(b"# Dues \xff\xfe\n\nMembers \xc3 met \xed\xa0\x80 about dues.\n")
    (folder / "bidi.html").write_text("<html><head><title>Pay \u202eesiar\u202c now</title></head><body>"
                                      "<p>Vote \u202eyes\u202c \u2066today\u2069.\x07</p></body></html>")
    (folder / "late-nul.txt").write_bytes(b"Members met about wages. " * 3000 + b"\x00\x01\x1b[31m end.")
    (folder / "long-line.txt").write_bytes(b"Members met about wages and safety. " * 30_000)  # 1 MB line
    secret = outside / "payroll.txt"
    secret.write_text("salaries")
    (outside / "private").mkdir()
    (outside / "private" / "notes.txt").write_text("private notes")
    (folder / "leak-dir").symlink_to(outside / "private")
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    (folder / "dangling.txt").symlink_to(outside / "gone.txt")
    (folder / "leak.txt").symlink_to(secret)
    return {
        "nested.html": "read_timeout_s",
        "bomb.pdf": "no text to extract",
        "nul.txt": "binary",
        "huge-line.txt": "max_text_chars",
        "leak-dir": "outside the folder",
        "leak.txt": "outside the folder",
    }


def test_a_hostile_batch_does_not_stop_the_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through Steward.ingest as configured (files read in the worker): every good file is
    added, every hostile one refused with its reason or stored clean, in bounded time, and the
    index serves afterwards."""
    monkeypatch.setattr(isolation, "GRACE_S", 0.5)  # keeps the test short; the limit is the same
    outside = tmp_path / "outside"
    outside.mkdir()
    expected = _hostile_folder(tmp_path / "docs", outside)
    steward = make_steward(tmp_path / "data", hash_encoder(), reader__read_timeout_s=1.0)
    assert steward.config.reader_settings().isolate
    try:
        started = time.monotonic()
        report = steward.ingest([str(tmp_path / "docs")])
        elapsed = time.monotonic() - started
        failed = {Path(err.source).name: err.reason for err in report.failed}
        for name, phrase in expected.items():
            assert name in failed, f"{name} was not refused: {report.summary()}"
            assert phrase in failed[name], f"{name}: {failed[name]}"
        unexpected = set(failed) - set(expected) - {"loop-a.txt", "loop-b.txt", "dangling.txt"}
        assert not unexpected, {n: failed[n] for n in unexpected}
        stored = {Path(d.source).name: d for d in steward.store.documents()}
        assert {"good-0.txt", "good-1.txt", "good-2.txt", "not-utf8.md", "bidi.html", "late-nul.txt",
                "long-line.txt"} <= set(stored)
        documents = [steward.store.document(d.doc_id) for d in stored.values()]
        check_documents([d for d in documents if d is not None])
        assert stored["bidi.html"].title == "Pay esiar now"
        assert "salaries" not in str([d.text for d in documents if d is not None])
        # One read_timeout_s stop (1 s + grace) and a new worker after it: well bounded.
        assert elapsed < 1.0 + isolation.GRACE_S + 25, f"{elapsed:.1f} s"
        assert steward.search("members wages", 3)
    finally:
        steward.close()


def test_symlink_loops_and_dangling_links_are_reported_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ok.txt").write_text("Members met.")
    (folder / "loop").symlink_to(folder)  # a link to the folder itself
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder)
    (folder / "self.txt").symlink_to(folder / "self.txt")
    sources, errors = expand_sources([str(folder)])
    assert [os.path.basename(s) for s in sources] == ["ok.txt"]
    assert all(err.reason for err in errors)
