"""The ``steward`` command line: ingest, ask, search, chat, and run the bot.

Every command answers questions without Discord; only ``steward bot`` (and ``steward run``
with DISCORD_TOKEN set) imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import pkgutil
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

from bot import i18n, render
from bot.app import FilterError, Steward, parse_date, parse_filters, parse_language
from bot.backup import steward_version
from bot.config import Config, ConfigError, discord_token, load_config
from bot.logs import setup_logging
from bot.translations import translations_json, versions_line
from corpus.errors import CorpusError
from corpus.store import Filters
from embeddings.errors import EncoderError, IndexError_

log = logging.getLogger("steward")

# What a shell reports for a program stopped by a closed pipe (128 + SIGPIPE), as for
# `yes | head`: the reader went away, which is not an error of Steward's.
EXIT_PIPE_CLOSED = 141

DEMO_QUESTIONS = (
    "How much did US union membership grow after 1935?",
    "What is a welga ng bayan?",
    "What is a good recipe for pizza dough?",
    # Answered from an English bulletin, framed in Spanish (the quote stays as written).
    "¿Cuánto creció la afiliación sindical en Estados Unidos después de 1935?",
)



def command_modules() -> list[str]:
    """The modules ``bot/cli_*.py`` that add their own subcommands: each has
    ``add_commands(sub)`` and sets ``func`` (called with the Steward, the arguments and the
    output) or, for commands that must run without a working store or config (``doctor``,
    ``restore``), ``raw_func`` (called with the arguments and the output only)."""
    import bot

    return sorted(f"bot.{m.name}" for m in pkgutil.iter_modules(bot.__path__)
                  if m.name.startswith("cli_"))


class UsageError(Exception):
    """A command-line argument is wrong."""


def _add_filters(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("filters")
    g.add_argument("--since", metavar="YYYY-MM-DD", help="only documents dated on or after")
    g.add_argument("--until", metavar="YYYY-MM-DD", help="only documents dated on or before")
    g.add_argument("--publication", help="only this publication (e.g. Bulletin)")
    g.add_argument("--author", help="only this author")
    g.add_argument("--tag", help="only documents with this tag")
    g.add_argument("--doc", metavar="DOC_ID", help="only this document")
    # --language, not --lang: --lang is kept for the language Steward replies in.
    g.add_argument("--language", metavar="CODE",
                   help="only passages in this language (ISO 639-1 code, e.g. en, es)")


def _option_error(err: FilterError) -> UsageError:
    """The service's FilterError in the command line's words (``--since: ...``)."""
    return UsageError(f"--{err.option}: {err.problem}")


def _add_lang(parser: argparse.ArgumentParser, default: object = argparse.SUPPRESS) -> None:
    """``--lang``: the language Steward replies in (not --language, the passage filter).
    Accepted before or after the command; the command's own copy leaves it unset unless
    given, so ``steward --lang es ask ...`` and ``steward ask ... --lang es`` both work."""
    parser.add_argument("--lang", choices=i18n.LANGUAGES, default=default,
                        help="the language Steward replies in (default: from LC_ALL/LANG, else en)")


def _reply_lang(args: argparse.Namespace) -> str:
    """--lang, else the shell's language (LC_ALL, LC_MESSAGES, LANG) when Steward speaks it,
    else English."""
    return getattr(args, "lang", None) or i18n.from_environment()


def _filters(args: argparse.Namespace) -> Filters:
    try:
        return parse_filters(since=args.since, until=args.until, publication=args.publication,
                             author=args.author, tag=args.tag, doc_id=args.doc,
                             language=args.language)
    except FilterError as err:
        raise _option_error(err) from err


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steward",
        description="Answer organizers' questions by quoting your union's own bulletins.",
    )
    parser.add_argument("--config", metavar="PATH", help="settings file (default: ./config.toml or $STEWARD_CONFIG)")
    parser.add_argument("--data-dir", metavar="DIR", help="where the store and index live ($STEWARD_DATA_DIR)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument("--version", action="version", version=f"steward {steward_version()}")
    _add_lang(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="the demo on the shipped bulletins, or the bot when DISCORD_TOKEN is set")
    _add_lang(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ingest", help="read documents (files, folders, URLs) into the store and index")
    p.add_argument("paths", nargs="+", metavar="PATH|URL")
    for name in ("title", "author", "date", "publication", "url", "id"):
        p.add_argument(f"--{name}", help=f"set the document's {name}" + (" (YYYY-MM-DD)" if name == "date" else ""))
    p.add_argument("--tags", help="comma-separated tags")
    p.add_argument("--language", metavar="CODE",
                   help="set the document's language (ISO 639-1 code, e.g. es); detected when not given")
    p.add_argument("--split", choices=["h2"], help="split an HTML issue into one document per <h2> article")
    p.add_argument("--translation-of", metavar="DOC_ID|URL",
                   help="the document this one translates (its doc id or URL): one bulletin in two languages")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sources", help="list the documents Steward knows")
    p.add_argument("--json", action="store_true")
    _add_filters(p)
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("remove", help="remove a document (by the doc_id `sources` shows)")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("ask", help="answer a question with quotes and citations")
    _add_lang(p)
    p.add_argument("question", nargs="?")
    p.add_argument("--batch", metavar="FILE", help="one question per line ('-' for stdin); JSON lines out")
    p.add_argument("--json", action="store_true")
    _add_filters(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("search", help="list the passages matching a query")
    _add_lang(p)
    p.add_argument("query", nargs="?")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--batch", metavar="FILE", help="one query per line ('-' for stdin); JSON lines out")
    p.add_argument("--json", action="store_true")
    _add_filters(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("chat", help="ask questions interactively (more, source N, quit)")
    _add_lang(p)
    _add_filters(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("reindex", help="re-chunk and re-embed everything (e.g. after a model change)")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("stats", help="documents, passages, model, index generation, disk use")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("forget", help="erase every logged question (query logging)")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("bot", help="run the Discord bot (needs DISCORD_TOKEN)")
    p.add_argument("--sync", nargs="?", const="global", metavar="GUILD_ID",
                   help="sync slash commands (to one guild for testing, or globally), then run")
    p.set_defaults(func=cmd_bot)

    for module in command_modules():
        importlib.import_module(module).add_commands(sub)
    return parser


# -- commands ------------------------------------------------------------------------------


def cmd_ingest(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    overrides: dict[str, object] = {}
    for name in ("title", "author", "publication", "url", "id", "split", "translation_of"):
        if getattr(args, name):
            overrides[name] = getattr(args, name)
    if args.date:
        try:
            overrides["date"] = parse_date(args.date, "date")
        except FilterError as err:
            raise _option_error(err) from err
    if args.tags:
        overrides["tags"] = [t.strip() for t in args.tags.split(",") if t.strip()]
    if args.language:
        try:
            overrides["language"] = parse_language(args.language, "language")
        except FilterError as err:
            raise _option_error(err) from err
    report = steward.ingest(args.paths, overrides or None, progress=not args.quiet)
    for err in report.skipped:
        print(f"skipped {err}", file=sys.stderr)
    for err in report.failed:
        print(f"failed  {err}", file=sys.stderr)
    print(report.summary(), file=out)
    if report.sync and report.sync.changed:
        print(f"index generation {report.sync.generation}: {report.sync.passages} passages", file=out)
    return 0 if report.ok else 1


def cmd_sources(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    docs = steward.documents(_filters(args))
    if args.json:
        rows = [
            {"doc_id": d.doc_id, "title": d.title, "date": d.date.isoformat() if d.date else None,
             "publication": d.publication, "author": d.author, "url": d.url, "tags": list(d.tags),
             "language": d.language, "passages": d.passages, "source": d.source,
             "translations": translations_json(steward.translations(d.doc_id))}
            for d in docs
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2), file=out)
        return 0
    if not docs:
        print("No documents yet. Add some with `steward ingest PATH`.", file=out)
    for d in docs:
        date = d.date.isoformat() if d.date else "undated   "
        pub = f" — {d.publication}" if d.publication else ""
        language = f"{d.language}, " if d.language else ""
        print(f"{date}  {d.title}{pub}  ({language}{d.passages} passages)  [{d.doc_id}]", file=out)
        if versions := versions_line(steward.translations(d.doc_id), _reply_lang(args)):
            print(f"            {versions}", file=out)
    return 0


def cmd_remove(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    info = steward.document_info(args.doc_id)
    report = steward.remove(args.doc_id)
    if report is None:
        print(f"steward: no document with id {args.doc_id!r}; `steward sources` lists them", file=sys.stderr)
        return 1
    print(f"removed {info.title if info else args.doc_id} [{args.doc_id}]; "
          f"{report.removed} passages left the index", file=out)
    return 0


def _lines(path: str) -> Iterator[str]:
    """Non-blank lines of a file, or of stdin for ``-``."""
    if path == "-":
        yield from (line.strip() for line in sys.stdin if line.strip())
        return
    try:
        with open(path, encoding="utf-8") as handle:
            yield from (line.strip() for line in handle if line.strip())
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err


def _announce_samples(steward: Steward, quiet: bool) -> None:
    report = steward.ensure_samples(on_progress=None if quiet else lambda m: print(m, file=sys.stderr))
    if report is not None and not quiet:
        print(f"  {report.summary()}", file=sys.stderr)


def cmd_ask(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    filters = _filters(args)
    _announce_samples(steward, args.quiet)
    if args.batch:
        for question in _lines(args.batch):
            started = time.perf_counter()
            answer = steward.ask(question, filters)
            row = render.answer_json(answer) | {"elapsed_ms": round((time.perf_counter() - started) * 1000, 2)}
            print(json.dumps(row, ensure_ascii=False), file=out, flush=True)
        return 0
    if not args.question:
        raise UsageError("give a question, e.g. steward ask \"How do we file a grievance?\"")
    answer = steward.ask(args.question, filters)
    if args.json:
        print(json.dumps(render.answer_json(answer), ensure_ascii=False, indent=2), file=out)
    else:
        print(render.answer_text(answer, color=out.isatty(), lang=_reply_lang(args)), file=out)
    return 0


def cmd_search(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    filters = _filters(args)
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    _announce_samples(steward, args.quiet)
    if args.batch:
        for query in _lines(args.batch):
            started = time.perf_counter()
            hits = steward.search(query, args.limit, filters)
            row = render.search_json(query, hits) | {"elapsed_ms": round((time.perf_counter() - started) * 1000, 2)}
            print(json.dumps(row, ensure_ascii=False), file=out, flush=True)
        return 0
    if not args.query:
        raise UsageError("give a query, e.g. steward search \"grievance\"")
    hits = steward.search(args.query, args.limit, filters)
    if args.json:
        print(json.dumps(render.search_json(args.query, hits), ensure_ascii=False, indent=2), file=out)
    else:
        print(render.search_text(args.query, hits, _reply_lang(args)), file=out)
    return 0


def chat(steward: Steward, filters: Filters, inp: TextIO, out: TextIO, prompt: bool = True,
         lang: str = "en") -> None:
    """The interactive loop: a question, ``more``, ``source N``, ``help``, ``quit``."""
    print(i18n.translate("cli.chat_intro", lang), file=out)
    last = None
    color = out.isatty()
    while True:
        if prompt:
            print("> ", end="", file=out, flush=True)
        line = inp.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        word = text.lower()
        if word in ("quit", "exit", "q"):
            break
        if word in ("help", "?"):
            print(i18n.translate("cli.chat_help", lang), file=out)
        elif word == "more":
            if last is None:
                print(i18n.translate("cli.ask_first", lang), file=out)
                continue
            following = steward.ask(last.question, filters, page=last.page + 1)
            if following.quotes:
                last = following
                print(render.answer_text(last, color, lang=lang), file=out)
            else:
                print(i18n.translate("cli.no_more", lang), file=out)
        elif word.startswith("source"):
            print(_source(steward, last, text, lang), file=out)
        else:
            last = steward.ask(text, filters)
            print(render.answer_text(last, color, lang=lang), file=out)


def _source(steward: Steward, answer: object, text: str, lang: str = "en") -> str:
    from bot.answer import Answer

    parts = text.split()
    if not isinstance(answer, Answer) or not answer.quotes:
        return i18n.translate("cli.source_first", lang)
    if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(answer.quotes):
        return i18n.translate("cli.source_which", lang, count=len(answer.quotes))
    quote = answer.quotes[int(parts[1]) - 1]
    context = steward.source_context(quote.doc_id, quote.start, quote.end)
    if context is None:
        return i18n.translate("cli.removed", lang)
    return context + "\n" + quote.citation.label()


def cmd_chat(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    filters = _filters(args)
    _announce_samples(steward, args.quiet)
    chat(steward, filters, sys.stdin, out, prompt=sys.stdin.isatty(), lang=_reply_lang(args))
    return 0


def cmd_reindex(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    report = steward.reindex(progress=not args.quiet)
    print(f"re-embedded {report.encoded} passages into generation {report.generation} "
          f"in {report.seconds:.1f} s", file=out)
    return 0


def cmd_stats(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    stats = steward.stats()
    if args.json:
        print(json.dumps(stats, indent=2), file=out)
        return 0
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        if key.endswith("_bytes") and isinstance(value, int):
            value = f"{value / 1024 / 1024:.1f} MiB"
        print(f"{key.replace('_', ' '):<{width}}  {value}", file=out)
    return 0


def cmd_forget(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    erased = steward.forget()
    print(f"erased {erased} logged questions", file=out)
    return 0


def cmd_bot(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    from bot.discord.runner import run_bot

    return run_bot(steward, steward.config.discord, sync=args.sync)


def cmd_run(steward: Steward, args: argparse.Namespace, out: TextIO) -> int:
    """The main job: serve Discord when a token is set, else the terminal demo."""
    if discord_token():
        from bot.discord.runner import run_bot

        return run_bot(steward, steward.config.discord, sync=None)
    _announce_samples(steward, args.quiet)
    lang = _reply_lang(args)
    print(i18n.translate("cli.demo_intro", lang) + "\n", file=out)
    for question in DEMO_QUESTIONS:
        # Without --lang each demo question is answered in its own language, to show both.
        asked = getattr(args, "lang", None) or i18n.detect(question) or lang
        print(i18n.translate("cli.demo_question", asked, question=question), file=out)
        print(render.answer_text(steward.ask(question), color=out.isatty(), lang=asked), file=out)
        print(file=out)
    if sys.stdin.isatty():
        chat(steward, Filters(), sys.stdin, out, lang=lang)
    else:
        print(i18n.translate("cli.demo_outro", lang), file=out)
    return 0


# -- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one ``steward`` command; its exit status."""
    out = out or sys.stdout
    try:
        try:
            return _main(argv, out)
        finally:
            out.flush()  # a reader gone early (`steward sources | head`) shows up here
    except BrokenPipeError:
        _drop_stdout(out)
        return EXIT_PIPE_CLOSED


def _main(argv: Sequence[str] | None, out: TextIO) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(out)
        return 2
    steward = None
    try:
        if getattr(args, "raw_func", None) is not None:
            return args.raw_func(args, out)
        config: Config = load_config(args.config, args.data_dir)
        setup_logging(config, quiet=args.quiet)
        steward = Steward(config)
        return args.func(steward, args, out)
    except (ConfigError, CorpusError, IndexError_, EncoderError, UsageError, ValueError) as err:
        print(f"steward: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("steward: interrupted", file=sys.stderr)
        return 130
    finally:
        if steward is not None:
            steward.close()


def _drop_stdout(out: TextIO) -> None:
    """The reader of our output went away: send what is still buffered to /dev/null, so that
    Python's own flush at exit does not print a BrokenPipeError of its own."""
    if out is not sys.stdout:
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
