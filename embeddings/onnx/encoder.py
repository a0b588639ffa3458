"""Serving: sentence embeddings with ONNX Runtime (fp32 or int8) from a cached export.

Serving imports only numpy, onnxruntime and tokenizers: torch is imported lazily, and only
when the model has to be exported (once per model and recipe; ``embeddings.onnx.export``
builds the cache entry, ``embeddings.onnx.cache`` keeps it safe to share between processes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from embeddings.onnx.cache import build_once, valid_file
from embeddings.onnx.export import (
    INT8_FILE,
    MODEL_FILE,
    OnnxExportError,
    build,
    check_supported,
    load_tokenizer,
    model_fingerprint,
    resolve_max_seq_length,
)
from embeddings.onnx.session import available_cores, open_session, padded_inputs
from embeddings.progress import progress_bar
from embeddings.spans import Span, pool_spans

log = logging.getLogger(__name__)


class OnnxEncoder:
    """A sentence-transformers model served by ONNX Runtime; vectors are L2-normalised.

    ``model_path`` is a local sentence-transformers folder (Transformer + mean Pooling
    [+ Normalize]). The ONNX files are exported once into ``cache_dir`` (see the module
    docstring) and loaded from there afterwards without importing torch.
    """

    name: str
    dimension: int
    max_seq_length: int

    def __init__(
        self,
        model_path: str,
        cache_dir: Path,
        *,
        quantize: bool = True,
        threads: int | None = None,
        max_seq_length: int | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_dir():
            raise FileNotFoundError(f"{model_path} is not a local model folder")
        check_supported(self.model_path)
        self.name = str(self.model_path)
        self.quantize = quantize
        self.max_seq_length = resolve_max_seq_length(self.model_path, max_seq_length)

        self.cache_dir = Path(cache_dir) / model_fingerprint(self.model_path)
        self.onnx_path = self.cache_dir / (INT8_FILE if quantize else MODEL_FILE)

        tokenizer = load_tokenizer(self.model_path, self.cache_dir)
        tokenizer.no_padding()  # tokenizer.json may fix padding (to 128 here): pad per batch
        tokenizer.no_truncation()
        self._counter = Tokenizer.from_str(tokenizer.to_str())  # untruncated, for token_counts
        tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer = tokenizer
        pad_id = tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad_id is None else pad_id

        self._threads = threads or available_cores()
        self._session = self._open_session()
        self._input_names = [i.name for i in self._session.get_inputs()]
        self._outputs = [o.name for o in self._session.get_outputs()]
        width = self._session.get_outputs()[0].shape[-1]
        self.dimension = width if isinstance(width, int) else int(self._run_batch(["x"]).shape[1])

    # -- public API ------------------------------------------------------------------------

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """float32 (len(texts), dimension), L2-normalised, in input order.

        Texts are sorted by token length in chunks and batched, so a batch pads only to its own
        longest text; text longer than ``max_seq_length`` tokens is truncated.
        """
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of strings, not one string")
        n = len(texts)
        out = np.empty((n, self.dimension), dtype=np.float32)
        if n == 0:
            return out
        for idx, encodings in self._batches(texts, batch_size, progress):
            out[idx] = self._run_encodings(encodings)
        return out

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``encode(texts)`` and, from the same pass, a vector for each character span of each
        text (``embeddings.spans.pool_spans``; NaN rows for spans past the truncation)."""
        n = len(texts)
        out = np.empty((n, self.dimension), dtype=np.float32)
        pooled: list[np.ndarray] = [np.empty((0, self.dimension), np.float32)] * n
        for idx, encodings in self._batches(texts, batch_size, progress):
            vectors, states = self._run_encodings(encodings, with_states=True)
            out[idx] = vectors
            for row, (i, e) in enumerate(zip(idx, encodings, strict=True)):
                pooled[i] = pool_spans(states[row, : len(e.ids)], e.offsets, e.special_tokens_mask, spans[i])
        return out, pooled

    def _batches(
        self, texts: Sequence[str], batch_size: int, progress: bool
    ) -> Iterator[tuple[list[int], list[Any]]]:
        """(positions in ``texts``, their encodings) per batch of similar token lengths."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.quantize:
            # Dynamic int8 quantisation takes each activation's range over the whole input
            # tensor, so in a batch a text's vector would depend on its neighbours (and on their
            # padding): the same bulletin ingested alone or in a folder would get different
            # vectors, and different answers. One text per run gives each text its own ranges;
            # measured no slower here (docs/speed.md), as a batch of one pads nothing.
            batch_size = 1
        n = len(texts)
        bar = progress_bar(n) if progress and n else None
        # Tokenise and sort a chunk at a time so a million passages never sit tokenised in
        # memory at once; sorting within 64 batches pads almost as little as sorting all.
        chunk = batch_size * 64
        for start in range(0, n, chunk):
            part = [texts[i] for i in range(start, min(n, start + chunk))]
            encodings = self._tokenizer.encode_batch(part)
            order = sorted(range(len(part)), key=lambda i: len(encodings[i].ids))
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                yield [start + i for i in idx], [encodings[i] for i in idx]
                if bar is not None:
                    bar.update(len(idx))
        if bar is not None:
            bar.close()

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each text including [CLS]/[SEP], without truncation.

        A count above ``max_seq_length`` means the encoder sees only the first
        ``max_seq_length`` tokens of that text.
        """
        return [len(e.ids) for e in self._counter.encode_batch(list(texts))]

    # -- running -----------------------------------------------------------------------------

    def _run_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._run_encodings(self._tokenizer.encode_batch(list(texts)))

    @overload
    def _run_encodings(self, encodings: Sequence[Any]) -> np.ndarray: ...
    @overload
    def _run_encodings(self, encodings: Sequence[Any], with_states: bool) -> tuple[np.ndarray, np.ndarray]: ...

    def _run_encodings(self, encodings: Sequence[Any], with_states: bool = False) -> Any:
        inputs = padded_inputs(encodings, self._pad_id, self._input_names)
        if not with_states:
            return self._session.run(self._outputs[:1], inputs)[0]
        if len(self._outputs) < 2:
            raise OnnxExportError(
                f"{self.onnx_path} has no token-state output; delete {self.cache_dir} to export it again"
            )
        vectors, states = self._session.run(self._outputs[:2], inputs)
        return vectors, states

    # -- cache and export ------------------------------------------------------------------

    def _open_session(self) -> ort.InferenceSession:
        error = ""

        def ready(quiet: bool) -> ort.InferenceSession | None:
            nonlocal error
            session, error = _try_load(self.onnx_path, self._threads, quiet=quiet)
            return session

        session = build_once(
            self.cache_dir, ready, lambda: build(self.model_path, self.cache_dir, quantize=self.quantize)
        )
        if session is None:
            raise OnnxExportError(
                f"the exported model {self.onnx_path} cannot be loaded ({error}); delete "
                f"{self.cache_dir} to export it again"
            )
        return session


def _try_load(path: Path, threads: int, *, quiet: bool = False) -> tuple[ort.InferenceSession | None, str]:
    """A session for a whole, loadable cached model, or (None, why not)."""
    if valid_file(path, quiet=quiet) is None:
        return None, "missing or damaged"
    try:
        return open_session(path, threads), ""
    except Exception as err:  # ORT raises its own Fail/InvalidProtobuf/... types
        if not quiet:
            log.warning("cached ONNX model %s cannot be loaded (%s); rebuilding", path, err)
        return None, str(err)
