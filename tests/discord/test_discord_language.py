"""The ``language`` option of /ask and /search, end to end: the filter, its autocomplete of
the languages stored, and a language that is not one."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from discord_helpers import ANSWER_TIMEOUT, description, embed, steward_bot
from fakediscord import FakeDiscord

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config.toml"
BOLETIN_TITLE = "Votación en Silao"
BOLETIN = f"""{BOLETIN_TITLE}

Boletín del 1 de febrero de 2023

Por María de la Luz Ramírez

Los trabajadores de la planta de General Motors en Silao votaron por el sindicato independiente
SINTTIA. La votación duró dos días, el 1 y el 2 de febrero, y participó el 88 por ciento de la plantilla.
"""
AUTOCOMPLETE_RESULT = 8


@pytest.fixture(scope="module")
def bilingual_steward(tmp_path_factory: pytest.TempPathFactory, sample_steward: Any,
                      real_encoder: object) -> Iterator[Any]:
    """The samples (English) plus one Spanish bulletin, in a data folder of this module's own."""
    from bot.app import Steward
    from bot.config import load_config

    root = tmp_path_factory.mktemp("bilingual")
    sample_steward.store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copytree(sample_steward.data_dir, root / "data")
    steward = Steward(load_config(CONFIG, root / "data"))
    steward._encoder = real_encoder
    boletin = root / "boletin.txt"
    boletin.write_text(BOLETIN, encoding="utf-8")
    assert steward.ingest([str(boletin)]).ok
    yield steward
    steward.close()


@pytest.fixture
async def language_bot(fake: FakeDiscord, bilingual_steward: Any) -> AsyncIterator[Any]:
    async with steward_bot(fake, bilingual_steward) as bot:
        yield bot
    fake.assert_no_violations()


async def test_search_with_the_language_option(fake: FakeDiscord, language_bot: Any) -> None:
    query = "union vote at the General Motors plant"
    inter = await fake.send_slash_command("search", {"query": query, "language": "es"})
    spanish = description(await inter.followup(timeout=ANSWER_TIMEOUT))
    assert BOLETIN_TITLE in spanish and "México" not in spanish

    inter = await fake.send_slash_command("search", {"query": query, "language": "en"})
    english = description(await inter.followup(timeout=ANSWER_TIMEOUT))
    assert BOLETIN_TITLE not in english and "México" in english


async def test_ask_with_the_language_option_quotes_that_language(
    fake: FakeDiscord, language_bot: Any
) -> None:
    inter = await fake.send_slash_command(
        "ask", {"question": "¿Cuántos días duró la votación en Silao?", "language": "español"})
    answer = await inter.followup(timeout=ANSWER_TIMEOUT)
    assert "La votación duró dos días" in description(answer)
    assert BOLETIN_TITLE in str(embed(answer))


async def test_language_autocomplete_lists_the_stored_languages(
    fake: FakeDiscord, language_bot: Any
) -> None:
    inter = await fake.send_autocomplete("ask", {"question": "x", "language": ""},
                                         focused="language")
    result = await inter.callback()
    assert result.type == AUTOCOMPLETE_RESULT
    assert result.data["choices"] == [{"name": "en (English)", "value": "en"},
                                      {"name": "es (español)", "value": "es"}]
    inter = await fake.send_autocomplete("search", {"query": "x", "language": "espa"},
                                         focused="language")
    assert [c["value"] for c in (await inter.callback()).data["choices"]] == ["es"]


async def test_a_language_that_is_not_one_is_explained(fake: FakeDiscord, language_bot: Any) -> None:
    inter = await fake.send_slash_command("search", {"query": "huelga", "language": "klingon"})
    said = (await inter.callback(timeout=ANSWER_TIMEOUT)).data
    assert "'klingon' is not a language" in str(said)
