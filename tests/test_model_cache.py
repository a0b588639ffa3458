"""The exported model lives in one per-user cache shared by every data folder and process:
built once, by one process at a time, and never used half-written."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from stewardtest import CONFIG, REPO

import embeddings.onnx.encoder as onnx_encoder
from bot.app import Steward
from bot.config import load_config
from embeddings.onnx.cache import build_once, cache_root, install, valid_file, work_dir

# A stand-in for the real export (which takes ~30 s): one builder process of a cache entry.
# argv: entry, signal folder, name, mode ("build": write the file when told to; "die": leave
# a half-written file and wait to be killed).
BUILDER = r"""
import sys, time
from pathlib import Path
from embeddings.onnx.cache import build_once, install, valid_file, work_dir

entry, signals, name, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
target = entry / "model.bin"

def ready(quiet):
    found = valid_file(target, quiet=quiet)
    (signals / f"{name}-checked-{'again' if quiet else 'first'}").touch()
    return found

def build():
    with open(signals / "builds", "a") as f:
        f.write(name + "\n")
    with work_dir(entry, "export") as work:
        part = Path(work) / "model.bin"
        part.write_bytes(b"half")
        if mode == "die":
            target.write_bytes(b"half")  # even at the final name, without a manifest
        (signals / f"{name}-building").touch()
        while not (signals / "go").exists():
            time.sleep(0.01)
        part.write_bytes(b"whole model " * 1000)
        install(part, target, {"by": name})

print(build_once(entry, ready, build)["by"])
"""


def start_builder(entry: Path, signals: Path, name: str, mode: str = "build") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", BUILDER, str(entry), str(signals), name, mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(marker: Path, process: subprocess.Popen[str]) -> None:
    """Until ``marker`` exists; fails (instead of hanging) if the process died first."""
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"builder exited early: {process.communicate()[1]}")
        time.sleep(0.01)


def test_two_processes_building_at_once_end_with_one_build(tmp_path: Path) -> None:
    entry, signals = tmp_path / "cache" / "entry", tmp_path / "signals"
    signals.mkdir()
    first = start_builder(entry, signals, "first")
    wait_for(signals / "first-building", first)  # holds the lock, nothing installed yet
    second = start_builder(entry, signals, "second")
    wait_for(signals / "second-checked-first", second)  # found no model, so it waits for the lock
    (signals / "go").touch()
    outputs = [p.communicate() for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    # The second process waited, looked again, and used the first one's model.
    assert [out.strip() for out, _ in outputs] == ["first", "first"]
    assert (signals / "second-checked-again").exists()
    assert (signals / "builds").read_text() == "first\n"
    assert valid_file(entry / "model.bin") is not None
    assert not [p for p in entry.iterdir() if p.is_dir() or p.name.endswith(".tmp")]


def test_a_build_killed_halfway_is_never_used(tmp_path: Path) -> None:
    entry, signals = tmp_path / "cache" / "entry", tmp_path / "signals"
    signals.mkdir()
    killed = start_builder(entry, signals, "killed", "die")
    wait_for(signals / "killed-building", killed)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert (entry / "model.bin").read_bytes() == b"half"
    assert [p for p in entry.iterdir() if p.is_dir()], "the killed build left its work folder"

    builds: list[str] = []

    def build() -> None:
        builds.append("again")
        assert not [p for p in entry.iterdir() if p.is_dir()], "leftovers are cleared before a build"
        with work_dir(entry, "export") as work:
            part = Path(work) / "model.bin"
            part.write_bytes(b"whole model")
            install(part, entry / "model.bin", {"by": "again"})

    meta = build_once(entry, lambda quiet: valid_file(entry / "model.bin", quiet=quiet), build)
    assert builds == ["again"]
    assert meta is not None and meta["by"] == "again"
    assert (entry / "model.bin").read_bytes() == b"whole model"


def test_a_corrupt_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    entry = tmp_path / "entry"
    entry.mkdir()
    builds = 0

    def build() -> None:
        nonlocal builds
        builds += 1
        with work_dir(entry, "export") as work:
            part = Path(work) / "model.bin"
            part.write_bytes(b"whole model")
            install(part, entry / "model.bin", {})

    def ready(quiet: bool) -> dict | None:
        return valid_file(entry / "model.bin", quiet=quiet)

    build_once(entry, ready, build)
    (entry / "model.bin").write_bytes(b"whole mode!")  # same size, one byte flipped
    build_once(entry, ready, build)
    assert builds == 2
    assert "damaged" in caplog.text
    assert (entry / "model.bin").read_bytes() == b"whole model"
    build_once(entry, ready, build)
    assert builds == 2  # a whole entry is used as it is


def test_the_cache_is_per_user_unless_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEWARD_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == tmp_path / "home" / ".cache" / "steward"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid per the XDG spec: ignored
    assert cache_root() == tmp_path / "home" / ".cache" / "steward"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "steward"
    assert cache_root("~/models") == tmp_path / "home" / "models"  # [index] model_cache
    monkeypatch.setenv("STEWARD_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root("~/models") == tmp_path / "env"

    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[index]\nmodel_cache = "{tmp_path / "configured"}"\n')
    assert load_config(config_file).encoder_settings().model_cache == str(tmp_path / "configured")


def test_two_data_folders_share_one_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_encoder: onnx_encoder.OnnxEncoder
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("STEWARD_CACHE_DIR", str(cache))
    # Start from the session's fp32 export so this test builds only the int8 model (seconds).
    entry = cache / "onnx" / real_encoder.cache_dir.name
    entry.mkdir(parents=True)
    for name in ("model.onnx", "reference.npy"):
        for file in (name, name + ".json"):
            shutil.copy2(real_encoder.cache_dir / file, entry / file)
    builds: list[Path] = []

    def counted_build(model_path: Path, at: Path, **kwargs: bool) -> None:
        builds.append(at)
        real_build(model_path, at, **kwargs)

    real_build = onnx_encoder.build
    monkeypatch.setattr(onnx_encoder, "build", counted_build)

    encoders = []
    for folder in ("bulletins", "archive"):
        steward = Steward(load_config(CONFIG, tmp_path / folder))
        encoders.append(steward.encoder)
        steward.close()
        assert not (tmp_path / folder / "models").exists()
    assert builds == [entry]  # the second data folder used the first one's export
    assert encoders[0].onnx_path == encoders[1].onnx_path == entry / "model-int8.onnx"
    question = ["How do I file a grievance?"]
    np.testing.assert_array_equal(encoders[0].encode(question), encoders[1].encode(question))
