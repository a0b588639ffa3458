"""A small run of the SciFact quality benchmark (bench/quality.py) on a few hundred abstracts.

It exercises the whole measured path — Steward's chunker, store, indexer, hybrid search and
answerer on real scientific abstracts — and checks the figures stay sane. The full benchmark
(``python -m bench.quality``) is not run in CI; see docs/quality.md.
"""

from __future__ import annotations

import argparse

import pytest

from bench import quality

pytestmark = pytest.mark.slow

DOCS = 150

if not (quality.DATA / "corpus.jsonl").is_file():
    pytest.skip(
        f"SciFact is not available at {quality.DATA} (the quality benchmark reads "
        "../shared/data/scifact beside the repository)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    args = argparse.Namespace(
        split="test",
        smoke=DOCS,
        json=None,
        config=str(quality.REPO / "config.toml"),
        data=quality.DATA,
        set=[],
        reference=False,
        no_abstain=False,
        answers=True,
        dump_confidences=False,
        quiet=True,
    )
    return quality.run(args)


def test_the_subset_is_the_documented_size(result: dict) -> None:
    assert DOCS - 10 <= result["documents"] <= DOCS
    assert result["queries"] >= 30
    assert result["passages"] >= result["documents"]


def test_rankings_are_well_above_their_floors(result: dict) -> None:
    r = result["retrieval"]
    # Measured on these 150 abstracts (onnx-int8): dense 0.94, BM25 0.92, hybrid 0.96.
    assert r["dense"]["ndcg@10"] >= 0.80
    assert r["keyword"]["ndcg@10"] >= 0.80
    assert r["hybrid"]["ndcg@10"] >= 0.85
    assert r["hybrid"]["ndcg@10"] >= max(r["dense"]["ndcg@10"], r["keyword"]["ndcg@10"]) - 0.02
    assert r["hybrid"]["recall@100"] >= 0.97
    for mode in r.values():
        assert 0.0 <= mode["mrr@10"] <= 1.0 and mode["recall@10"] <= mode["recall@100"]


def test_quotes_find_the_evidence(result: dict) -> None:
    q = result["quotes"]
    # Measured: 34 queries with evidence, 68% and 88%.
    assert q["queries_with_evidence"] >= 20
    assert q["top_key_sentence"] >= 0.45
    assert q["any_quoted_sentence"] >= 0.75


def test_out_of_domain_claims_are_declined(result: dict) -> None:
    # Measured: all 34 out-of-domain claims declined, 5 of 46 answerable claims declined.
    a = result["abstention"]
    assert a["out_of_domain_not_found"] >= 0.9
    assert a["answerable_not_found"] <= 0.15


def test_the_table_prints_every_row(result: dict) -> None:
    text = quality.table(result)
    for label in ("dense only", "BM25 only", "hybrid (default)", "BM25 + cross-encoder", "MTEB"):
        assert label in text
    assert "quote precision over" in text and "abstention at min_confidence=" in text
    assert "bound: " in text and "of answerable claims are shown a relevant abstract" in text


def test_the_abstention_bound_follows_from_what_answers_show(result: dict) -> None:
    # Measured: 44 of 46 answerable claims (95.7%) are shown a relevant abstract on this subset.
    a = result["abstention"]
    shown = a["answerable_shown_relevant"]
    assert 0.8 <= shown <= 1.0
    expected = min(1.0, quality.ANSWERABLE_DECLINED_TARGET / (1 - shown)) if shown < 1 else 1.0
    assert abs(a["removed_ceiling"] - expected) < 1e-9
    declined_out_of_domain = a["out_of_domain_not_found"] * a["out_of_domain"] / (a["out_of_domain"] + a["removed"])
    assert declined_out_of_domain <= a["unanswerable_ceiling"] <= 1.0
