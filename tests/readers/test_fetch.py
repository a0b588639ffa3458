"""Reading from URLs against a real HTTP server on 127.0.0.1 (allow_private_urls=True)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from stewardtest import http_server

import corpus.fetch
from corpus.errors import ReadError, UnsupportedFormat
from corpus.load import load_source
from corpus.types import ReaderSettings

PAGE = (b"<html><head><title>Union Page</title><link rel='canonical' href='/canonical/page'>"
        b"<meta name='date' content='2024-05-01'></head>"
        b"<body><nav>Menu</nav><main><h1>Union Page</h1><p>We won.</p></main></body></html>")
RELEASE = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        if path == "/page.html" or path.startswith("/canonical"):
            self.send(200, PAGE, "text/html; charset=utf-8", Content_Length=str(len(PAGE)))
        elif path == "/minutes":
            self.send(200, self.server.pdf, "application/pdf")  # type: ignore[attr-defined]
        elif path == "/old.txt":
            self.send(200, "Café “quote”".encode("cp1252"), "text/plain; charset=windows-1252")
        elif path == "/notes.md":
            self.send(200, b"---\ntitle: Notes\n---\nBody.", "text/plain")
        elif path == "/download/flyer.docx":
            self.send(200, b"not really", "application/octet-stream")
        elif path == "/gzip":
            self.send(200, gzip.compress(PAGE), "text/html", Content_Encoding="gzip")
        elif path == "/image.png":
            self.send(200, b"\x89PNG....", "image/png")
        elif path == "/big-declared":
            self.send(200, b"x" * 10, "text/plain", Content_Length="99999999")
        elif path == "/big-streamed":
            self.send(200, b"word " * 400_000, "text/plain")  # 2 MB, no Content-Length
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            target = "/page.html" if left == 0 else f"/hop/{left - 1}"
            self.send(302, b"", "text/plain", Location=target)
        elif path == "/to-ftp":
            self.send(301, b"", "text/plain", Location="ftp://example.org/file.txt")
        elif path == "/to-other-host":
            port = self.server.server_address[1]
            self.send(302, b"", "text/plain", Location=f"http://127.0.0.2:{port}/page.html")
        elif path == "/slow":
            RELEASE.wait(5)
            self.send(200, b"late", "text/plain")
        else:
            self.send(404, b"not here", "text/plain")


@pytest.fixture(scope="module")
def base(make_pdf) -> Iterator[str]:
    with http_server(Handler, release=RELEASE, pdf=make_pdf([["Minutes page one."], ["Page two."]])) as url:
        yield url


@pytest.fixture
def local() -> ReaderSettings:
    return ReaderSettings(allow_private_urls=True, url_timeout_s=5)


def fail(url: str, settings: ReaderSettings) -> ReadError:
    with pytest.raises(ReadError) as info:
        load_source(url, settings)
    return info.value


def test_html_page(base, local):
    (doc,) = load_source(f"{base}/page.html", local)
    assert doc.text == "Union Page\n\nWe won."
    assert doc.title == "Union Page"
    assert doc.date == dt.date(2024, 5, 1)
    assert doc.url == f"{base}/canonical/page"  # relative canonical resolved
    assert doc.source == f"{base}/page.html"
    assert doc.doc_id.startswith("page-")
    assert doc.format == "html"


def test_format_from_content_type_and_suffix(base, local):
    (pdf,) = load_source(f"{base}/minutes", local)
    assert pdf.format == "pdf" and len(pdf.pages) == 2 and pdf.url == f"{base}/minutes"
    (txt,) = load_source(f"{base}/old.txt", local)
    assert txt.text == "Café “quote”"
    (md,) = load_source(f"{base}/notes.md", local)
    assert (md.format, md.title, md.text) == ("markdown", "Notes", "Body.")
    # application/octet-stream: the URL's suffix decides, and the DOCX reader refuses junk.
    assert "not a valid DOCX" in fail(f"{base}/download/flyer.docx", local).reason


def test_gzip_response(base, local):
    assert load_source(f"{base}/gzip", local)[0].text == "Union Page\n\nWe won."


def test_unsupported_content_type(base, local):
    with pytest.raises(UnsupportedFormat, match="the server sent image/png"):
        load_source(f"{base}/image.png", local)


def test_redirects_followed_up_to_the_limit(base, local):
    local.url_max_redirects = 3
    (doc,) = load_source(f"{base}/hop/2", local)  # /hop/N redirects N + 1 times
    assert doc.title == "Union Page"
    err = fail(f"{base}/hop/3", local)
    assert err.reason.startswith("too many redirects (more than url_max_redirects = 3)")
    assert err.source == f"{base}/hop/3"


def test_redirect_to_other_scheme_refused(base, local):
    assert "only http:// and https://" in fail(f"{base}/to-ftp", local).reason


def test_each_redirect_hop_is_checked(base, monkeypatch):
    # Pretend 127.0.0.1 is public and 127.0.0.2 private: the redirect must be refused.
    monkeypatch.setattr(corpus.fetch, "_is_public", lambda address: address == "127.0.0.1")
    err = fail(f"{base}/to-other-host", ReaderSettings(url_timeout_s=5, isolate=False))  # the patch is in-process
    assert err.reason.startswith("refused: 127.0.0.2 is a private or local address")


def test_size_limits(base, local):
    local.url_max_bytes = 1_000_000
    for path in ("/big-declared", "/big-streamed"):
        err = fail(f"{base}{path}", local)
        assert err.reason.startswith("the download is larger than url_max_bytes = 1,000,000")


def test_http_error(base, local):
    err = fail(f"{base}/missing", local)
    assert err.reason == ("the server answered 404 Not Found; check that the link opens in a "
                          "browser")


def test_timeout(base, local):
    local.url_timeout_s = 0.3
    err = fail(f"{base}/slow", local)
    assert "url_timeout_s = 0.3 s" in err.reason


def test_unreachable_port(local):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    err = fail(f"http://127.0.0.1:{port}/x.html", local)
    assert err.reason.startswith(f"could not connect to 127.0.0.1:{port}")


def test_unknown_host(local):
    err = fail("http://no-such-host.invalid/page.html", local)
    assert err.reason.startswith("could not find the host 'no-such-host.invalid'")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "169.254.169.254",
                                  "[::ffff:127.0.0.1]"])
def test_private_addresses_refused_by_default(host):
    err = fail(f"http://{host}:1/page.html", ReaderSettings())
    assert err.reason.startswith("refused:") and "allow_private_urls = true" in err.reason


@pytest.mark.parametrize("url", ["ftp://example.org/a.txt", "file:///etc/passwd"])
def test_other_schemes_refused(url):
    err = fail(url, ReaderSettings(allow_private_urls=True))
    assert err.reason.startswith("refused: only http:// and https:// links can be read")
