"""``steward follow URL``, ``steward unfollow SOURCE``, ``steward follows`` and ``steward sync``:
sites, feeds, sitemaps, numbered pages and folders that Steward keeps up to date by itself.

``steward sync --due`` is what cron or deploy/steward-sync.timer runs: each source whose
interval has passed gets one pass. Exit status 1 when any source failed (its line says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from bot.app import Steward
from bot.sync import FollowedSource
from corpus.sources.model import KINDS


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("follow", help="keep a site, feed, sitemap, numbered pages or a folder synced")
    p.add_argument("url", metavar="URL", help="the site, feed or sitemap address, a URL with {n} "
                                              "(numbered pages; {n=124} starts at 124), or a folder")
    p.add_argument("--kind", choices=("auto", *KINDS), default="auto",
                   help="what URL is (default: detected from the URL and what it answers)")
    p.add_argument("--every", metavar="INTERVAL",
                   help="how often to sync it, e.g. 30m, 6h, 1d (default: [sync] every)")
    p.add_argument("--publication", metavar="P", help="publication name for its documents")
    p.add_argument("--tags", metavar="a,b", default="", help="comma-separated tags for its documents")
    p.add_argument("--lang", "--language", dest="language", metavar="CODE",
                   help="the documents' language (default: detected per document)")
    p.add_argument("--match", metavar="PATTERN",
                   help="sitemaps: only URLs with this path prefix (/voices/), URL prefix or wildcard")
    p.add_argument("--keep-removed", action="store_true",
                   help="keep documents whose page disappeared upstream (default: removed after [sync] grace_days)")
    p.set_defaults(func=cmd_follow)

    p = sub.add_parser("unfollow", help="stop syncing a followed source")
    p.add_argument("source", metavar="SOURCE", help="its id or URL (see `steward follows`)")
    p.add_argument("--remove-documents", action="store_true",
                   help="also remove the documents it brought (default: they stay)")
    p.set_defaults(func=cmd_unfollow)

    p = sub.add_parser("follows", help="list followed sources: kind, last check and change, documents, errors")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=cmd_follows)

    p = sub.add_parser("sync", help="one pass over followed sources now (what a timer or cron runs)")
    p.add_argument("source", metavar="SOURCE", nargs="?", help="only this source (id or URL)")
    p.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
    p.add_argument("--due", action="store_true", help="only sources whose interval has passed")
    p.set_defaults(func=cmd_sync)


def _describe(source: FollowedSource) -> str:
    extra = [f"every {source.every}"]
    if source.publication:
        extra.append(f"publication {source.publication!r}")
    if source.tags:
        extra.append("tags " + ",".join(source.tags))
    if source.language:
        extra.append(f"language {source.language}")
    if source.match:
        extra.append(f"match {source.match}")
    if source.keep_removed:
        extra.append("keeps removed items")
    return f"#{source.id} {source.url} ({source.kind}; {', '.join(extra)})"


def cmd_follow(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    source = steward.sync.follow(
        args.url, kind=args.kind, every=args.every, publication=args.publication,
        tags=args.tags.split(","), language=args.language, match=args.match,
        keep_removed=args.keep_removed)
    print(f"following {_describe(source)}", file=out)
    print(f"its first pass runs with the next `steward sync` (now: `steward sync {source.id}`)", file=out)
    return 0


def cmd_unfollow(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    before = steward.sync.get(args.source)
    source = steward.sync.unfollow(args.source, remove_documents=args.remove_documents)
    if args.remove_documents:
        print(f"unfollowed #{source.id} {source.url}; its documents were removed", file=out)
    else:
        kept = before.documents if before else source.documents
        print(f"unfollowed #{source.id} {source.url}; its {kept} documents stay "
              "(`steward unfollow --remove-documents` removes them)", file=out)
    return 0


def cmd_follows(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    sources = steward.sync.sources()
    if args.json:
        print(json.dumps([s.as_json() for s in sources], ensure_ascii=False, indent=2), file=out)
        return 0
    if not sources:
        print("no followed sources; `steward follow URL` adds one", file=out)
        return 0
    for s in sources:
        print(_describe(s), file=out)
        print(f"    documents: {s.documents}; last check: {s.last_check or 'never'}; last change: "
              f"{s.last_change or 'never'}; next due: {s.next_due or 'now'}", file=out)
        if s.last_error:
            print(f"    last error: {s.last_error}", file=out)
    return 0


def cmd_sync(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    outcomes = steward.sync.run(args.source, dry_run=args.dry_run, due_only=args.due,
                                on_progress=progress)
    if not outcomes:
        print("no sources are due" if args.due else "no followed sources; `steward follow URL` adds one",
              file=out)
        return 0
    for outcome in outcomes:
        print(outcome.summary(), file=out)
        for note in outcome.notes:
            print(f"    {note}", file=out)
    failed = [o for o in outcomes if o.error]
    if args.dry_run:
        print("dry run: nothing was changed", file=out)
    if failed:
        print(f"steward: {len(failed)} of {len(outcomes)} sources failed (their lines say why); "
              "the others were synced", file=sys.stderr)
        return 1
    return 0
