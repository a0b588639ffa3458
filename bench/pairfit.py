"""Fit abstention thresholds per language pair on the dev set's tune half; report the other.

    python -m bench.devset --split all --cache --set answer.min_confidence=-1 \
        --set 'answer.min_confidence_by_pair={}' --json all.json     # (+ --set index.model=...)
    python -m bench.pairfit all.json --base 0.35          # fit on tune, print tune and report

A run at ``min_confidence=-1`` declines nothing, so its JSON holds every question's quotes
with their confidence and passage language (``Outcome.quotes``); any threshold table is then
replayed exactly as ``Answerer`` applies it (the best-scoring quote's pair threshold decides
whether to answer; a quote is shown when it clears the lower of the base and its pair's) without asking again.

The fit, per pair the tune half has uncovered questions for: the threshold that declines the
most uncovered questions whose best quote is in that pair while declining at most 5% of the
covered ones of the pair (at most floor(5% x n)), midway between the last uncovered score it
declines and the next covered score. A pair where the confidence does not separate covered from uncovered questions
(``MIN_SEPARATION``) is left out. A pair declining no uncovered question keeps the base
(lowered if the base declines too many covered ones); en-en keeps the base, which was
calibrated on the English dev set alone.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.thresholds import pair_key, threshold

FALSE_ABSTAIN_CAP = 0.05
# A pair is fitted only where a covered question's best confidence beats an uncovered one's at
# least this often (ROC AUC). all-MiniLM-L6-v2 is English-only: across languages its confidence
# ranks uncovered questions ABOVE covered ones (en-es 0.04, es-en 0.55 on tune), and a threshold
# fitted there would just quote wrong passages to English questions about Spanish text.
MIN_SEPARATION = 0.7


def separation(covered: Sequence[float], uncovered: Sequence[float]) -> float:
    """The share of (covered, uncovered) pairs in which the covered question scores higher."""
    wins = sum((c > u) + 0.5 * (c == u) for c in covered for u in uncovered)
    return wins / (len(covered) * len(uncovered)) if covered and uncovered else 0.0


def replay(outcome: Mapping[str, object], base: float, by_pair: Mapping[str, float]) -> tuple[bool, bool]:
    """(answered, hit@3) of ``outcome`` under the thresholds."""
    quotes: Sequence[Sequence[object]] = outcome["quotes"]  # type: ignore[assignment]
    lang = str(outcome["lang"])
    if not quotes:
        return False, False
    floor = [threshold(base, by_pair, lang, q[1]) for q in quotes]  # type: ignore[arg-type]
    best = max(range(len(quotes)), key=lambda i: float(quotes[i][0]))  # type: ignore[arg-type]
    if float(quotes[best][0]) < floor[best]:  # type: ignore[arg-type]
        return False, False
    return True, any(bool(q[2]) and float(q[0]) >= min(base, f)  # type: ignore[arg-type]
                     for q, f in zip(quotes, floor, strict=True))


def best_pair(outcome: Mapping[str, object]) -> str | None:
    """The pair of the question's best-scoring quote (what decides whether it is answered)."""
    quotes: Sequence[Sequence[object]] = outcome["quotes"]  # type: ignore[assignment]
    if not quotes:
        return None
    top = max(quotes, key=lambda q: float(q[0]))  # type: ignore[arg-type]
    return pair_key(str(outcome["lang"]), top[1])  # type: ignore[arg-type]


def fit(outcomes: Sequence[Mapping[str, object]], base: float) -> dict[str, float]:
    """Per pair, the threshold described in the module docstring (tune outcomes only)."""
    table: dict[str, float] = {}
    pairs = sorted({p for o in outcomes if (p := best_pair(o)) is not None})
    for name in pairs:
        mine = [o for o in outcomes if best_pair(o) == name]
        covered = sorted(max(float(q[0]) for q in o["quotes"]) for o in mine if o["kind"] == "covered")  # type: ignore[attr-defined]
        uncovered = sorted(max(float(q[0]) for q in o["quotes"]) for o in mine if o["kind"] != "covered")  # type: ignore[attr-defined]
        if not uncovered or name == "en-en":  # en-en: the base, calibrated on far more questions
            continue
        if separation(covered, uncovered) < MIN_SEPARATION:
            continue  # the confidence does not tell them apart: a threshold here is a coin toss
        allowed = math.floor(FALSE_ABSTAIN_CAP * len(covered))
        # A question scoring s is declined when s < t: t may be at most the allowed-th lowest
        # covered score (declining the allowed ones below it).
        ceiling = covered[allowed] if allowed < len(covered) else 1.0
        declined = [s for s in uncovered if s < ceiling]
        if not declined:
            # Nothing uncovered to decline: the base, or lower if the base declines too many.
            table[name] = min(base, math.floor(ceiling * 1e4) / 1e4)
            continue
        # Midway between the last uncovered score it declines and the next covered score up
        # (the widest margin on both sides: a few tune questions must not fix it to the digit).
        above = min((c for c in covered if c > declined[-1]), default=1.0)
        table[name] = round((declined[-1] + above) / 2, 4)
    return table


def figures(outcomes: Sequence[Mapping[str, object]], base: float, by_pair: Mapping[str, float],
            split: str) -> dict[str, dict[str, object]]:
    """Per question pair (question language -> corpus language): hit@3, false-abstain,
    uncovered declined."""
    from bench.devset import pair

    rows: dict[str, dict[str, object]] = {}
    chosen = [o for o in outcomes if o["split"] == split]
    groups: dict[str, list[Mapping[str, object]]] = {}
    for o in chosen:
        groups.setdefault(pair(str(o["lang"]), str(o["corpus"])), []).append(o)
        if o["lang"] == "es":
            groups.setdefault("es→*", []).append(o)
    for name, group in sorted(groups.items()):
        played = [(o, *replay(o, base, by_pair)) for o in group]
        cov = [(a, h) for o, a, h in played if o["kind"] == "covered"]
        unc = [a for o, a, _ in played if o["kind"] != "covered"]
        rows[name] = {
            "covered": len(cov), "hit@3": sum(h for _, h in cov) / len(cov) if cov else None,
            "false_abstain": sum(not a for a, _ in cov) / len(cov) if cov else None,
            "uncovered": len(unc), "declined": sum(not a for a in unc) / len(unc) if unc else None,
        }
    return rows


def _pct(v: object) -> str:
    return "  -  " if v is None else f"{100 * float(v):5.1f}"  # type: ignore[arg-type]


def render(rows: Mapping[str, Mapping[str, object]], title: str) -> str:
    lines = [title, f"{'pair':<7}{'cov':>4} {'hit@3':>5} {'f-abs':>5} │{'unc':>4} {'decl':>5}"]
    for name, m in rows.items():
        lines.append(f"{name:<7}{m['covered']:>4} {_pct(m['hit@3'])} {_pct(m['false_abstain'])} │"
                     f"{m['uncovered']:>4} {_pct(m['declined'])}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pairfit", description=__doc__.split("\n\n")[0])
    parser.add_argument("json", type=Path, help="a bench.devset --split all run at min_confidence=-1")
    parser.add_argument("--base", type=float, required=True, help="the model's min_confidence")
    args = parser.parse_args(argv)
    result = json.loads(args.json.read_text(encoding="utf-8"))
    outcomes = result["outcomes"]
    if (any("quotes" not in o for o in outcomes) or result.get("min_confidence") != -1
            or result.get("min_confidence_by_pair")):
        print(f"{args.json}: not a run that declines nothing; run bench.devset with --set "
              "answer.min_confidence=-1 --set 'answer.min_confidence_by_pair={}' first")
        return 2
    table = fit([o for o in outcomes if o["split"] == "tune"], args.base)
    print(f"{result['model']}: base {args.base}, fitted on tune: {json.dumps(table)}")
    for split in ("tune", "report"):
        print(render(figures(outcomes, args.base, {}, split), f"\n{split}, before (base only)"))
        print(render(figures(outcomes, args.base, table, split), f"{split}, after (per pair)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
