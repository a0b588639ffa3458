"""The command line's reply language: ``--lang``, else LC_ALL / LC_MESSAGES / LANG, else
English; quotes stay verbatim whatever the language (real model, the shipped samples)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from stewardtest import CONFIG

import bot.app
from bot.cli import main

EXPECTED_QUOTE = "from three million union members in 1935 to six million in 1940"
QUESTION = "How much did US union membership grow after 1935?"


@pytest.fixture(autouse=True)
def english_shell(monkeypatch: pytest.MonkeyPatch, real_encoder: object) -> None:
    """An English shell unless a test says otherwise, and the session's loaded model."""
    monkeypatch.setattr(bot.app, "load_encoder", lambda *_a, **_k: real_encoder)
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)


def run(args: list[str], data: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(CONFIG), "--data-dir", str(data), "-q", *args], out=out)
    return code, out.getvalue()


def flat(text: str) -> str:
    return " ".join(text.split())  # answers are wrapped to the terminal's width


def test_lang_es_frames_the_answer_in_spanish_and_keeps_the_quote(sample_data_dir: Path) -> None:
    code, out = run(["ask", QUESTION, "--lang", "es"], sample_data_dir)
    assert code == 0
    assert EXPECTED_QUOTE in flat(out)
    assert "Fuentes:" in out and "Sources:" not in out
    # the English quote is said to be English, with no Spanish version in the bulletins
    assert "(citado en inglés; no hay versión en español en los boletines)" in out

    code, out = run(["ask", "What is a good recipe for pizza dough?", "--lang", "es"],
                    sample_data_dir)
    assert "Los boletines no parecen tratar eso" in out and "Documentos más cercanos:" in out


def test_the_shells_language_is_the_default(sample_data_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "es_MX.UTF-8")
    code, out = run(["ask", QUESTION], sample_data_dir)
    assert code == 0 and "Fuentes:" in out and EXPECTED_QUOTE in flat(out)
    code, out = run(["search", "global labor solidarity"], sample_data_dir)
    assert "(sin fecha, ¶" in out  # an undated document, listed in Spanish

    # LC_ALL outranks LANG, and --lang (before or after the command) outranks both.
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    code, out = run(["ask", QUESTION], sample_data_dir)
    assert "Sources:" in out and "quoted in" not in out
    code, out = run(["search", "global labor solidarity"], sample_data_dir)
    assert "(undated, ¶" in out
    code, out = run(["--lang", "es", "search", "global labor solidarity"], sample_data_dir)
    assert "(sin fecha, ¶" in out


def test_an_english_shell_gets_english(sample_data_dir: Path) -> None:
    code, out = run(["ask", QUESTION], sample_data_dir)
    assert code == 0
    assert "Sources:" in out and "Fuentes:" not in out and "quoted in" not in out


def test_a_language_steward_does_not_speak_is_refused(sample_data_dir: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(["ask", QUESTION, "--lang", "fr"], sample_data_dir)
    assert exit_.value.code == 2 and "invalid choice: 'fr'" in capsys.readouterr().err


def test_the_demo_asks_one_question_in_spanish(sample_data_dir: Path) -> None:
    code, out = run(["run"], sample_data_dir)
    assert code == 0
    english, spanish = out.split("P: ¿Cuánto creció la afiliación sindical", 1)
    assert "Q: How much did US union membership grow after 1935?" in english
    assert "Sources:" in english
    # answered from the English bulletin, framed in Spanish, quoted as written
    assert "Fuentes:" in spanish and "(citado en inglés; no hay versión en español en los boletines)" in spanish
    assert "six million in 1940" in flat(spanish)
