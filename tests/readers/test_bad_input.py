"""Bad input: every case is a ReadError whose reason says what is wrong and what to do."""

from __future__ import annotations

import io
import zipfile

import pytest
from pypdf import PdfReader, PdfWriter

from corpus.errors import ReadError, UnsupportedFormat
from corpus.load import load_source
from corpus.types import ReaderSettings


def read_error(path, settings=None, overrides=None) -> ReadError:
    with pytest.raises(ReadError) as info:
        load_source(str(path), settings or ReaderSettings(), overrides)
    return info.value


def test_missing_path(tmp_path):
    err = read_error(tmp_path / "nope.pdf")
    assert err.reason == "the path does not exist; check the spelling"
    assert str(err) == f"{tmp_path / 'nope.pdf'}: {err.reason}"


def test_folder_given_as_a_file(tmp_path):
    assert "is a folder, not a file" in read_error(tmp_path).reason


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx", "empty.html"])
def test_empty_file(write, name):
    assert read_error(write(name, b"")).reason == "file is empty"


def test_whitespace_or_chrome_only(write):
    err = read_error(write("chrome.txt", "\n\n  \nClose dashboard icon\n\t\n"))
    assert err.reason.startswith("no text found after cleaning")


def test_unknown_format(write):
    with pytest.raises(UnsupportedFormat) as info:
        load_source(str(write("sheet.xlsx", b"PK\x03\x04")), ReaderSettings())
    assert info.value.reason == ("skipped: unknown format .xlsx "
                                 "(Steward reads .txt .md .html .pdf .docx)")


@pytest.mark.parametrize("name", ["data.txt", "page.html", "notes.md"])
def test_binary_file_with_text_extension(write, name):
    err = read_error(write(name, bytes(range(256)) * 40))
    assert err.reason.startswith("looks like a binary file, not text")


def test_pdf_saved_as_txt_gets_a_hint(write, make_pdf):
    err = read_error(write("bulletin.txt", make_pdf([["Hello"]])))
    assert err.reason == ("looks like a binary file, not text "
                          "(it starts like a PDF: rename it to .pdf)")


def test_file_over_max_file_bytes(write):
    err = read_error(write("big.txt", "a" * 2048), ReaderSettings(max_file_bytes=1024))
    assert err.reason == ("the file is 2,048 bytes, over max_file_bytes = 1,024 bytes; split it, "
                          "or raise max_file_mb in config.toml [reader]")


def test_text_over_max_text_chars(write):
    err = read_error(write("long.txt", "word " * 100), ReaderSettings(max_text_chars=50))
    assert "over max_text_chars = 50 characters" in err.reason


# -- PDF -----------------------------------------------------------------------------------


def test_not_a_pdf(write):
    err = read_error(write("fake.pdf", b"<html>not a pdf</html>"))
    assert err.reason.startswith("not a PDF file (it does not start with %PDF-)")


def test_corrupt_pdf(write, make_pdf):
    data = make_pdf([["Some text."]])
    err = read_error(write("broken.pdf", data[: len(data) // 3]))
    assert err.reason.startswith("the PDF is damaged and could not be read")


def test_garbage_after_pdf_header(write):
    err = read_error(write("garbage.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 20))
    assert err.reason.startswith("the PDF is damaged")


def test_encrypted_pdf(write, make_pdf):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Secret minutes."]]))))
    writer.encrypt("hunter2", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    err = read_error(write("locked.pdf", out.getvalue()))
    assert err.reason == "PDF is encrypted; remove the password and try again"


def test_pdf_over_max_pdf_pages(write, make_pdf):
    err = read_error(write("long.pdf", make_pdf([["p"]] * 3)), ReaderSettings(max_pdf_pages=2))
    assert err.reason.startswith("the PDF has 3 pages, more than max_pdf_pages = 2")


def test_pdf_without_text(write, make_pdf):
    err = read_error(write("scan.pdf", make_pdf([[], []])))
    assert "no text to extract" in err.reason and "OCR" in err.reason


def test_slow_pdf_gives_up_at_read_timeout(write, make_pdf):
    err = read_error(write("slow.pdf", make_pdf([["p"]])), ReaderSettings(read_timeout_s=0))
    assert "read_timeout_s" in err.reason


# -- DOCX ----------------------------------------------------------------------------------


def _zip_with(base: bytes, extra: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w",
                                                                  zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        for name, data in extra.items():
            dst.writestr(name, data)
    return out.getvalue()


def test_docx_decompression_bomb(write, make_docx):
    bomb = _zip_with(make_docx(["hi"]), {"word/media/zeros.bin": bytes(8 * 1024 * 1024)})
    assert len(bomb) < 100_000  # small on disk, 8 MB unpacked
    err = read_error(write("bomb.docx", bomb), ReaderSettings(max_docx_unzipped_bytes=4 << 20))
    assert "max_docx_unzipped_bytes" in err.reason and "decompression bomb" in err.reason


def test_docx_with_too_many_entries(write, make_docx):
    many = _zip_with(make_docx(["hi"]), {f"extra/item{i}.xml": b"<a/>" for i in range(60)})
    err = read_error(write("many.docx", many), ReaderSettings(max_docx_entries=50))
    assert "max_docx_entries = 50" in err.reason


def test_docx_not_a_zip(write):
    err = read_error(write("old.docx", b"\xd0\xcf\x11\xe0" + b"\x00" * 600))
    assert err.reason.startswith("not a valid DOCX file") and "save it as .docx" in err.reason


def test_zip_that_is_not_a_word_document(write):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "no word/document.xml" in read_error(write("x.docx", out.getvalue())).reason


def test_damaged_docx_xml_is_wrapped(write, make_docx):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx(["hi"]))) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, b"<w:document><broken" if item.filename == "word/document.xml"
                         else data)
    assert read_error(write("bad.docx", out.getvalue())).reason.startswith("the DOCX is damaged")


# -- HTML and Markdown ---------------------------------------------------------------------


def test_html_without_text(write):
    page = "<html><head><title>Only a title</title><script>app()</script></head>" \
           "<body><nav>Menu</nav><div id='app'></div></body></html>"
    err = read_error(write("spa.html", page))
    assert err.reason.startswith("the HTML page has no readable text after removing site chrome")


def test_deeply_nested_html_does_not_crash(write):
    depth = 3000  # far past Python's recursion limit
    page = "<html><body>" + "<div>" * depth + "deep text" + "</div>" * depth + "<p>end</p>"
    (doc,) = load_source(str(write("deep.html", page)), ReaderSettings())
    assert doc.text == "deep text\n\nend"


def test_invalid_chrome_selector(write):
    err = read_error(write("p.html", "<p>x</p>"), ReaderSettings(chrome_selectors=["p[["]))
    assert "chrome_selectors entry 'p[[' is not a valid CSS selector" in err.reason


def test_markdown_front_matter_errors(write):
    assert "not valid YAML" in read_error(write("a.md", "---\ntitle: [oops\n---\nText")).reason
    assert "no closing '---'" in read_error(write("b.md", "---\ntitle: x\nText")).reason
    assert "'key: value' lines" in read_error(write("c.md", "---\n- a\n- b\n---\nText")).reason
