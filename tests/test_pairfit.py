"""bench.pairfit: per-language-pair thresholds fitted on hand-made dev-set outcomes, replayed
as Answerer applies them."""

from __future__ import annotations

from bench.pairfit import fit, replay


def _o(lang: str, kind: str, *quotes: tuple[float, str, bool]) -> dict[str, object]:
    return {"lang": lang, "kind": kind, "corpus": "samples", "split": "tune", "quotes": [list(q) for q in quotes]}


def test_the_fit_raises_a_cross_language_bar_above_uncovered_scores_without_declining_covered() -> None:
    outcomes = [_o("es", "covered", (s, "en", True)) for s in (0.80, 0.82, 0.85, 0.90)]
    outcomes += [_o("es", "near", (s, "en", False)) for s in (0.70, 0.75)]
    table = fit(outcomes, base=0.64)
    assert 0.75 < table["es-en"] < 0.80  # midway between the last uncovered and the first covered
    assert all(replay(o, 0.64, table)[0] for o in outcomes if o["kind"] == "covered")
    assert not any(replay(o, 0.64, table)[0] for o in outcomes if o["kind"] != "covered")


def test_a_pair_whose_confidence_does_not_separate_is_left_to_the_base() -> None:
    # Uncovered questions score above covered ones: no threshold helps, so none is fitted.
    outcomes = [_o("en", "covered", (s, "es", True)) for s in (0.15, 0.2, 0.25)]
    outcomes += [_o("en", "far", (s, "es", False)) for s in (0.3, 0.32)]
    assert "en-es" not in fit(outcomes, base=0.35)


def test_a_raised_bar_decides_answering_but_does_not_cut_later_quotes() -> None:
    # The answer is in the second quote, above the base but below the es-en bar.
    outcome = _o("es", "covered", (0.85, "en", False), (0.70, "en", True))
    assert replay(outcome, 0.64, {"es-en": 0.8}) == (True, True)
    assert replay(outcome, 0.64, {"es-en": 0.9}) == (False, False)
