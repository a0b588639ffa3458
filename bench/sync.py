"""Followed-sources benchmark: ``python -m bench.sync [--articles 500] [--encoder model|hash]``.

Serves a local union site of generated articles (tests/sync_site.py) four ways — WordPress
REST API, an RSS feed, a sitemap and numbered pages — and, for each kind, in a fresh data
folder with the shipped config (the real model unless ``--encoder hash``):

1. the first full sync: time, documents, passages and passages/s (read, store and embed);
2. a re-sync with nothing changed: requests made, article bodies downloaded, documents
   re-embedded (target 0 and 0);
3. a re-sync after 5 articles changed and 2 deleted (grace 0): what was acted on (target:
   exactly those 7).

The local site needs ``allow_private_urls`` and no pacing (``rate_per_host = 0``: at the
default 1 request/s, 500 articles take 500 s by design). Numbered pages re-check every known
page here (``recheck`` = the article count) so that edits anywhere are seen in one pass; the
default re-checks 20 recent and 20 older pages a pass. Prints a table; writes JSON under
bench/results/.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from stewardtest import CONFIG, HashEncoder, make_steward  # noqa: E402
from sync_site import Site, serve  # noqa: E402

from bench.machine import cpu_model  # noqa: E402

KINDS = ("wordpress", "feed", "sitemap", "pattern")


def follow_url(site: Site, kind: str) -> str:
    return {"wordpress": site.base + "/", "feed": site.base + "/feed.xml",
            "sitemap": site.base + "/sitemap.xml", "pattern": site.base + "/voices/{n}/"}[kind]


def one_kind(kind: str, articles: int, encoder: str, seed: int) -> dict[str, object]:
    with serve(Site.generated(articles, seed=seed)) as site, tempfile.TemporaryDirectory() as tmp:
        steward = make_steward(Path(tmp) / "data", HashEncoder() if encoder == "hash" else None,
                               reader__allow_private_urls=True, sync__rate_per_host=0.0,
                               sync__grace_days=0.0, sync__recheck=articles,
                               sync__max_items_per_pass=max(1000, articles * 2))
        try:
            steward.sync.follow(follow_url(site, kind), kind=kind)
            started = time.perf_counter()
            [first] = steward.sync.run()
            first_s = time.perf_counter() - started
            documents, passages = steward.store.counts()

            site.reset_log()
            started = time.perf_counter()
            [idle] = steward.sync.run()
            idle_s = time.perf_counter() - started
            idle_bodies = len(site.served)

            rng = random.Random(seed)
            picked = rng.sample(sorted(site.articles), 7)
            changed, deleted = picked[:5], picked[5:]
            for n in changed:
                site.change(n)
            for n in deleted:
                site.delete(n)
            by_url = {steward.document_info(d).url: d for d in first.added}
            expect_changed = sorted(by_url[site.url(n)] for n in changed)
            expect_removed = sorted(by_url[site.url(n)] for n in deleted)
            site.reset_log()
            started = time.perf_counter()
            [edit] = steward.sync.run()
            edit_s = time.perf_counter() - started
        finally:
            steward.close()
    exact = (sorted(edit.changed) == expect_changed and sorted(edit.removed) == expect_removed
             and not edit.added)
    return {
        "kind": kind,
        "first": {"seconds": round(first_s, 2), "documents": documents, "passages": passages,
                  "passages_per_s": round(passages / first_s, 1), "requests": first.requests,
                  "error": first.error},
        "unchanged": {"seconds": round(idle_s, 2), "requests": idle.requests,
                      "bodies_downloaded": idle_bodies, "re_embedded_documents":
                      len(idle.added) + len(idle.changed), "passages_encoded": idle.encoded,
                      "error": idle.error},
        "five_changed_two_deleted": {
            "seconds": round(edit_s, 2), "requests": edit.requests, "bodies_downloaded": len(site.served),
            "changed": len(edit.changed), "removed": len(edit.removed), "added": len(edit.added),
            "passages_encoded": edit.encoded, "exactly_those_7": exact, "error": edit.error},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, of " + ", ".join(KINDS))
    parser.add_argument("--encoder", choices=("model", "hash"), default="model",
                        help="model: the configured model (real embedding cost); hash: no model (mechanics only)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    rows = []
    for kind in args.kinds.split(","):
        print(f"{kind}: syncing {args.articles} articles...", file=sys.stderr, flush=True)
        rows.append(one_kind(kind.strip(), args.articles, args.encoder, args.seed))
    header = (f"{'kind':<10} {'first s':>8} {'docs':>5} {'passages':>8} {'pass/s':>7} | "
              f"{'idle req':>8} {'bodies':>6} {'re-emb':>6} | {'edit req':>8} {'bodies':>6} "
              f"{'chg':>4} {'rm':>3} {'add':>4} {'exact':>5}")
    print(header)
    print("-" * len(header))
    for r in rows:
        f, u, e = r["first"], r["unchanged"], r["five_changed_two_deleted"]
        print(f"{r['kind']:<10} {f['seconds']:>8.1f} {f['documents']:>5} {f['passages']:>8} "
              f"{f['passages_per_s']:>7.1f} | {u['requests']:>8} {u['bodies_downloaded']:>6} "
              f"{u['re_embedded_documents']:>6} | {e['requests']:>8} {e['bodies_downloaded']:>6} "
              f"{e['changed']:>4} {e['removed']:>3} {e['added']:>4} {e['exactly_those_7']!s:>5}")
    result = {"bench": "sync", "articles": args.articles, "encoder": args.encoder,
              "config": str(CONFIG.relative_to(REPO)), "machine": cpu_model(),
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kinds": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"sync-{args.encoder}-{args.articles}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {path}")
    ok = all(r["five_changed_two_deleted"]["exactly_those_7"] and r["unchanged"]["re_embedded_documents"] == 0
             for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
