"""Privacy: by default no question text is written anywhere Steward writes (log files at DEBUG,
the store and its -wal/-shm files, the index); with query logging on, questions go to the
query_log table and nowhere else, and `steward forget` erases them. The Discord token never
appears in logs, errors or `steward stats`.

Every file under the test's folder is scanned byte for byte, so a new place that writes
(a cache, a debug log line, a feedback table) is caught without this test knowing about it.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from robustness_support import CONFIG, hash_encoder, write_corpus

import bot.app
from bot.cli import main

TOKEN = "MTk4NjIyNDgzNDcxOTI1MjQ4.Gh7x2Q.privacy-test-token-zv9KQ"
# Unusual words, so a hit can only be the question itself.
QUESTIONS = [
    "Is the organizing drive at the zorblax warehouse public yet?",
    "Who signed cards at quenthorpe plant last night?",
    "When do we walk out at vextramill, before the vote?",
    "Does management know about the plindorf meeting?",
    "Can the steward keep the grebnitz list secret?",
]
MARKERS = [b"zorblax", b"quenthorpe", b"vextramill", b"plindorf", b"grebnitz"]


def config_file(folder: Path, query_logging: bool) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    for old, new in (('level = "INFO"', 'level = "DEBUG"'), ('file = ""', 'file = "logs/steward.log"'),
                     ("max_file_mb = 5 ", "max_file_mb = 0.0004"),  # rotate, so backups are scanned too
                     ("query_logging = false", f"query_logging = {str(query_logging).lower()}")):
        assert old in text, old
        text = text.replace(old, new)
    path = folder / ("logged.toml" if query_logging else "default.toml")
    path.write_text(text, encoding="utf-8")
    return path


def files_holding(root: Path, needles: list[bytes], skip: set[Path] = frozenset()) -> dict[str, list[str]]:
    """Every file under ``root`` holding any needle: {path: [needles found]}."""
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if path.is_file() and path not in skip:
            data = path.read_bytes()
            hits = [n.decode() for n in needles if n in data]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(bot.app, "load_encoder", lambda *_a, **_k: hash_encoder())
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    docs = tmp_path / "docs"
    write_corpus(docs, range(4))
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really")  # an error to log
    outputs: list[str] = []

    def run(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        out = io.StringIO()
        code = main(["--config", str(config), "--data-dir", str(tmp_path / "data"), *args], out=out)
        captured = capsys.readouterr()
        outputs.extend([out.getvalue(), captured.out, captured.err])
        return code, out.getvalue()

    yield tmp_path, docs, run, outputs
    logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers
                                       if not getattr(h, "_steward", False)]


def test_default_configuration_writes_no_question_anywhere(session) -> None:  # type: ignore[no-untyped-def]
    root, docs, run, _outputs = session
    config = config_file(root, query_logging=False)
    batch = root / "outside" / "questions.txt"  # the admin's own file, not Steward's
    batch.parent.mkdir()
    batch.write_text("\n".join(QUESTIONS[2:4]))
    assert run(config, "ingest", str(docs))[0] == 1  # broken.pdf failed (and was logged)
    assert run(config, "ask", QUESTIONS[0])[0] == 0
    assert run(config, "ask", QUESTIONS[1], "--json")[0] == 0
    assert run(config, "search", QUESTIONS[2], "--json")[0] == 0
    assert run(config, "ask", "--batch", str(batch))[0] == 0
    assert run(config, "search", "--batch", "-", stdin=QUESTIONS[3] + "\n")[0] == 0
    assert run(config, "chat", stdin=f"{QUESTIONS[4]}\nmore\nsource 1\nquit\n")[0] == 0
    code, stats = run(config, "stats", "--json")
    assert code == 0 and json.loads(stats)["answered"] + json.loads(stats)["not_found"] >= 5
    assert json.loads(stats)["logged_questions"] == 0
    # The same through the service object the Discord bot uses, with feedback.
    from bot.app import Steward
    from bot.config import load_config

    steward = Steward(load_config(config, root / "data"))
    steward._encoder = hash_encoder()
    answer = steward.ask(QUESTIONS[0])
    steward.records.feedback(1, answer.passage_ids or ["none"])
    steward.close()

    logs = list((root / "logs").glob("steward.log*"))
    assert logs and sum(p.stat().st_size for p in logs) > 0, "nothing was logged: the test would prove nothing"
    assert len(logs) >= 2, "the log did not rotate: rotated files went unscanned"
    assert files_holding(root, MARKERS, skip={batch}) == {}
    with closing(sqlite3.connect(root / "data" / "steward.sqlite3")) as conn:
        dump = "\n".join(conn.iterdump()).encode()
    assert not [m for m in MARKERS if m in dump]


def test_query_logging_stores_the_question_there_only_and_forget_erases_it(session) -> None:  # type: ignore[no-untyped-def]
    root, docs, run, _outputs = session
    config = config_file(root, query_logging=True)
    assert run(config, "ingest", str(docs))[0] == 1
    assert run(config, "ask", QUESTIONS[0])[0] == 0
    assert run(config, "ask", QUESTIONS[1], "--json")[0] == 0
    assert run(config, "search", QUESTIONS[2])[0] == 0  # searches are not questions: not logged
    db = root / "data" / "steward.sqlite3"
    with closing(sqlite3.connect(db)) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(query_log)")]
        rows = conn.execute("SELECT question, answered, passage_ids FROM query_log ORDER BY id").fetchall()
        others = "\n".join(line for line in conn.iterdump() if "query_log" not in line).encode()
    # no member, no channel; "vote" is the 👍/👎 given to that answer (for the gaps report)
    assert columns == ["id", "at", "question", "answered", "passage_ids", "vote"]
    assert [r[0] for r in rows] == QUESTIONS[:2]
    assert not [m for m in MARKERS if m in others], "a question leaked into another table"
    logs = root / "logs"
    assert files_holding(logs, MARKERS) == {}, "query logging is the database, not the log file"
    assert files_holding(root / "data", [MARKERS[2]]) == {}

    code, out = run(config, "forget")
    assert code == 0 and "erased 2 logged questions" in out
    assert files_holding(root, MARKERS) == {}


def test_the_token_never_appears_in_logs_errors_or_stats(session) -> None:  # type: ignore[no-untyped-def]
    root, docs, run, outputs = session
    config = config_file(root, query_logging=False)
    run(config, "ingest", str(docs), str(root / "missing.txt"))
    run(config, "stats")
    run(config, "stats", "--json")
    run(config, "search", "wages", "--since", "not-a-date")  # a usage error
    bad = root / "bad.toml"
    bad.write_text(config.read_text() + "\n[discord]\ntoken = 'x'\n")
    run(bad, "stats")  # a configuration error
    # A library that quotes the token in an exception (e.g. an HTTP error echoing a header).
    try:
        raise RuntimeError(f"401 Unauthorized: Authorization: Bot {TOKEN}")
    except RuntimeError:
        logging.getLogger("steward").exception("login failed for %s", TOKEN)
    logging.getLogger("steward").error("stack", stack_info=True)
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert files_holding(root, [TOKEN.encode()]) == {}
    assert not [o for o in outputs if TOKEN in o]
    log_text = "".join(p.read_text() for p in (root / "logs").glob("steward.log*"))
    assert "Authorization: Bot [token]" in log_text and "login failed for [token]" in log_text
