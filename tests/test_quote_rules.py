"""What a member sees in a quote: no heading as the answer, no Markdown markup, the sentence
with the fact asked for, an announcing sentence completed, and repeated pages quoted once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stewardtest import make_steward

from bot import render
from bot.answer import _complete, wanted_facts

RIGHTS_MD = """---
title: Your rights at work
date: 2024-05-01
publication: Local 12 News
---
# Overtime Rights

## You have the right to be paid overtime.

Most hourly workers must be paid *one and a half times* their regular rate for every hour
over 40 in a workweek. Keep your own record of the hours you work. [Read the law](https://example.org/law).

## Filing a complaint about retaliation

If your boss fires you for union activity, call the regional office at 555-0100 to ask
questions. You must file a charge within six months of the firing. The charge form asks
for the following:

- your employer's name and address
- what happened and when

## Breaks

- Rest breaks of 10 minutes are paid time.
- Meal breaks of 30 minutes or more may be unpaid.
"""

BOILERPLATE = (
    "Members who have questions about their paycheck should contact the union hall before "
    "the end of the pay period, because the contract gives the union only thirty days to "
    "file a wage grievance on a member's behalf after the paycheck is issued."
)


def page(title: str, date: str, intro: str) -> str:
    return f"---\ntitle: {title}\ndate: {date}\n---\n{intro}\n\n{BOILERPLATE}\n"


@pytest.fixture(scope="module")
def rules_steward(tmp_path_factory: pytest.TempPathFactory, real_encoder: object) -> Iterator[object]:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rights.md").write_text(RIGHTS_MD, encoding="utf-8")
    (folder / "claim-a.md").write_text(page("Wage claim", "2023-01-10", "Our wage claim drive starts in March."))
    (folder / "claim-b.md").write_text(page("Wage claim", "2024-02-20", "The wage claim drive continues in May."))
    steward = make_steward(folder / "data", real_encoder)
    report = steward.ingest([str(folder / name) for name in ("rights.md", "claim-a.md", "claim-b.md")])
    assert report.ok, report.failed
    yield steward
    steward.close()


def stored_text(steward: object, doc_id: str) -> str:
    return steward.store.document(doc_id).text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "question",
    ["do we get paid overtime", "what are my overtime rights"],
)
def test_a_heading_is_never_the_key_sentence_nor_markup_in_a_quote(rules_steward, question: str) -> None:
    answer = rules_steward.ask(question)
    assert answer.answered
    for quote in answer.quotes:
        assert quote.key_sentence not in ("Overtime Rights", "You have the right to be paid overtime.",
                                          "Filing a complaint about retaliation", "Breaks")
        for marker in ("#", "*", "](", "- "):
            assert marker not in quote.text
        assert quote.text == stored_text(rules_steward, quote.doc_id)[quote.start : quote.end]
    shown = render.answer_text(answer)
    assert not any(line.lstrip().startswith(("#", "- ")) for line in shown.splitlines())


def test_the_sentence_with_the_deadline_is_quoted(rules_steward) -> None:
    answer = rules_steward.ask("how long after getting fired for organizing can we file a charge?")
    assert answer.answered
    first = answer.quotes[0]
    assert "within six months" in first.key_sentence
    assert "within six months" in first.text


def test_a_sentence_that_announces_a_list_is_quoted_with_it(rules_steward) -> None:
    answer = rules_steward.ask("what info does the charge form want?")
    assert answer.answered
    quote = next(q for q in answer.quotes if "asks for the following" in q.text)
    assert "your employer's name and address" in quote.text


def test_near_identical_pages_are_quoted_once_citing_the_newest(rules_steward) -> None:
    answer = rules_steward.ask("how many days does the union have to file a wage grievance?")
    assert answer.answered
    holding = [q for q in answer.quotes if "thirty days to file a wage grievance" in q.text]
    assert len(holding) == 1
    (quote,) = holding
    assert str(quote.citation.date) == "2024-02-20"
    assert [str(c.date) for c in quote.also_in] == ["2023-01-10"]
    assert "also in" in render.answer_text(answer)


def test_question_kinds_and_announcements() -> None:
    assert wanted_facts("what's the weather like") == []
    assert wanted_facts("how long do we have to file?")
    assert wanted_facts("¿cuándo se fundó el sindicato?")
    parts = ["It asks for the following:", "Your name.", "Your address.", "The date."]
    body = " ".join(parts)
    spans = [(body.index(p), body.index(p) + len(p)) for p in parts]
    assert _complete(body, spans, [False] * 4, 0) == 1  # the sentence it announces
    assert _complete(body, spans, [False, True, False, False], 0) == 0  # never into a heading


def test_the_markdown_sample_is_read_from_a_path(tmp_path: Path) -> None:
    # Guard for the fixture above: Markdown front matter gives the dates the citation shows.
    from corpus.load import load_source
    from corpus.types import ReaderSettings

    path = tmp_path / "claim.md"
    path.write_text(page("Wage claim", "2024-02-20", "Intro."), encoding="utf-8")
    (doc,) = load_source(str(path), ReaderSettings(isolate=False))
    assert str(doc.date) == "2024-02-20" and doc.text.endswith("issued.")
