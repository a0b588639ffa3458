"""A local union web site for the followed-sources tests and bench (``python -m bench.sync``).

One set of articles served four ways: the WordPress REST API (``/wp-json/wp/v2/posts``), an
RSS feed (``/feed.xml``), a sitemap (``/sitemap.xml``, named in ``/robots.txt``) and numbered
pages (``/voices/{n}/``, which is also each article's own page). Article pages answer
conditional GETs (ETag / Last-Modified → 304). Every request is logged, so a test counts what
a pass downloaded; ``routes`` replaces any path with a canned answer (hostile feeds, redirects).
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import json
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

_VOCABULARY = ("union contract wages overtime grievance steward members bargaining committee strike "
               "vote safety health shift seniority pension dues organizing workers meeting local "
               "solidarity rally petition schedule hours break leave holiday training equipment "
               "inspection report warehouse drivers nurses teachers agreement raise bonus")
WORDS = _VOCABULARY.split()


@dataclass
class Article:
    n: int
    title: str
    text: str
    modified: str  # ISO, as WordPress writes "modified"
    version: int = 1

    def etag(self) -> str:
        return '"' + hashlib.sha1(f"{self.n}:{self.version}:{self.text}".encode()).hexdigest()[:16] + '"'


def paragraphs(rng: random.Random, count: int) -> str:
    return "\n\n".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 90))).capitalize() + "."
        for _ in range(count))


@dataclass
class Site:
    articles: dict[int, Article] = field(default_factory=dict)
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    robots: str | None = None  # extra robots.txt rules (the Sitemap: line is always there)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, headers)
    base: str = ""
    wordpress_links: bool = True  # the home page names its WordPress API
    # A test's fake clock: each request's time on it is kept in ``stamps`` (pacing checks).
    clock: Callable[[], float] | None = None
    stamps: list[float] = field(default_factory=list)
    served: list[int] = field(default_factory=list)  # article pages sent with their body (200)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def generated(cls, count: int, seed: int = 7, paras: int = 3) -> Site:
        rng = random.Random(seed)
        site = cls()
        for n in range(1, count + 1):
            title = f"Bulletin {n}: " + " ".join(rng.choice(WORDS) for _ in range(4)).title()
            day = 1 + (n % 28)
            site.articles[n] = Article(n, title, paragraphs(rng, paras), f"2026-{1 + n % 11:02d}-{day:02d}T10:00:00")
        return site

    def change(self, n: int, text: str | None = None) -> None:
        with self.lock:
            a = self.articles[n]
            a.version += 1
            a.text = text or (a.text + f"\n\nUpdate {a.version}: the committee met again and agreed.")
            a.modified = f"2026-12-{a.version:02d}T12:00:00"

    def delete(self, n: int) -> None:
        with self.lock:
            del self.articles[n]

    def url(self, n: int) -> str:
        return f"{self.base}/voices/{n}/"

    def paths(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.log]

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()
            self.served.clear()



def _http_date(iso: str) -> str:
    import datetime as dt

    stamp = dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC)
    return email.utils.format_datetime(stamp, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, *args: object) -> None:
        pass

    @property
    def site(self) -> Site:
        return self.server.site  # type: ignore[attr-defined]

    def send(self, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        site = self.site
        parts = urlsplit(self.path)
        with site.lock:
            site.log.append((self.path, {k: v for k, v in self.headers.items()}))
            if site.clock is not None:
                site.stamps.append(site.clock())
            canned = site.routes.get(self.path) or site.routes.get(parts.path)
            articles = dict(site.articles)
        if canned is not None:
            status, headers, body = canned
            headers = dict(headers)
            ctype = headers.pop("Content-Type", "text/html; charset=utf-8")
            return self.send(status, body, ctype, headers)
        path = parts.path
        if path == "/":
            return self.send(200, self.home().encode())
        if path == "/robots.txt":
            rules = site.robots or ""
            return self.send(200, f"User-agent: *\n{rules}\nSitemap: {site.base}/sitemap.xml\n".encode(),
                             "text/plain")
        if path == "/sitemap.xml":
            return self.send(200, self.sitemap(articles).encode(), "application/xml")
        if path == "/feed.xml":
            body = self.feed(articles).encode()
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self.send(304, headers={"ETag": etag})
            return self.send(200, body, "application/rss+xml", headers={"ETag": etag})
        if path in ("/wp-json", "/wp-json/"):
            return self.send(200, json.dumps({"namespaces": ["oembed/1.0", "wp/v2"]}).encode(),
                             "application/json")
        if path == "/wp-json/wp/v2/posts":
            return self.posts(articles, parse_qs(parts.query))
        if path.startswith("/voices/"):
            try:
                n = int(path.strip("/").split("/")[1])
            except (IndexError, ValueError):
                return self.send(404, b"not found")
            return self.article(articles.get(n))
        return self.send(404, b"not found")

    def home(self) -> str:
        base = self.site.base
        api = f'<link rel="https://api.w.org/" href="{base}/wp-json/">' if self.site.wordpress_links else ""
        return (f"<html><head><title>Local 1</title>{api}"
                f'<link rel="alternate" type="application/rss+xml" href="{base}/feed.xml">'
                "</head><body><p>Welcome</p></body></html>")

    def article(self, a: Article | None) -> None:
        if a is None:
            return self.send(404, b"<html><body>Page not found</body></html>")
        etag, modified = a.etag(), _http_date(a.modified)
        if self.headers.get("If-None-Match") == etag or (
                not self.headers.get("If-None-Match") and self.headers.get("If-Modified-Since") == modified):
            return self.send(304, headers={"ETag": etag, "Last-Modified": modified})
        with self.site.lock:
            self.site.served.append(a.n)
        return self.send(200, self.page(a).encode(), headers={"ETag": etag, "Last-Modified": modified})

    def page(self, a: Article) -> str:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in a.text.split("\n\n"))
        return (f"<html><head><title>{html.escape(a.title)}</title></head><body><article>"
                f"<h1>{html.escape(a.title)}</h1>{body}</article></body></html>")

    def sitemap(self, articles: dict[int, Article]) -> str:
        urls = "".join(f"<url><loc>{self.site.url(n)}</loc><lastmod>{a.modified}+00:00</lastmod></url>"
                       for n, a in sorted(articles.items()))
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')

    def feed(self, articles: dict[int, Article]) -> str:
        items = "".join(
            f"<item><title>{html.escape(a.title)}</title><link>{self.site.url(n)}</link>"
            f"<pubDate>{_http_date(a.modified)}</pubDate><category>bulletin</category>"
            f"<description>Summary only.</description></item>"
            for n, a in sorted(articles.items(), reverse=True))
        return ('<?xml version="1.0"?><rss version="2.0"><channel><title>Local 1</title>'
                f"<link>{self.site.base}/</link>{items}</channel></rss>")

    def posts(self, articles: dict[int, Article], q: dict[str, list[str]]) -> None:
        per_page = int(q.get("per_page", ["10"])[0])
        page = int(q.get("page", ["1"])[0])
        chosen = sorted(articles.values(), key=lambda a: a.n)
        if "modified_after" in q:
            after = q["modified_after"][0]
            chosen = [a for a in chosen if a.modified > after]
        start = (page - 1) * per_page
        if page > 1 and start >= len(chosen):
            return self.send(400, json.dumps({"code": "rest_post_invalid_page_number"}).encode(),
                             "application/json")
        fields = q.get("_fields", [""])[0].split(",") if "_fields" in q else None
        out = []
        for a in chosen[start:start + per_page]:
            post = {"id": a.n, "link": self.site.url(a.n), "date": a.modified, "modified": a.modified,
                    "title": {"rendered": html.escape(a.title)},
                    "content": {"rendered": "".join(f"<p>{html.escape(p)}</p>" for p in a.text.split("\n\n"))},
                    "_embedded": {"author": [{"name": "Press Committee"}],
                                  "wp:term": [[{"taxonomy": "category", "name": "Bulletins"}],
                                              [{"taxonomy": "post_tag", "name": "contract"}]]}}
            out.append({k: v for k, v in post.items() if k in fields} if fields else post)
        return self.send(200, json.dumps(out).encode(), "application/json")


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    """Serve ``site`` on 127.0.0.1 (a free port) until the block ends; ``site.base`` is set."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.site = site  # type: ignore[attr-defined]
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def steward_for(tmp_path: Path, **overrides: object):
    """A Steward on ``tmp_path/data`` that may fetch from the local site at once: private
    addresses allowed, no pacing, no grace period, no reading subprocess, the hashing encoder."""
    from stewardtest import HashEncoder, make_steward

    settings = {"reader__allow_private_urls": True, "reader__isolate": False,
                "sync__rate_per_host": 0.0, "sync__grace_days": 0.0, **overrides}
    return make_steward(tmp_path / "data", HashEncoder(), **settings)
