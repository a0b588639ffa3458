"""Export a sentence-transformers model to ONNX, fuse it, quantise it and check it against torch.

The export (``torch.onnx.export(dynamo=True, opset_version=18)``) covers the transformer, mean
pooling over the attention mask and L2 normalisation, with dynamic batch and sequence axes.
For BERT models the graph is shaped so that onnxruntime's transformer optimizer can fuse it
(Attention, SkipLayerNormalization, BiasGelu); int8 is ``quantize_dynamic`` (per-channel
QInt8) of that fused graph. Every export is compared with sentence-transformers in torch on
fixed sentences, and refused if it does not match (the legacy ``dynamo=False`` exporter gives
wrong embeddings with transformers 5.x, so nothing is trusted unchecked).

torch, transformers and onnx are imported only inside the functions that export, so serving
(``embeddings.onnx.encoder``) can import this module without them.

Files of one cache entry (``embeddings.onnx.cache``; each ``*.json`` is the manifest of the
file it names: size, sha256 and how well it matched torch)::

    model.onnx            fp32, fused where possible
    model.onnx.json
    model-int8.onnx       int8 (dynamic, per-channel) from model.onnx
    model-int8.onnx.json
    reference.npy         torch's embeddings of the check sentences, so a later int8 build
                          (or a rebuild after corruption) is checked without loading torch
    reference.npy.json
    tokenizer.json        only for models that ship no tokenizer.json (converted once)
    .lock                 serialises builds by concurrent processes

Speed and accuracy of the exported graphs: docs/speed.md, "The ONNX Runtime encoder".
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from embeddings.onnx.cache import atomic_path, fingerprint, install, read_json, valid_file, work_dir
from embeddings.onnx.session import available_cores, open_session, padded_inputs
from embeddings.progress import quiet_library_progress

log = logging.getLogger(__name__)

# Bump when the exported graph changes (wrapper, opset, fusion, quantisation settings), so old
# caches are not reused.
EXPORT_RECIPE = "steward-onnx-4"  # 4: the token states are a second output (embeddings.spans)
OPSET = 18

# Verification bounds (cosine with torch on the check sentences). fp32 matches to ~1e-7.
# Dynamic int8 (activations quantised per tensor at run time) measured on ~200 varied texts:
# mean 0.992, worst 0.972 (one-token texts such as "?" are the worst); on the check sentences
# below: min 0.988, mean 0.991. The bounds sit just below that. (Tried for better int8
# accuracy, none clearly better: reduce_range, QUInt8 weights, leaving the embedding Gathers,
# the attention or the FFN output MatMuls in fp32.)
FP32_MIN_COSINE = 0.999
INT8_MIN_COSINE = 0.97
INT8_MEAN_COSINE = 0.985

# Fixed, varied check sentences: short and long, punctuation, non-ASCII, one past the
# truncation length (so the export is checked with padding and truncation both in play).
CHECK_SENTENCES: tuple[str, ...] = (
    "When is the next union meeting?",
    "How do I file a grievance about unpaid overtime?",
    "The bargaining committee reached a tentative agreement with management on Friday night, "
    "and members will vote on ratification next week.",
    "Solidarity forever — ¡sí se puede! Huelga general, 1934.",
    "Nurses at three hospitals voted 94% in favour of authorising a strike over safe staffing "
    "ratios, after eighteen months of negotiations in which the employer refused to put "
    "enforceable limits in the contract.",
    "wage theft",
    "The CIO organised workers industry by industry rather than craft by craft. " * 30,
    "Shop stewards are the union's first line: they answer questions on the floor, help "
    "members with grievances, and carry news between the membership and the local's officers.",
)

MODEL_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
REFERENCE_FILE = "reference.npy"


class OnnxExportError(RuntimeError):
    """The model could not be exported to ONNX, or the export did not match torch."""


def model_fingerprint(model_path: Path) -> str:
    """The name of ``model_path``'s cache entry: its files and this module's recipe."""
    return fingerprint(model_path, f"{EXPORT_RECIPE}|opset{OPSET}")


# -- the model folder -----------------------------------------------------------------------


def check_supported(model_path: Path) -> None:
    """Only Transformer + mean Pooling [+ Normalize] are exported; say so early otherwise."""
    modules = read_json(model_path / "modules.json") or []
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    extra = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if extra:
        raise OnnxExportError(
            f"the ONNX backend supports Transformer + Pooling + Normalize models; "
            f"{model_path} also has {', '.join(extra)}. Use the torch backend."
        )
    for m in modules:
        if str(m.get("type", "")).endswith("Pooling"):
            conf = read_json(model_path / str(m.get("path", "")) / "config.json")
            mode = conf.get("pooling_mode")
            mean = mode == "mean" if mode else bool(conf.get("pooling_mode_mean_tokens", True))
            others = [
                k
                for k, v in conf.items()
                if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens" and v is True
            ]
            if not mean or others:
                raise OnnxExportError(
                    f"the ONNX backend supports mean pooling only; {model_path} uses "
                    f"{mode or others}. Use the torch backend."
                )


def resolve_max_seq_length(model_path: Path, requested: int | None) -> int:
    """The length texts are truncated to: ``requested``, else the model's own default."""
    limit = int(read_json(model_path / "config.json").get("max_position_embeddings", 512))
    default = read_json(model_path / "sentence_bert_config.json").get("max_seq_length")
    if default is None:
        default = read_json(model_path / "tokenizer_config.json").get("model_max_length", limit)
    value = int(requested if requested is not None else min(int(default), limit))
    if not 2 <= value <= limit:
        raise ValueError(f"max_seq_length must be between 2 and {limit} for this model, not {value}")
    return value


def load_tokenizer(model_path: Path, entry: Path) -> Tokenizer:
    """The model's fast tokenizer, as its files configure it (padding and truncation too)."""
    path = model_path / "tokenizer.json"
    if not path.exists():
        # Older models ship only vocab.txt: convert once with transformers, keep it in the entry.
        path = entry / "tokenizer.json"
        if not path.exists():
            from transformers import AutoTokenizer

            entry.mkdir(parents=True, exist_ok=True)
            tok = AutoTokenizer.from_pretrained(str(model_path))
            with atomic_path(path) as tmp:
                tok.backend_tokenizer.save(str(tmp))
    return Tokenizer.from_file(str(path))


def _check_tokenizer(model_path: Path, entry: Path, max_seq_length: int) -> tuple[Tokenizer, int]:
    """The tokenizer the check sentences go through (unpadded, truncated), and its pad id."""
    tokenizer = load_tokenizer(model_path, entry)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_seq_length)
    return tokenizer, tokenizer.token_to_id("[PAD]") or 0


# -- building a cache entry (imports torch lazily) ---------------------------------------


def build(model_path: Path, entry: Path, *, quantize: bool) -> None:
    """Make the missing or broken files of ``entry``, each checked against torch.

    The caller holds the entry's lock (``embeddings.onnx.cache.build_once``).
    """
    fp32 = entry / MODEL_FILE
    if valid_file(fp32, quiet=True) is None or valid_file(entry / REFERENCE_FILE, quiet=True) is None:
        # The graph does not depend on the length; check it at the model's own default.
        _export_fp32(model_path, entry, resolve_max_seq_length(model_path, None))
    if quantize and valid_file(entry / INT8_FILE, quiet=True) is None:
        _quantize(model_path, entry)


def _install(tmp: Path, final: Path, meta: dict[str, Any]) -> None:
    install(tmp, final, {**meta, "recipe": EXPORT_RECIPE})


@contextlib.contextmanager
def _root_filter(keep: Any) -> Iterator[None]:
    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _embed_with(path: Path, texts: Sequence[str], tokenizer: Tokenizer, pad_id: int) -> np.ndarray:
    """Embed ``texts`` with the graph at ``path`` in one padded batch and one at a time."""
    session = open_session(path, available_cores())
    names = [i.name for i in session.get_inputs()]

    def run(batch: Sequence[str]) -> np.ndarray:
        encodings = tokenizer.encode_batch(list(batch))
        return session.run(None, padded_inputs(encodings, pad_id, names))[0]

    batched = run(texts)
    single = np.concatenate([run([t]) for t in texts])
    return np.concatenate([batched, single])


def _cosines(got: np.ndarray, reference: np.ndarray) -> np.ndarray:
    ref = np.concatenate([reference, reference])  # _embed_with returns batched + single
    return (got * ref).sum(axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1) + 1e-12)


def _export_fp32(model_path: Path, entry: Path, max_seq_length: int) -> None:
    """Export, fuse and check the fp32 graph; write model.onnx and reference.npy."""
    started = time.perf_counter()
    import torch
    from sentence_transformers import SentenceTransformer

    entry.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX in %s (once per model; takes a few seconds)", model_path, entry)
    with quiet_library_progress():
        st = SentenceTransformer(str(model_path), device="cpu")
    st.eval()
    st.max_seq_length = max_seq_length
    reference = np.asarray(
        st.encode(
            list(CHECK_SENTENCES),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ),
        dtype=np.float32,
    )
    tokenizer, pad_id = _check_tokenizer(model_path, entry, max_seq_length)

    transformer = st[0].auto_model
    config = transformer.config
    bert_like = (
        getattr(config, "model_type", "") == "bert"
        and hasattr(transformer, "embeddings")
        and hasattr(transformer, "encoder")
    )
    with work_dir(entry, "export") as work_name:
        work = Path(work_name)
        raw = work / "raw.onnx"
        _torch_export(torch, transformer, bert_like, raw)
        candidates: list[tuple[str, Path]] = []
        if bert_like:
            fused = work / "fused.onnx"
            try:
                _fuse_bert(raw, fused, config)
                candidates.append(("fused", fused))
            except Exception as err:  # the optimizer is best effort: the plain graph also works
                log.warning("onnxruntime's transformer optimizer failed (%s); using the plain graph", err)
        candidates.append(("plain", raw))
        failures = []
        for label, path in candidates:
            cos = _cosines(_embed_with(path, CHECK_SENTENCES, tokenizer, pad_id), reference)
            if float(cos.min()) >= FP32_MIN_COSINE:
                np.save(work / REFERENCE_FILE, reference)
                _install(work / REFERENCE_FILE, entry / REFERENCE_FILE, {"sentences": len(CHECK_SENTENCES)})
                _install(
                    path,
                    entry / MODEL_FILE,
                    {
                        "graph": label,
                        "min_cosine_vs_torch": float(cos.min()),
                        "model_path": str(model_path),
                        "max_seq_length_checked": max_seq_length,
                        "torch": torch.__version__,
                        "onnxruntime": ort.__version__,
                        "export_seconds": round(time.perf_counter() - started, 1),
                    },
                )
                log.info(
                    "ONNX export done in %.1f s (%s graph, min cosine vs torch %.7f)",
                    time.perf_counter() - started,
                    label,
                    cos.min(),
                )
                return
            failures.append(f"{label}: min cosine {cos.min():.6f}")
            log.warning("the %s ONNX graph does not match torch (min cosine %.6f)", label, cos.min())
    raise OnnxExportError(
        f"the ONNX export of {model_path} does not match sentence-transformers in torch "
        f"({'; '.join(failures)}; need >= {FP32_MIN_COSINE}). Use the torch backend."
    )


def _torch_export(torch: Any, transformer: Any, bert_like: bool, out: Path) -> None:
    """torch.onnx.export(dynamo=True) of transformer + mean pooling + L2 normalisation."""
    import warnings

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            if bert_like:
                # The classic additive mask, (1 - mask) * -10000 from two Unsqueezes, and
                # scores / sqrt(d) are what onnxruntime's Attention fusion recognises;
                # transformers 5's own mask (Where/And/GatherND) and `* scaling` are not.
                hidden = self.model.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
                additive = (1.0 - attention_mask.unsqueeze(1).unsqueeze(2).to(hidden.dtype)) * -10000.0
                hidden = self.model.encoder(hidden, attention_mask=additive).last_hidden_state
            else:
                hidden = self.model(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            # Not F.normalize: its ReduceL2 defeats onnxruntime's symbolic shape inference,
            # which the fusions need. The token states come out too, for sentence vectors.
            return pooled / torch.sqrt((pooled * pooled).sum(1, keepdim=True)).clamp(min=1e-12), hidden

    if bert_like:
        _use_fusable_attention(transformer)
    else:
        transformer.set_attn_implementation("eager")  # sdpa exports to a slower graph
    wrapper = SentenceEmbedding(transformer).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2088, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    axes = {0: batch, 1: seq}
    # The exporter warns that torchvision ops are unavailable (they are not needed here).
    quiet = _quiet_logger("torch.onnx._internal.exporter._registration")
    with quiet, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (ids, mask, torch.zeros_like(ids)),
            str(out),
            dynamo=True,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            # not "embedding": the exporter names an internal value that, and duplicates fail
            output_names=["sentence_embedding", "token_states"],
            dynamic_shapes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes},
            external_data=False,
            verbose=False,
        )
    if bert_like:
        _split_mask_unsqueeze(out)


def _use_fusable_attention(transformer: Any) -> None:
    """Eager attention written as onnxruntime's fusion expects: (q @ k^T) / sqrt(d) + mask."""
    import torch
    from transformers import AttentionInterface

    def attention(
        module: Any,
        query: Any,
        key: Any,
        value: Any,
        attention_mask: Any,
        scaling: float | None = None,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        scores = torch.matmul(query, key.transpose(2, 3)) / (query.size(-1) ** 0.5)
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = torch.softmax(scores, dim=-1)
        return torch.matmul(probs, value).transpose(1, 2).contiguous(), probs

    AttentionInterface.register("steward_onnx_export", attention)
    transformer.set_attn_implementation("steward_onnx_export")


def _split_mask_unsqueeze(path: Path) -> None:
    """Unsqueeze(mask, [1, 2]) -> Unsqueeze(Unsqueeze(mask, [1]), [2]), the fusable form.

    The exporter's optimiser merges the two Unsqueezes of the wrapper into one.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    for index, node in enumerate(graph.node):
        if node.op_type == "Unsqueeze" and node.input[0] == "attention_mask":
            graph.initializer.extend(
                [
                    numpy_helper.from_array(np.array([1], dtype=np.int64), "mask_unsqueeze_axes_1"),
                    numpy_helper.from_array(np.array([2], dtype=np.int64), "mask_unsqueeze_axes_2"),
                ]
            )
            first = helper.make_node(
                "Unsqueeze",
                ["attention_mask", "mask_unsqueeze_axes_1"],
                ["mask_unsqueeze_1"],
                name="mask_unsqueeze_1",
            )
            second = helper.make_node(
                "Unsqueeze",
                ["mask_unsqueeze_1", "mask_unsqueeze_axes_2"],
                list(node.output),
                name="mask_unsqueeze_2",
            )
            old_axes = node.input[1]
            graph.node.remove(node)
            graph.node.insert(index, second)
            graph.node.insert(index, first)
            if not any(old_axes in n.input for n in graph.node):
                for init in list(graph.initializer):
                    if init.name == old_axes:
                        graph.initializer.remove(init)
            break
    onnx.save(model, str(path))


def _fuse_bert(raw: Path, out: Path, config: Any) -> None:
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(raw),
        model_type="bert",
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=0,  # graph fusions only; ORT applies its own optimisations at load time
        use_gpu=False,
    )
    log.info("ONNX fusions: %s", {k: v for k, v in optimized.get_fused_operator_statistics().items() if v})
    optimized.save_model_to_file(str(out))


def _quantize(model_path: Path, entry: Path) -> None:
    """model.onnx -> model-int8.onnx, checked against torch's stored reference embeddings."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    reference = np.load(entry / REFERENCE_FILE)
    with work_dir(entry, "quantize") as work_name:
        out = Path(work_name) / INT8_FILE
        # Drop the "consider pre-processing" advice the quantizer logs on the root logger (a
        # filter on the root logger sees only records logged on it, not other modules' logs).
        with _root_filter(lambda record: "pre-processing" not in record.getMessage()):
            quantize_dynamic(
                str(entry / MODEL_FILE),
                str(out),
                per_channel=True,
                weight_type=QuantType.QInt8,
            )
        # The check sentences are tokenised exactly as the reference was (same max length).
        checked = int(read_json(entry / (MODEL_FILE + ".json")).get("max_seq_length_checked", 256))
        checker, pad_id = _check_tokenizer(model_path, entry, checked)
        cos = _cosines(_embed_with(out, CHECK_SENTENCES, checker, pad_id), reference)
        if float(cos.min()) < INT8_MIN_COSINE or float(cos.mean()) < INT8_MEAN_COSINE:
            raise OnnxExportError(
                f"the int8 model does not match torch closely enough (min cosine {cos.min():.4f}, "
                f"mean {cos.mean():.4f}; need >= {INT8_MIN_COSINE} and mean >= "
                f'{INT8_MEAN_COSINE}). Use index.backend = "onnx" (fp32) or "torch".'
            )
        _install(
            out,
            entry / INT8_FILE,
            {
                "quantization": "dynamic, per-channel, QInt8 weights",
                "min_cosine_vs_torch": float(cos.min()),
                "mean_cosine_vs_torch": float(cos.mean()),
                "onnxruntime": ort.__version__,
                "quantize_seconds": round(time.perf_counter() - started, 1),
            },
        )
        log.info(
            "int8 model done in %.1f s (min cosine vs torch %.4f, mean %.4f)",
            time.perf_counter() - started,
            cos.min(),
            cos.mean(),
        )
