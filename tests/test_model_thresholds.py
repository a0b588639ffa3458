"""Settings whose default depends on the encoder: a threshold calibrated for one model's
cosines is wrong for another's."""

from __future__ import annotations

from bot.config import Config
from embeddings.search import cross_language_rule


def test_min_confidence_auto_is_calibrated_per_model() -> None:
    default = Config()
    assert default.answer.min_confidence == "auto"
    assert default.answer_settings().min_confidence == 0.35
    e5 = Config.model_validate({"index": {"model": "multilingual-e5-small"}})
    assert e5.answer_settings().min_confidence == 0.64  # its cosines sit higher: 0.35 declined nothing
    chosen = Config.model_validate({"index": {"model": "multilingual-e5-small"}, "answer": {"min_confidence": 0.5}})
    assert chosen.answer_settings().min_confidence == 0.5


def test_cross_language_auto_follows_the_configured_model() -> None:
    # What a Searcher built from the configuration applies (Searcher.cross_language).
    def rule(config: Config) -> str:
        return cross_language_rule(config.search_settings().cross_language, config.index.model)

    assert rule(Config()) == "keyword"
    assert rule(Config.model_validate({"index": {"model": "multilingual-e5-small"}})) == "either"
    assert rule(Config.model_validate({"index": {"model": "multilingual-e5-small"},
                                       "search": {"cross_language": "keyword"}})) == "keyword"
