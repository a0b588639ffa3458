"""Embeds within Discord's limits, escaped, trimmed at word boundaries — no server needed.

Rendered embeds are also run through the fake server's own limit checks
(``fakediscord.limits``), the same code that answers a bad payload with 50035.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import discord
import numpy as np
import pytest
from fakediscord import limits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer import Answer, Citation, Quote
from bot.discord import embeds
from bot.discord import text as discord_text
from bot.discord.checks import QuestionLimiter
from bot.discord.exts.admin import save_upload, upload_extension

WORDS = re.compile(r"\w+")


def citation(**kw: object) -> Citation:
    base = dict(doc_id="d1", title="Maximizing México’s ‘CIO Moment’", publication="Bulletin",
                date=dt.date(2023, 2, 1), author="Jeffery Hermanson", locator="¶ 15",
                url="https://example.org/voices/124/")
    base.update(kw)
    return Citation(**base)  # type: ignore[arg-type]


def quote(text: str, key: str | None = None, n: int = 1, **kw: object) -> Quote:
    key = key if key is not None else text
    return Quote(n=n, text=text, key_sentence=key, doc_id="d1", passage_id=f"p{n}", score=0.7,
                 citation=citation(**kw), start=0, end=len(text))


def answer_of(*quotes: Quote, question: str = "How do we file a grievance?") -> Answer:
    return Answer(question, True, list(quotes), [("d1", "Title")], 0.7)


def assert_fits(*items: discord.Embed) -> None:
    payload = {"embeds": [e.to_dict() for e in items]}
    errors = limits.check_message(payload)
    assert not errors, limits.flatten_errors(errors)


def unescaped_words(rendered: str) -> set[str]:
    return set(WORDS.findall(rendered.replace("\\", "")))


# -- trimming --------------------------------------------------------------------------------


def test_fit_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "Solidarity forever, for the union makes us strong and organized"
    out = discord_text.fit(text, 30)
    assert len(out) <= 30
    assert out.endswith("…")
    kept = out.removesuffix("…").rstrip()
    assert text.startswith(kept)
    assert text[len(kept)] == " ", "cut mid-word"


def test_fit_prefers_a_sentence_end() -> None:
    text = "We met on Monday. The steward took notes about the grievance and the remedy."
    out = discord_text.fit(text, 32)  # a sentence end in the second half of the room wins
    assert out == "We met on Monday. …"


def test_fit_measures_after_escaping() -> None:
    text = "*_" * 500  # every char doubles when escaped
    out = discord_text.fit(text, 101)
    assert len(out) <= 101
    assert not re.search(r"(?<!\\)[*_]", out.removesuffix("…")), "an escape was cut in half"


def test_fit_left_keeps_the_end_at_a_word_start() -> None:
    text = "first second third fourth fifth sixth"
    out = discord_text.fit_left(text, 15)
    assert len(out) <= 15 and out.startswith("…")
    assert text.endswith(out.removeprefix("…").strip())


def test_one_enormous_word_is_cut_hard_but_within_the_limit() -> None:
    assert len(discord_text.fit("x" * 5000, 100)) <= 100


def test_split_text_splits_between_words() -> None:
    text = " ".join(f"word{i}" for i in range(3000))
    pieces = discord_text.split_text(text, 500)
    assert all(len(p) <= 500 for p in pieces)
    assert " ".join(pieces) == text


# -- escaping --------------------------------------------------------------------------------


def test_quotes_cannot_ping_or_restyle() -> None:
    text = ("@everyone and @here: **vote** _now_ at [our site](https://evil.example) "
            "<@&123456789012345678> <@123456789012345678> `code` ~~gone~~ ||spoiler||")
    embed = embeds.answer_embed(answer_of(quote(text, key="")))
    desc = embed.description or ""
    assert "@everyone" not in desc and "@here" not in desc
    assert "<@&123456789012345678>" not in desc and "<@123456789012345678>" not in desc
    for raw in ("**vote**", "_now_", "`code`", "~~gone~~", "||spoiler||"):
        assert raw not in desc, raw
    assert re.search(r"(?<!\\)\[our site\]\(", desc) is None, "a quote made a masked link"
    assert_fits(embed)


def test_key_sentence_is_bold_and_the_rest_escaped() -> None:
    text = "Dues are *low*. The contract expires in June. Sign up today."
    embed = embeds.answer_embed(answer_of(quote(text, key="The contract expires in June.")))
    assert "**The contract expires in June.**" in (embed.description or "")
    assert r"\*low\*" in (embed.description or "")


def test_citation_links_the_title_and_names_publication_date_locator() -> None:
    embed = embeds.answer_embed(answer_of(quote("Dues are low.")))
    desc = embed.description or ""
    assert "[Maximizing México’s ‘CIO Moment’](https://example.org/voices/124/)" in desc
    assert "Bulletin, 2023-02-01" in desc and "¶ 15" in desc and "Jeffery Hermanson" in desc


def test_a_quote_repeated_on_other_pages_says_where_else_it_is() -> None:
    older = [citation(doc_id=f"d{n}", title=f"WHD *Claim* {n}", date=dt.date(2022, 1, n)) for n in (2, 3)]
    repeated = Quote(n=1, text="File within two years.", key_sentence="File within two years.", doc_id="d1",
                     passage_id="p1", score=0.7, citation=citation(), start=0, end=22, also_in=tuple(older))
    embed = embeds.answer_embed(answer_of(repeated))
    desc = embed.description or ""
    assert desc.count("File within two years.") == 1
    assert r"also in: WHD \*Claim\* 2 (2022-01-02); WHD \*Claim\* 3 (2022-01-03)" in desc
    assert_fits(embed)
    assert "also in" not in (embeds.answer_embed(answer_of(quote("Dues are low."))).description or "")


def test_a_url_that_would_break_the_link_is_quoted_or_dropped() -> None:
    line = embeds.citation_line(citation(url="https://x.org/a b)c"))
    assert "(https://x.org/a%20b%29c)" in line
    assert "](" not in embeds.citation_line(citation(url="javascript:alert(1)"))


def test_not_found_lists_the_closest_titles() -> None:
    ans = Answer("pizza?", False, [], [("a", "March *Bulletin*"), ("b", "Strike @everyone")], 0.1)
    embed = embeds.answer_embed(ans)
    desc = embed.description or ""
    assert "couldn't find" in desc
    assert r"March \*Bulletin\*" in desc and "@everyone" not in desc


# -- limits ----------------------------------------------------------------------------------


def test_an_answer_far_over_the_limits_is_trimmed_not_rejected() -> None:
    long_sentence = " ".join(["solidarity"] * 900) + "."
    quotes = [
        quote(f"Before. {long_sentence} After.", key=long_sentence, n=n,
              title="T" * 900, url="https://example.org/" + "a" * 3000)
        for n in (1, 2, 3)
    ]
    embed = embeds.answer_embed(answer_of(*quotes, question="Q" * 5000))
    assert len(embed.description or "") <= embeds.DESCRIPTION_MAX
    assert len(embed.title or "") <= embeds.TITLE_MAX
    assert len(embed) <= embeds.EMBED_TOTAL_MAX
    assert_fits(embed)
    # every [n] survives, each quote trimmed between words, never mid-word
    for n in (1, 2, 3):
        assert f"**[{n}]**" in (embed.description or "")
    assert "solidarit…" not in (embed.description or "")


def test_the_key_sentence_survives_trimming_of_its_neighbours() -> None:
    before = " ".join(f"Filler sentence number {i}." for i in range(200))
    key = "The grievance must be filed within thirty days."
    text = f"{before} {key} {before}"
    body = embeds.quote_body(quote(text, key=key), 600)
    assert f"**{key}**" in body
    assert len(body) <= 600
    assert body.startswith("“…") and body.endswith("…”")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("ab cd*_~`|>#@[]()\\<&!.?\n")), min_size=0,
                max_size=3000),
        min_size=1, max_size=3,
    ),
    st.text(max_size=400),
)
def test_any_answer_fits(texts: list[str], title: str) -> None:
    quotes = []
    for n, text in enumerate(texts, start=1):
        text = text.strip() or "x"
        key = text[len(text) // 3 : len(text) // 3 + 200].strip() or text
        quotes.append(quote(text, key=key, n=n, title=title or "t"))
    embed = embeds.answer_embed(answer_of(*quotes, question=title or "q"))
    assert_fits(embed)
    assert "@everyone" not in (embed.description or "")


def test_source_pages_split_long_context_and_pack_into_messages() -> None:
    paragraph = " ".join(["The local voted to ratify the agreement."] * 40)
    context = "\n\n".join([paragraph] * 12)  # ~20k chars
    q = quote(paragraph, key=paragraph)
    items = embeds.source_embeds([(q, context)])
    assert len(items) > 1
    messages = embeds.pack(items)
    for group in messages:
        assert sum(len(e) for e in group) <= embeds.EMBED_TOTAL_MAX
        assert len(group) <= embeds.EMBEDS_PER_MESSAGE
        assert_fits(*group)
    shown = " ".join((e.description or "") for e in items)
    assert unescaped_words(shown) >= unescaped_words(context), "some of the source is missing"


def _doc(i: int, url: str | None) -> Any:
    from corpus.store import DocumentInfo

    return DocumentInfo(f"d{i}", "src", "Title *x* " * 60, "A @here", dt.date(2024, 1, i + 1),
                        "Bulletin", url, (), "text", 10, "", "")


@pytest.mark.parametrize("url", [None, "https://example.org/" + "p" * 480])
def test_search_and_document_embeds_fit_every_entry(url: str | None) -> None:
    from corpus.types import Passage
    from embeddings.search import Hit

    docs = [_doc(i, url) for i in range(25)]
    for page in range(3):
        item = embeds.documents_embed("Documents", docs, page, 10, 3)
        assert_fits(item)
        for n in range(page * 10 + 1, min(page * 10 + 10, 25) + 1):
            assert f"**{n}.**" in (item.description or ""), "an entry was cut off"
    text = "Members *voted* @everyone " * 200
    hits = [Hit(Passage(f"p{i}", f"d{i}", 0, len(text), text, "page", 3), docs[i], 1.0, 0.5,
                0.0, np.zeros(1)) for i in range(20)]
    for page in range(2):
        item = embeds.search_embed("q", hits, page, 10, 2)
        assert_fits(item)
        for n in range(page * 10 + 1, page * 10 + 11):
            assert f"**{n}.**" in (item.description or ""), "an entry was cut off"
        assert "@everyone" not in (item.description or "")


def test_stats_embed_fits() -> None:
    assert_fits(embeds.stats_embed({"documents": 2, "passages": 87, "store_bytes": 10 ** 6}))


def test_stats_tell_an_admin_when_a_reindex_would_speed_up_quotes() -> None:
    def field(stats: dict[str, object]) -> str:
        embed = embeds.stats_embed(stats)
        return next(f.value for f in embed.fields if f.name == "Sentence vectors") or ""

    upgraded = {"indexed_passages": 87, "passages_with_sentence_vectors": 0}
    assert "0 of 87" in field(upgraded) and "/admin reindex" in field(upgraded)
    current = {"indexed_passages": 87, "passages_with_sentence_vectors": 87}
    assert "87 of 87" in field(current) and "reindex" not in field(current)


def test_plain_content_is_at_most_2000() -> None:
    assert len(discord_text.plain("word " * 1000)) <= discord_text.CONTENT_MAX


# -- uploads ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("bulletin.pdf", "application/pdf", ".pdf"),
        ("March.HTML", None, ".html"),
        ("notes.md", "text/markdown", ".md"),
        ("../../config.toml", "application/toml", None),
        ("..\\..\\evil.exe", "application/octet-stream", None),
        ("no-extension", "application/pdf", ".pdf"),
        ("report.docx.exe", None, None),
        ("agenda.txt", "text/plain; charset=utf-8", ".txt"),
    ],
)
def test_upload_extension_keeps_only_supported_ones(
    name: str, content_type: str | None, expected: str | None
) -> None:
    assert upload_extension(name, content_type) == expected


def test_saved_upload_stays_inside_the_folder(tmp_path: Path) -> None:
    uploads = tmp_path / "data" / "uploads"
    path = save_upload(uploads, b"Dues are due.", ".md")
    assert path.parent == uploads
    assert re.fullmatch(r"upload-[0-9a-f]{16}\.md", path.name)
    assert path.read_bytes() == b"Dues are due."
    assert save_upload(uploads, b"Dues are due.", ".md") == path  # same content, same name
    assert sorted(p.name for p in uploads.iterdir()) == [path.name]  # no temp files left
    with pytest.raises(ValueError):
        save_upload(uploads, b"x", "/../../config.toml")


# -- cooldown ---------------------------------------------------------------------------------


def test_question_limiter_is_per_member() -> None:
    limiter = QuestionLimiter(2, 60)
    assert limiter.hit(1)[1] is None
    assert limiter.hit(1)[1] is None
    retry = limiter.hit(1)[1]
    assert retry is not None and 0 < retry <= 60
    assert limiter.hit(2)[1] is None
