"""URLs an admin (or someone who got hold of /admin add) might give Steward: the fetcher must
not become a way to probe the host's network, nor be held or flooded by a hostile server.

Already covered (tests/readers/test_fetch.py): other schemes, 127.0.0.1/localhost/::1/10.x/
169.254.169.254/::ffff:127.0.0.1, each redirect hop checked, size limits, a silent server,
redirect limits. Added here: other spellings of private addresses, a gzip bomb, a server
that trickles bytes, a redirect loop, a giant header, and the same refusals via the worker.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from stewardtest import http_server

from corpus.errors import ReadError
from corpus.load import load_source
from corpus.types import ReaderSettings

BOMB = gzip.compress(b"<p>" + b" " * (64 << 20) + b"</p>", compresslevel=9)  # 64 MB in ~64 KB
STOP = threading.Event()


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if self.path == "/bomb":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                self.wfile.write(BOMB)
            elif self.path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                while not STOP.is_set():  # one byte every 0.1 s: never silent long enough to time out
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(0.1)
            elif self.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
            elif self.path == "/giant-header":
                self.send_response(200)
                self.send_header("X-Junk", "a" * 100_000)
                self.end_headers()
            elif self.path == "/to-metadata":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with http_server(Hostile, release=STOP) as url:
        yield url


def refusal(url: str, settings: ReaderSettings, within_s: float = 10.0) -> str:
    started = time.monotonic()
    with pytest.raises(ReadError) as info:
        load_source(url, settings)
    assert time.monotonic() - started < within_s
    return info.value.reason


@pytest.mark.parametrize("host", [
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f000001", "0177.0.0.1", "127.1", "0.0.0.0", "0", "[::]", "[fd00::1]", "[fe80::1]",
    "100.64.0.1", "192.168.1.1", "172.16.0.1", "224.0.0.1", "[::ffff:10.0.0.1]",
    "example.com@127.0.0.1",  # a user-info part that looks like the host
])
@pytest.mark.parametrize("isolate", [False, True])
def test_private_address_spellings_are_refused(host: str, isolate: bool) -> None:
    reason = refusal(f"http://{host}:9/page.html", ReaderSettings(isolate=isolate))
    assert reason.startswith("refused:") or reason.startswith("could not find the host"), reason


def test_redirect_to_cloud_metadata_is_refused(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import corpus.fetch

    monkeypatch.setattr(corpus.fetch, "_is_public", lambda address: address == "127.0.0.1")
    reason = refusal(f"{server}/to-metadata", ReaderSettings(isolate=False))  # the patch is in-process
    assert reason.startswith("refused: 169.254.169.254 is a private or local address")


def test_gzip_bomb_stops_at_url_max_bytes(server: str) -> None:
    settings = ReaderSettings(allow_private_urls=True, url_max_bytes=2_000_000)
    assert refusal(f"{server}/bomb", settings).startswith("the download is larger than url_max_bytes")


def test_a_trickling_server_is_cut_off_at_url_timeout(server: str) -> None:
    settings = ReaderSettings(allow_private_urls=True, url_timeout_s=1.0)
    assert "took longer than url_timeout_s = 1 s" in refusal(f"{server}/trickle", settings, within_s=5)


def test_a_redirect_loop_ends(server: str) -> None:
    settings = ReaderSettings(allow_private_urls=True, url_max_redirects=5)
    assert refusal(f"{server}/loop", settings).startswith("too many redirects")


def test_a_giant_header_is_refused(server: str) -> None:
    settings = ReaderSettings(allow_private_urls=True)
    assert refusal(f"{server}/giant-header", settings).startswith("the server's answer was not valid HTTP")
