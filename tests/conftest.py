"""Shared fixtures: a session-wide real model, a fast hashing encoder for index mechanics,
and Steward instances on throwaway data folders."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Steward answers in the shell's language (LC_ALL, LC_MESSAGES, LANG); the tests that read its
# English wording must not depend on the developer's locale. Tests of Spanish set their own.
os.environ.pop("LC_ALL", None)
os.environ.pop("LC_MESSAGES", None)
os.environ.pop("LANGUAGE", None)
os.environ["LANG"] = "C.UTF-8"
# Exported models go to one cache for every test run on this machine (exported once, ~30 s),
# never to the user's own ~/.cache/steward.
os.environ["STEWARD_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "steward-test-cache")

from stewardtest import CONFIG, HashEncoder, make_steward


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture
def fast_steward(tmp_path: Path, hash_encoder: HashEncoder) -> Iterator[object]:
    steward = make_steward(tmp_path / "data", hash_encoder)
    yield steward
    steward.close()


@pytest.fixture(scope="session")
def real_encoder():
    from bot.config import load_config
    from embeddings.encoder import load_encoder

    config = load_config(CONFIG)
    return load_encoder(config.encoder_settings())  # from $STEWARD_CACHE_DIR, set above


@pytest.fixture(scope="session")
def sample_steward(tmp_path_factory: pytest.TempPathFactory, real_encoder: object) -> Iterator[object]:
    """Steward with the real model and the shipped samples, shared by read-only tests."""
    steward = make_steward(tmp_path_factory.mktemp("samples") / "data", real_encoder)
    steward.ensure_samples()
    yield steward
    steward.close()


@pytest.fixture
def sample_data_dir(tmp_path: Path, sample_steward) -> Path:
    """A private copy of the sample Steward's data folder (ingest once, copy per test)."""
    import shutil

    sample_steward.store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    target = tmp_path / "data"
    shutil.copytree(sample_steward.data_dir, target, ignore=shutil.ignore_patterns("*.lock", "models"))
    return target
