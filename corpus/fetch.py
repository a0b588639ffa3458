"""Fetching a bulletin from an http(s) URL, carefully.

Synchronous (callers run it in a thread). Guards, each from ``ReaderSettings``:

* only ``http`` and ``https``;
* every host is resolved once and each of its addresses checked: private, loopback,
  link-local, multicast and reserved addresses are refused unless ``allow_private_urls``
  (the bot must not be a way into the organizers' own network). The connection then goes
  to the checked address, so the name cannot be re-resolved elsewhere in between;
* redirects are followed by hand, at most ``url_max_redirects``, each hop checked again;
* ``url_timeout_s`` bounds each network wait and the whole download;
* the body is streamed and abandoned past ``url_max_bytes``.

Followed sources (``corpus.sources``) pass extra ``headers`` (their User-Agent, and
``If-None-Match``/``If-Modified-Since`` for conditional GET) and ``raw=True``: any final status
comes back in ``Fetched.status`` (304 "unchanged", 404 "gone") and feeds, sitemaps and JSON are
returned whatever their type.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from corpus.errors import ReadError, UnsupportedFormat
from corpus.readers import FORMAT_BY_SUFFIX, SUPPORTED
from corpus.types import ReaderSettings

USER_AGENT = "Steward/0.1 (bulletin reader)"
_CHUNK = 64 * 1024
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_FORMAT_BY_TYPE = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
_GENERIC_TYPES = frozenset(("", "application/octet-stream", "binary/octet-stream",
                            "application/download", "application/force-download"))


@dataclass(frozen=True)
class Fetched:
    """A downloaded document: the final URL (after redirects), its bytes and its format."""

    url: str
    data: bytes
    format: str
    content_type: str = ""
    charset: str | None = None
    status: int = 200  # with raw=True: 304 (not modified), 404, 410... come back, not raised
    etag: str | None = None
    last_modified: str | None = None


def _fail(url: str, reason: str) -> ReadError:
    return ReadError(url, reason)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(url: str, host: str, port: int, settings: ReaderSettings) -> list[str]:
    """The addresses of ``host``; ReadError if it cannot be resolved or any is private."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise _fail(url, f"could not find the host {host!r} ({err}); check the address "
                         "and your internet connection") from err
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not settings.allow_private_urls:
        for address in addresses:
            if not _is_public(address):
                raise _fail(url, f"refused: {host} is a private or local address ({address}); "
                                 "Steward only fetches public web pages unless "
                                 "allow_private_urls = true in config.toml [reader]")
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand, whatever the host name says."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is still verified for the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _connect(
    url: str, settings: ReaderSettings, remaining: float, headers: Mapping[str, str] | None = None
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send the GET for ``url`` and return the connection with its response headers read."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _fail(url, f"refused: only http:// and https:// links can be read, not {scheme}://")
    host = parts.hostname
    if not host:
        raise _fail(url, "the link has no host name; check it")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as err:
        raise _fail(url, "the link has an invalid port number; check it") from err
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    last_error: Exception | None = None
    for address in resolve(url, host, port, settings):
        cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        conn = cls(host, port, address, timeout=remaining)
        try:
            conn.request("GET", path, headers={
                "User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", "Accept": "*/*",
                **(headers or {}),
            })
            return conn, conn.getresponse()
        except TimeoutError as err:
            conn.close()
            raise _fail(url, f"no answer within url_timeout_s = {settings.url_timeout_s:g} s; "
                             "try again later, or raise url_timeout_s in config.toml") from err
        except ssl.SSLError as err:
            conn.close()
            raise _fail(url, f"secure connection failed ({err.reason or err}); the site's "
                             "certificate may be invalid") from err
        except http.client.HTTPException as err:
            conn.close()
            raise _fail(url, f"the server's answer was not valid HTTP ({err!r}); check the "
                             "link in a browser") from err
        except OSError as err:  # refused, unreachable: try the host's next address
            conn.close()
            last_error = err
    reason = getattr(last_error, "strerror", None) or str(last_error)
    raise _fail(url, f"could not connect to {host}:{port} ({reason}); check the address, "
                     "or try again later")


def _read_body(url: str, response: http.client.HTTPResponse, settings: ReaderSettings,
               deadline: float) -> bytes:
    limit = settings.url_max_bytes
    too_big = (f"the download is larger than url_max_bytes = {limit:,} bytes; download "
               "the file yourself, or raise url_max_mb in config.toml [reader]")
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > limit:
        raise _fail(url, too_big)
    encoding = (response.getheader("Content-Encoding") or "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise _fail(url, f"the server sent the page compressed as {encoding!r}, which "
                         "Steward cannot unpack")
    # gzip/deflate are unpacked as they arrive, bounded like the body itself.
    inflater = zlib.decompressobj(47) if encoding not in ("", "identity") else None
    body = bytearray()
    while True:
        if time.monotonic() > deadline:
            raise _fail(url, f"the download took longer than url_timeout_s = "
                             f"{settings.url_timeout_s:g} s; try again later")
        try:
            chunk = response.read1(_CHUNK)
        except TimeoutError as err:
            raise _fail(url, f"the server stopped answering (url_timeout_s = "
                             f"{settings.url_timeout_s:g} s); try again later") from err
        except (http.client.HTTPException, OSError) as err:
            raise _fail(url, f"the download was cut off ({err}); try again") from err
        if not chunk:
            break
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, limit + 1 - len(body))
            except zlib.error as err:
                raise _fail(url, f"the server sent damaged compressed data ({err})") from err
        body += chunk
        if len(body) > limit:
            raise _fail(url, too_big)
    return bytes(body)


def _format(url: str, content_type: str) -> str:
    """The reader for a response: its Content-Type, else the URL's file suffix."""
    suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix.lower()
    by_suffix = FORMAT_BY_SUFFIX.get(suffix)
    by_type = _FORMAT_BY_TYPE.get(content_type)
    if by_type == "text" and by_suffix == "markdown":
        return "markdown"  # servers commonly send .md files as text/plain
    if by_type:
        return by_type
    if content_type in _GENERIC_TYPES and by_suffix:
        return by_suffix
    raise UnsupportedFormat(url, f"skipped: the server sent {content_type or 'no content type'}"
                                 f", a format Steward does not read (Steward reads {SUPPORTED})")


def fetch_url(url: str, settings: ReaderSettings, headers: Mapping[str, str] | None = None,
              raw: bool = False) -> Fetched:
    """Download ``url`` within the limits of ``settings``; ReadError saying what went wrong.

    ``headers`` are sent on every hop. ``raw``: a final status other than 200 is returned
    (without its body) rather than raised, and the body's format is not checked."""
    deadline = time.monotonic() + settings.url_timeout_s
    current = url
    for _hop in range(settings.url_max_redirects + 1):
        remaining = max(0.01, deadline - time.monotonic())
        conn, response = _connect(current, settings, remaining, headers)
        try:
            status = response.status
            validators = {"etag": response.getheader("ETag"),
                          "last_modified": response.getheader("Last-Modified")}
            if status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise _fail(url, f"the server answered {status} (redirect) without a "
                                     "Location; check the link")
                current = urljoin(current, location.strip())
                continue
            if raw and status != 200:
                return Fetched(url=current, data=b"", format="", status=status, **validators)
            if status >= 400:
                raise _fail(url, f"the server answered {status} {response.reason}; "
                                 "check that the link opens in a browser")
            if status != 200:
                raise _fail(url, f"the server answered {status} {response.reason}, "
                                 "not a document")
            content_type, _, params = (response.getheader("Content-Type") or "").partition(";")
            kind = content_type.strip().lower()
            fmt = _FORMAT_BY_TYPE.get(kind, "") if raw else _format(current, kind)
            data = _read_body(url, response, settings, deadline)
        finally:
            response.close()
            conn.close()
        return Fetched(url=current, data=data, format=fmt, content_type=content_type.strip(),
                       charset=_charset(params), **validators)
    raise _fail(url, f"too many redirects (more than url_max_redirects = "
                     f"{settings.url_max_redirects}); check the link in a browser")


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None
