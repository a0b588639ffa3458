"""Immutable index generations and the atomic pointer to the current one.

Layout under the index folder::

    CURRENT              name of the serving generation (replaced atomically)
    gen-000007/          manifest.json, dense.faiss, keyword/  (never changed once named)
    .tmp-gen-000008-PID/ a generation being written; ignored and cleaned up if left behind
    sentences-HASH.sqlite  sentence vectors shared by the generations (embeddings.sentence_store)

A generation folder is written completely under a temporary name, flushed to disk, renamed,
and only then does CURRENT point at it, so a kill at any moment leaves a complete
generation serving.

This module is what the writer (``embeddings.indexer``) and the reader
(``embeddings.search``) share: the file names, the manifest and the check that a generation
was built as configured, and loading one; neither imports the other.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from embeddings.dense import DenseIndex, DenseSettings
from embeddings.encoder import EncoderSettings
from embeddings.errors import IndexError_, IndexMismatch
from embeddings.keyword import KeywordIndex, tokenizer_recipe

_GEN = re.compile(r"^gen-(\d{6})$")
MANIFEST = "manifest.json"
DENSE_FILE = "dense.faiss"
KEYWORD_DIR = "keyword"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class IndexSettings:
    encoder: EncoderSettings
    chunker: dict[str, int]
    embed_title: bool = True
    keep_generations: int = 2
    dense: DenseSettings = field(default_factory=DenseSettings)


@dataclass
class Manifest:
    """What made a generation: checked on every load (invariant: the index knows its model)."""

    model: str
    dimension: int
    normalized: bool
    embed_title: bool
    chunker: dict[str, int]
    passages: int
    index_type: str
    created_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    )
    backend: str = "torch"
    format_version: int = FORMAT_VERSION
    index_params: dict[str, object] = field(default_factory=dict)
    # How the keyword index's terms were made (embeddings.keyword.tokenizer_recipe); {} in a
    # generation from before the recipe was recorded (one language's rules for every passage).
    keyword_tokenizer: dict[str, object] = field(default_factory=tokenizer_recipe)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data.setdefault("keyword_tokenizer", {})  # written before recipes were recorded
            return cls(**data)
        except FileNotFoundError as err:
            raise IndexError_(
                f"the index manifest {path} is missing; run `steward reindex` to rebuild the index"
            ) from err
        except (ValueError, TypeError) as err:
            raise IndexError_(
                f"the index manifest {path} is damaged ({err}); run `steward reindex`"
            ) from err


def keyword_tokenizer_problem(manifest: Manifest) -> str | None:
    """What differs between the keyword tokenizer that built ``manifest``'s generation and
    this Steward's, or None: questions tokenized one way cannot be matched to terms made
    another way."""
    if manifest.keyword_tokenizer == tokenizer_recipe():
        return None
    if not manifest.keyword_tokenizer:
        return "a keyword tokenizer from an older Steward (one language's rules for every passage)"
    return "another keyword tokenizer (stemmers, stop words or accent folding differ)"


def check_manifest(
    manifest: Manifest, settings: IndexSettings, dimension: int | None = None, keyword: bool = True,
) -> None:
    """Raise IndexMismatch when the index was built differently from the configuration;
    ``keyword=False`` leaves out the keyword tokenizer (for the indexer, which rebuilds it)."""
    problems = []
    if manifest.model != settings.encoder.model:
        problems.append(f"model {manifest.model!r} (configured: {settings.encoder.model!r})")
    if dimension is not None and manifest.dimension != dimension:
        problems.append(f"dimension {manifest.dimension} (the model gives {dimension})")
    if manifest.embed_title != settings.embed_title:
        problems.append(f"embed_title={manifest.embed_title} (configured: {settings.embed_title})")
    if manifest.chunker != settings.chunker:
        problems.append(f"chunker {manifest.chunker} (configured: {settings.chunker})")
    tokenizer = keyword_tokenizer_problem(manifest) if keyword else None
    if tokenizer:
        problems.append(tokenizer)
    if problems:
        raise IndexMismatch(
            "the index was built with " + "; ".join(problems)
            + ". Run `steward reindex` to rebuild it with the current settings."
        )


def checked_manifest(folder: Path, settings: IndexSettings, keyword: bool = True) -> Manifest:
    """The manifest of the generation in ``folder``, which must match ``settings``."""
    manifest = Manifest.read(folder / MANIFEST)
    check_manifest(manifest, settings, keyword=keyword)
    return manifest


@dataclass
class LoadedGeneration:
    name: str
    manifest: Manifest
    dense: DenseIndex
    keyword: KeywordIndex


def load_generation(folder: Path, settings: IndexSettings, mmap: bool = True) -> LoadedGeneration:
    """The generation in ``folder``, checked against ``settings`` and its own manifest."""
    manifest = checked_manifest(folder, settings)
    dense = DenseIndex.load(folder / DENSE_FILE, mmap=mmap, settings=settings.dense, params=manifest.index_params)
    try:
        keyword = KeywordIndex.load(folder / KEYWORD_DIR, mmap=mmap)
    except (OSError, ValueError, KeyError) as err:
        raise IndexError_(
            f"the keyword index in {folder} is damaged or missing ({err}); run `steward reindex`"
        ) from err
    if dense.size != manifest.passages:
        raise IndexError_(
            f"the index in {folder} holds {dense.size} vectors but its manifest says "
            f"{manifest.passages}; run `steward reindex`"
        )
    return LoadedGeneration(folder.name, manifest, dense, keyword)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush every file under ``path`` (and the folders) to disk."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


class Generations:
    """The generations under one index folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    def current_name(self) -> str | None:
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not _GEN.match(name) or not (self.root / name).is_dir():
            raise IndexError_(
                f"{self.pointer} names {name!r}, which is not a generation on disk; "
                "run `steward reindex` to rebuild the index"
            )
        return name

    def current(self) -> Path | None:
        name = self.current_name()
        return self.root / name if name else None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if _GEN.match(p.name) and p.is_dir())

    def _next_number(self) -> int:
        numbers = [int(_GEN.match(n).group(1)) for n in self.names()]  # type: ignore[union-attr]
        return max(numbers, default=0) + 1

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time (a second ingest waits for the first)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def new(self) -> Iterator[Path]:
        """A folder to write a generation into; published when the block ends without error.

        Must be used while holding :meth:`lock`.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"gen-{self._next_number():06d}"
        tmp = self.root / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            yield tmp
            fsync_tree(tmp)
            final = self.root / name
            os.rename(tmp, final)
            _fsync_dir(self.root)
            self._point_to(name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _point_to(self, name: str) -> None:
        tmp = self.root / f".CURRENT.{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(name + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.pointer)
        except BaseException:
            tmp.unlink(missing_ok=True)  # e.g. a full disk: leave no half-written pointer behind
            raise
        _fsync_dir(self.root)

    @contextmanager
    def pin(self, name: str) -> Iterator[Path]:
        """Keep generation ``name`` on disk while the block runs (cleanup skips it), for a
        reader that copies it, such as a backup. Take it while holding :meth:`lock`, so a
        cleanup cannot remove the generation between reading CURRENT and pinning it."""
        marker = self.root / f".pin-{name}.{uuid.uuid4().hex}.{os.getpid()}"
        marker.touch()
        try:
            yield self.root / name
        finally:
            marker.unlink(missing_ok=True)

    def _pinned(self) -> set[str]:
        """Generations pinned by running processes (pins of dead ones are removed)."""
        for path in self._orphans(".pin-*", "."):
            path.unlink(missing_ok=True)
        return {p.name.removeprefix(".pin-").split(".")[0] for p in self.root.glob(".pin-*")}

    def cleanup(self, keep: int = 2) -> list[str]:
        """Remove leftovers of interrupted writes and all but the newest ``keep`` generations
        (a pinned one stays until it is unpinned; the next cleanup removes it)."""
        removed = []
        current = self.current_name()
        pinned = self._pinned()
        for path in self._orphans(".tmp-gen-*", "-"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        for path in self._orphans(".CURRENT.*", "."):  # a pointer a killed writer never swapped in
            path.unlink(missing_ok=True)
            removed.append(path.name)
        names = self.names()
        for name in names[: max(0, len(names) - max(keep, 1))]:
            if name != current and name not in pinned:
                shutil.rmtree(self.root / name, ignore_errors=True)
                removed.append(name)
        return removed

    def _orphans(self, pattern: str, separator: str) -> Iterator[Path]:
        """Files matching ``pattern`` whose name ends in ``separator`` + the pid of a writer
        that is no longer running (or no pid at all)."""
        for path in self.root.glob(pattern):
            pid = path.name.rsplit(separator, 1)[-1]
            if not pid.isdigit() or not _alive(int(pid)):
                yield path

    def disk_bytes(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
