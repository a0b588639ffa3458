"""The gaps report (what the bulletins don't answer) and the retention of logged questions.

With query logging off only counts and document ids are kept: no word of any question may be
in the report or anywhere in the store's files. With it on, questions not found and given 👎
are grouped by meaning; answered ones never show. Logged questions older than
``[logging] query_retention_days`` are erased when Steward opens the store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest
from stewardtest import CONFIG, make_steward

from bot.cli import main
from bot.gaps import gaps_report, report_lines

ANSWERED = ["How much did US union membership grow after 1935?",
            "What did the CIO do for organizing in the 1930s?"]
PIZZA = ["What is the best topping for a pizza?", "Which pizza toppings taste best?",
         "Best toppings to put on pizza?"]
BICYCLE = ["How do I repair the chain of my bicycle?", "How can I fix a broken bike chain?"]
UNCOVERED_WORDS = ("pizza", "topping", "bicycle")  # in none of the sample bulletins


def ask_all(steward, questions: list[str]) -> list:
    return [steward.ask(q) for q in questions]


@pytest.fixture
def clean_data(sample_data_dir: Path) -> Path:
    """The samples' data folder without the counts other tests' questions left in the shared
    session store (its copy carries them), so this file's counts are its own."""
    conn = sqlite3.connect(sample_data_dir / "steward.sqlite3")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table in ("usage", "daily_usage", "not_found_closest", "feedback", "query_log"):
        if table in tables:
            conn.execute(f"DELETE FROM {table}")
    conn.commit()
    conn.close()
    return sample_data_dir


@pytest.fixture
def quiet(clean_data: Path, real_encoder: object):
    steward = make_steward(clean_data, real_encoder)
    yield steward
    steward.close()


@pytest.fixture
def logging_on(clean_data: Path, real_encoder: object):
    steward = make_steward(clean_data, real_encoder, logging__query_logging=True)
    yield steward
    steward.close()


def test_with_logging_off_the_report_has_counts_and_no_words(quiet, tmp_path: Path) -> None:
    answered = ask_all(quiet, ANSWERED)
    assert all(a.answered for a in answered)
    assert not any(a.answered for a in ask_all(quiet, PIZZA + BICYCLE))
    quiet.feedback(-1, answered[1].passage_ids)
    quiet.feedback(1, answered[0].passage_ids)

    report = gaps_report(quiet, days=7)
    total = report.totals()
    assert (total.answered, total.not_found, total.thumbs_down) == (2, 5, 1)
    assert [d.day for d in report.per_day] == [dt.datetime.now(dt.UTC).date().isoformat()]
    # the documents the five unanswered questions came closest to, added up
    assert report.closest_documents and sum(n for _, _, n in report.closest_documents) >= 5
    assert report.groups == []
    text = "\n".join(report_lines(report))
    assert "only counts" in text and "2 / 5 / 1" in text

    out = io.StringIO()
    assert main(["--data-dir", str(quiet.data_dir), "gaps", "--days", "7", "--json"], out) == 0
    parsed = json.loads(out.getvalue())
    assert parsed["totals"] == {"answered": 2, "not_found": 5, "thumbs_down": 1}
    csv_path = tmp_path / "gaps.csv"
    out = io.StringIO()
    assert main(["--data-dir", str(quiet.data_dir), "gaps", "--csv", str(csv_path)], out) == 0
    rows = list(csv.reader(csv_path.open(encoding="utf-8")))
    assert rows[0] == ["kind", "key", "title", "questions_not_found"] and len(rows) > 1

    quiet.close()
    everything = (text + json.dumps(parsed) + csv_path.read_text()).lower()
    files = b"".join(p.read_bytes() for p in quiet.data_dir.glob("steward.sqlite3*")).lower()
    for word in UNCOVERED_WORDS:
        assert word not in everything
        assert word.encode() not in files, word


def test_with_logging_on_unanswered_questions_are_grouped_by_meaning(logging_on) -> None:
    answered = ask_all(logging_on, ANSWERED)
    ask_all(logging_on, PIZZA + BICYCLE)
    logging_on.feedback(-1, answered[1].passage_ids)  # a 👎 on an answer

    report = gaps_report(logging_on, days=30)
    groups = {frozenset(g.examples): g for g in report.groups}
    assert frozenset(PIZZA) in groups and frozenset(BICYCLE) in groups
    pizza = groups[frozenset(PIZZA)]
    assert (pizza.count, pizza.not_found, pizza.thumbs_down) == (3, 3, 0)
    assert report.groups[0] is pizza  # the largest group first
    assert pizza.label in PIZZA and pizza.quoted == []
    down = [g for g in report.groups if g.thumbs_down]
    assert len(down) == 1 and down[0].examples == [ANSWERED[1]]
    assert down[0].quoted and down[0].quoted[0].doc_id == answered[1].quotes[0].citation.doc_id
    # an answered question without a 👎 is nowhere
    assert all(ANSWERED[0] not in g.examples for g in report.groups)

    text = "\n".join(report_lines(report))
    assert f"“{pizza.label}” — 3 questions (3 not found, 0 👎)" in text
    rows = list(csv.reader(io.StringIO(report.to_csv())))
    assert rows[0][:3] == ["group", "questions", "not_found"] and rows[1][1] == "3"
    assert set(rows[1][4:7]) == set(PIZZA)  # the label, then the other examples
    exported = json.loads(json.dumps(report.as_json(), ensure_ascii=False))
    assert [g["count"] for g in exported["groups"]] == [g.count for g in report.groups]
    assert exported["groups"][0]["label"] == pizza.label
    assert [q["doc_id"] for g in exported["groups"] for q in g["quoted"]] == \
        [q.doc_id for q in down[0].quoted]
    spanish = "\n".join(report_lines(report, "es"))
    assert "3 preguntas (3 sin respuesta, 0 👎)" in spanish


class CountingEncoder:
    """The real encoder, counting the questions the report had to encode."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode(self, texts, *args, **kwargs):
        self.texts += list(texts)
        return self.inner.encode(texts, *args, **kwargs)


def test_question_vectors_are_kept_for_the_next_report_and_erased_with_the_question(
        logging_on, tmp_path: Path) -> None:
    ask_all(logging_on, PIZZA + BICYCLE)
    counting = CountingEncoder(logging_on.encoder)
    logging_on._encoder = counting
    first = gaps_report(logging_on, days=30)
    assert sorted(counting.texts) == sorted(PIZZA + BICYCLE)
    # the next report encodes only the question asked since, and groups the same way
    ask_all(logging_on, ["What toppings make the tastiest pizza?"])
    counting.texts.clear()
    second = gaps_report(logging_on, days=30)
    assert counting.texts == ["What toppings make the tastiest pizza?"]
    assert [g.count for g in second.groups] == [4, 2]
    assert {frozenset(g.examples) for g in first.groups} == {frozenset(PIZZA), frozenset(BICYCLE)}
    vectors = logging_on.store.execute("SELECT log_id, length(vector) FROM query_vectors")
    assert len(vectors) == 6 and {n for _, n in vectors} == {2 * counting.dimension}
    # another model: the kept vectors are not used for it
    logging_on.config.index.model = "another-model"
    counting.texts.clear()
    gaps_report(logging_on, days=30)
    assert len(counting.texts) == 6

    # retention erases a question's vector with it; forget erases them all
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=91)).replace(microsecond=0).isoformat()
    logging_on.store.execute("UPDATE query_log SET at=? WHERE question=?", (old, PIZZA[0]))
    assert logging_on.expire_logged_questions() == 1
    kept = logging_on.store.execute("SELECT COUNT(*) FROM query_vectors")[0][0]
    assert kept == 5
    assert not logging_on.store.execute(
        "SELECT 1 FROM query_vectors WHERE log_id NOT IN (SELECT id FROM query_log)")
    logging_on.forget()
    assert logging_on.store.execute("SELECT COUNT(*) FROM query_vectors")[0][0] == 0


def test_old_logged_questions_are_erased_at_start_and_counts_kept(
        clean_data: Path, real_encoder: object) -> None:
    steward = make_steward(clean_data, real_encoder, logging__query_logging=True)
    ask_all(steward, PIZZA[:1] + BICYCLE[:1])
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=91)).replace(microsecond=0).isoformat()
    steward.store.execute("UPDATE query_log SET at=? WHERE question=?", (old, PIZZA[0]))
    steward.close()

    again = make_steward(clean_data, real_encoder, logging__query_logging=True)
    try:
        assert [q for _, q, _ in again.records.logged_questions()] == [BICYCLE[0]]
        assert again.stats()["not_found"] == 2  # counts are not question text: they stay
    finally:
        again.close()
    files = b"".join(p.read_bytes() for p in clean_data.glob("steward.sqlite3*"))
    assert b"topping" not in files

    # 0 keeps them until `steward forget`
    kept = make_steward(clean_data, real_encoder, logging__query_logging=True,
                        logging__query_retention_days=0)
    try:
        kept.store.execute("UPDATE query_log SET at=?", (old,))
        assert kept.expire_logged_questions() == 0
        assert len(kept.records.logged_questions()) == 1
    finally:
        kept.close()


def test_a_bad_retention_setting_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.read_text().replace("query_retention_days = 90",
                                                 "query_retention_days = -1"))
    err = io.StringIO()
    import contextlib
    with contextlib.redirect_stderr(err):
        assert main(["--config", str(config), "--data-dir", str(tmp_path / "d"), "gaps"],
                    io.StringIO()) == 2
    assert "query_retention_days" in err.getvalue() and "Traceback" not in err.getvalue()


def test_bad_gaps_options_are_one_clear_line(tmp_path: Path) -> None:
    import contextlib
    for args, says in ((["--days", "0"], "--days must be between 1 and 3650"),
                       (["--csv", str(tmp_path / "missing" / "gaps.csv")], "could not write")):
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(["--data-dir", str(tmp_path / "d"), "gaps", *args], out) == 2
        assert says in err.getvalue() and "Traceback" not in err.getvalue()
        assert len(err.getvalue().strip().splitlines()) == 1 and out.getvalue() == ""
    assert not (tmp_path / "missing").exists()
