"""The steward command line, as a user runs it (real model, throwaway data folders)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from stewardtest import CONFIG, REPO

import bot.app
from bot.cli import chat, main

SAMPLES = REPO / "corpus" / "samples"


@pytest.fixture(autouse=True)
def shared_model(monkeypatch: pytest.MonkeyPatch, real_encoder) -> None:
    """Each CLI call builds a new Steward; reuse the loaded model instead of reloading it."""
    monkeypatch.setattr(bot.app, "load_encoder", lambda *_a, **_k: real_encoder)


def run(args: list[str], data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(["--config", str(CONFIG), "--data-dir", str(data), "-q", *args], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def test_ingest_reingest_sources_remove(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs, ignore=shutil.ignore_patterns("*.md"))
    code, out, _ = run(["ingest", str(docs)], data, capsys)
    assert code == 0
    assert "documents: 2 added, 0 updated, 0 unchanged, 0 failed" in out
    code, out, _ = run(["ingest", str(docs)], data, capsys)
    assert code == 0 and "0 added, 0 updated, 2 unchanged" in out and "(0 encoded)" in out

    code, out, _ = run(["sources", "--json"], data, capsys)
    rows = json.loads(out)
    hermanson = next(r for r in rows if r["publication"] == "Bulletin")
    assert hermanson["date"] == "2023-02-01" and hermanson["passages"] > 3

    code, out, _ = run(["remove", hermanson["doc_id"]], data, capsys)
    assert code == 0 and "removed Maximizing" in out
    code, out, err = run(["remove", hermanson["doc_id"]], data, capsys)
    assert code == 1 and "no document with id" in err
    code, out, _ = run(["sources"], data, capsys)
    assert "Maximizing" not in out and "For Those Who Know Little" in out


def test_ingest_with_overrides_and_a_bad_path(tmp_path: Path, capsys) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Stewards meet every Tuesday at the hall to plan the contract campaign.")
    code, out, err = run(
        ["ingest", str(note), str(tmp_path / "missing.txt"), "--title", "Steward meetings",
         "--date", "2024-03-05", "--publication", "Local 12 News", "--tags", "meetings, stewards"],
        tmp_path / "data", capsys,
    )
    assert code == 1  # one source failed
    assert "missing.txt" in err and "1 added" in out and "1 failed" in out
    _, out, _ = run(["sources", "--json"], tmp_path / "data", capsys)
    row = json.loads(out)[0]
    assert row["title"] == "Steward meetings" and row["date"] == "2024-03-05"
    assert row["publication"] == "Local 12 News" and row["tags"] == ["meetings", "stewards"]


def test_first_ask_on_an_empty_data_folder_ingests_the_samples(tmp_path: Path, capsys) -> None:
    out = io.StringIO()
    code = main(["--config", str(CONFIG), "--data-dir", str(tmp_path / "d"), "ask",
                 "How much did US union membership grow after 1935?"], out=out)
    err = capsys.readouterr().err
    assert code == 0
    assert "First run: ingesting the sample bulletins" in err
    assert "three million union members in 1935" in out.getvalue()


def test_ask_and_search_json_and_batch(tmp_path: Path, sample_data_dir: Path, capsys, monkeypatch) -> None:
    data = sample_data_dir
    code, out, _ = run(["ask", "What is a welga ng bayan?", "--json"], data, capsys)
    assert code == 0 and json.loads(out)["answered"] is True
    code, out, _ = run(["search", "people's strike", "--limit", "3", "--json"], data, capsys)
    results = json.loads(out)["results"]
    assert len(results) == 3 and results[0]["rank"] == 1
    assert set(results[0]) == {"rank", "doc_id", "passage_id", "score", "title", "date", "locator", "text"}

    questions = tmp_path / "q.txt"
    questions.write_text("What is a welga ng bayan?\n\nWhat is a good recipe for pizza dough?\n")
    code, out, _ = run(["ask", "--batch", str(questions), "--json"], data, capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["answered"] for r in rows] == [True, False]
    assert all(r["elapsed_ms"] > 0 for r in rows)
    monkeypatch.setattr("sys.stdin", io.StringIO("union membership 1935\nNAFTA\n"))
    code, out, _ = run(["search", "--batch", "-", "--json", "--limit", "2"], data, capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["query"] for r in rows] == ["union membership 1935", "NAFTA"]
    assert all(len(r["results"]) == 2 and "elapsed_ms" in r for r in rows)


def test_filters_on_the_command_line(sample_data_dir: Path, capsys) -> None:
    data = sample_data_dir
    code, out, _ = run(["search", "solidarity", "--publication", "Bulletin", "--json"], data, capsys)
    titles = {r["title"] for r in json.loads(out)["results"]}
    assert titles == {"Maximizing México’s ‘CIO Moment’: Tri-National Labor Unity"}
    code, _, err = run(["search", "solidarity", "--since", "last week"], data, capsys)
    assert code == 2 and "--since: 'last week' is not a date; use YYYY-MM-DD" in err


def test_chat_more_and_source(sample_steward) -> None:
    inp = io.StringIO("What is a welga ng bayan?\nsource 1\nmore\nsource 9\nquit\n")
    out = io.StringIO()
    chat(sample_steward, bot.app.Filters(), inp, out, prompt=False)
    text = out.getvalue()
    assert "welga ng bayan" in text
    assert "the epitome of this organization" in text  # the source context paragraph
    assert "Say `source N` with N from 1 to" in text


def test_stats_never_shows_the_token(sample_data_dir: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "MTIzNDU2.secret-token-value")
    code, out, _ = run(["stats", "--json"], sample_data_dir, capsys)
    stats = json.loads(out)
    assert code == 0 and "secret-token-value" not in out
    assert stats["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"documents", "passages", "generation", "index_bytes", "answered", "not_found"} <= set(stats)


def test_bad_config_is_one_clear_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[index]\nbatch_size = 0\nmodle = 'x'\n")
    code = main(["--config", str(bad), "stats"], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 2
    assert "[index] batch_size: Input should be greater than 0" in err
    assert "[index] modle: unknown setting" in err
    assert "Traceback" not in err
    code = main(["--config", str(tmp_path / "nope.toml"), "stats"], out=io.StringIO())
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_forget_erases_logged_questions(tmp_path: Path, sample_data_dir: Path, capsys) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.read_text().replace("query_logging = false", "query_logging = true"))
    out = io.StringIO()
    data = str(sample_data_dir)
    main(["--config", str(cfg), "--data-dir", data, "-q", "ask", "secret campaign question?"], out=out)
    db = b"".join(p.read_bytes() for p in sample_data_dir.glob("steward.sqlite3*"))
    assert b"secret campaign question" in db
    main(["--config", str(cfg), "--data-dir", data, "forget"], out=out)
    assert "erased 1 logged questions" in out.getvalue()
    for path in sample_data_dir.glob("steward.sqlite3*"):
        assert b"secret campaign question" not in path.read_bytes()


SPANISH_BULLETIN = """Huelga en Silao

Boletín del 1 de febrero de 2023

Escrito por María de la Luz Ramírez

Los trabajadores de la planta de General Motors en Silao votaron por un sindicato independiente.
La votación duró dos días y la participación fue muy alta entre los obreros del turno de noche.
"""


def test_language_shown_by_sources_and_filtered(sample_data_dir: Path, tmp_path: Path, capsys) -> None:
    data = sample_data_dir
    boletin = tmp_path / "boletin.txt"
    boletin.write_text(SPANISH_BULLETIN, encoding="utf-8")
    code, out, _ = run(["ingest", str(boletin)], data, capsys)
    assert code == 0 and "1 added" in out

    code, out, _ = run(["sources", "--json"], data, capsys)
    rows = {r["title"]: r for r in json.loads(out)}
    assert rows["Huelga en Silao"]["language"] == "es"
    assert rows["Huelga en Silao"]["publication"] == "Boletín"
    assert rows["Huelga en Silao"]["author"] == "María de la Luz Ramírez"
    assert rows["Huelga en Silao"]["date"] == "2023-02-01"
    assert {r["language"] for t, r in rows.items() if t != "Huelga en Silao"} == {"en"}
    code, out, _ = run(["sources"], data, capsys)
    assert "Huelga en Silao — Boletín  (es, " in out

    code, out, _ = run(["sources", "--language", "es", "--json"], data, capsys)
    assert [r["title"] for r in json.loads(out)] == ["Huelga en Silao"]
    # The English question finds the Spanish passage only when it is asked for Spanish.
    code, out, _ = run(["search", "union vote at the Silao plant", "--language", "Spanish", "--json"],
                       data, capsys)
    assert {r["title"] for r in json.loads(out)["results"]} == {"Huelga en Silao"}
    code, out, _ = run(["search", "union vote at the Silao plant", "--language", "en", "--json"],
                       data, capsys)
    assert "Huelga en Silao" not in {r["title"] for r in json.loads(out)["results"]}
    code, _, err = run(["search", "huelga", "--language", "klingon"], data, capsys)
    assert code == 2 and "--language: 'klingon' is not a language" in err


def test_ingest_language_override(tmp_path: Path, capsys) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Stewards meet every Tuesday at the hall to plan the contract campaign.")
    code, _, _ = run(["ingest", str(note), "--language", "es-MX"], tmp_path / "data", capsys)
    assert code == 0
    _, out, _ = run(["sources", "--json"], tmp_path / "data", capsys)
    assert json.loads(out)[0]["language"] == "es"
    code, _, err = run(["ingest", str(note), "--language", "zz"], tmp_path / "data", capsys)
    assert code == 2 and "--language: 'zz' is not a language" in err


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.backup import steward_version
    from bot.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"steward {steward_version()}"
    assert steward_version()[0].isdigit()
