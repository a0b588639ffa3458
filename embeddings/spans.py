"""Vectors for spans of a passage (its sentences), from the same encoder pass as the passage.

Choosing a quote's key sentence compares the question with each sentence of the top
passages. Encoding those sentences at question time was most of an answer's time, so they are
made at ingest instead, for free: the transformer already computed a contextual vector for
every token of the passage, and a sentence's vector is the mean of its tokens' vectors, as
the passage's own is the mean of all of them. On SciFact training claims this chose an
evidence sentence as often as encoding each sentence alone did (69.3% vs 68.5% of 378
passages holding evidence; docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Span = tuple[int, int]


def pool_spans(
    states: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    special: Sequence[int],
    spans: Sequence[Span],
) -> np.ndarray:
    """L2-normalised mean of the token ``states`` inside each character span.

    ``offsets`` are each token's character span in the encoded text and ``special`` is 1 for
    [CLS]/[SEP]-like tokens. A span the encoder did not see whole (the text was truncated
    before its end) gets a row of NaN, for the caller to encode on its own.
    """
    out = np.full((len(spans), states.shape[1]), np.nan, dtype=np.float32)
    if not len(spans):
        return out
    bounds = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts, ends = bounds[:, 0], bounds[:, 1]
    real = (ends > starts) & (np.asarray(special, dtype=bool) == 0)
    if not real.any():
        return out
    seen_until = int(ends[real].max())
    for row, (a, b) in enumerate(spans):
        if b > seen_until:
            continue
        inside = real & (starts >= a) & (ends <= b)
        if inside.any():
            vector = states[inside].mean(axis=0)
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                out[row] = vector / norm
    return out


def shift(spans: Sequence[Span], by: int) -> list[Span]:
    return [(s + by, e + by) for s, e in spans]
