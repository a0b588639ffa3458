"""Abstention per language pair: a quote is held to the threshold of its pair (the question's
language -> the quoted passage's), [answer] min_confidence only where the table names none."""

from __future__ import annotations

import pytest

from bot.answer import Answerer, AnswerSettings
from bot.config import Config, ConfigError, load_config
from bot.thresholds import pair_key

# The shipped samples are English; this question is Spanish, so its quotes are pair es-en.
SPANISH = "¿Cuántos días de vacaciones pagadas tenemos?"
ENGLISH = "How many paid vacation days do we get?"


def _answerer(steward: object, base: float, by_pair: dict[str, float]) -> Answerer:
    return Answerer(steward.searcher, steward.store,  # type: ignore[attr-defined]
                    AnswerSettings(min_confidence=base, min_confidence_by_pair=by_pair))


def test_a_spanish_question_quoting_english_text_is_held_to_the_es_en_threshold(sample_steward) -> None:
    # The base alone would decline everything; the es-en threshold lets the Spanish question through.
    lenient = _answerer(sample_steward, 0.99, {"es-en": -1.0}).ask(SPANISH)
    assert lenient.answered and lenient.quotes
    assert {q.language for q in lenient.quotes} == {"en"}
    # The base alone would answer everything; the es-en threshold declines it and names documents.
    strict = _answerer(sample_steward, -1.0, {"es-en": 0.99}).ask(SPANISH)
    assert not strict.answered and not strict.quotes
    assert strict.closest
    # The same question's confidence is the same either way: only the bar moved.
    assert strict.confidence == pytest.approx(lenient.confidence)


def test_a_pair_the_table_does_not_name_uses_the_base(sample_steward) -> None:
    # An English question quoting English text is pair en-en: the es-en entry does not touch it.
    assert _answerer(sample_steward, -1.0, {"es-en": 0.99}).ask(ENGLISH).answered
    assert not _answerer(sample_steward, 0.99, {"es-en": -1.0}).ask(ENGLISH).answered


def test_pair_keys_put_the_question_language_first() -> None:
    assert pair_key("es", "en") == "es-en"
    assert pair_key("es", None) == "es-en"  # a passage of unknown language is read as English


def test_min_confidence_by_pair_auto_follows_the_model_and_a_table_overrides_it() -> None:
    assert Config().answer.min_confidence_by_pair == "auto"
    # multilingual-e5-small's cross-language cosines sit above an unrelated same-language one's:
    # its cross pairs get a higher bar than its base.
    e5 = Config.model_validate({"index": {"model": "multilingual-e5-small"}}).answer_settings()
    assert e5.min_confidence_by_pair["es-en"] > e5.min_confidence
    assert e5.min_confidence_by_pair["en-es"] > e5.min_confidence
    chosen = Config.model_validate({"answer": {"min_confidence_by_pair": {"es-en": 0.2, "en-es": 0.25}}})
    assert dict(chosen.answer_settings().min_confidence_by_pair) == {"es-en": 0.2, "en-es": 0.25}
    assert chosen.answer_settings().min_confidence == 0.35  # the base stays


@pytest.mark.parametrize("table, named", [
    ('{ "spanish-english" = 0.4 }', "'spanish-english' is not a language pair"),
    ('{ "ES-EN" = 0.4 }', "'ES-EN' is not a language pair"),
    ('{ "es-en" = 2 }', "should be a number from -1 to 1"),
    ('"strict"', "should be \"auto\" or a table"),
])
def test_a_bad_pair_table_is_one_clear_line_naming_the_setting(tmp_path, table: str, named: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[answer]\nmin_confidence_by_pair = {table}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    lines = str(err.value).splitlines()
    problem = [line for line in lines if "min_confidence_by_pair" in line]
    assert len(problem) == 1 and named in problem[0]
    assert "Traceback" not in str(err.value)
