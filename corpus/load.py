"""The corpus's front door: a file path or URL in, cleaned and described Documents out.

``expand_sources`` turns what an admin named (files, folders, URLs) into a list of sources
plus the errors to report; ``load_source`` reads one source, in a worker process with hard
limits (:mod:`corpus.isolation`) or here (:mod:`corpus.read`), as ``settings.isolate`` says.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from corpus.errors import ReadError, UnsupportedFormat
from corpus.isolation import load_isolated
from corpus.language import with_detected_language
from corpus.metadata import derive_doc_id, is_sidecar, is_url
from corpus.read import read_source
from corpus.readers import SUPPORTED, format_for_path, unknown_format_reason
from corpus.types import Document, ReaderSettings

__all__ = ["derive_doc_id", "expand_sources", "load_source"]

_Add = Callable[[str, str], None]  # add(source, dedup key)


def load_source(
    source: str, settings: ReaderSettings, overrides: Mapping[str, object] | None = None
) -> list[Document]:
    """Read one file or http(s) URL into Documents (one per article; usually one).

    ``overrides`` (the command line) win over every other metadata; see
    :mod:`corpus.metadata` for the fields and the precedence. Raises :class:`ReadError`
    (:class:`UnsupportedFormat` for formats Steward does not read) for any bad input, with
    a reason that says what to do; never another exception type for bad input.
    With ``settings.isolate`` the read runs in a worker process with hard time and memory
    limits (:mod:`corpus.isolation`); results and errors are the same.
    """
    if settings.isolate:
        documents = load_isolated(source, settings, overrides)
    else:
        documents = read_source(source, settings, overrides)
    # Here, not in the reader: the detector's model would count against the worker's memory cap.
    return with_detected_language(documents)


# -- expanding what the admin named ------------------------------------------------------


def expand_sources(items: Sequence[str]) -> tuple[list[str], list[ReadError]]:
    """Expand folders (recursively, sorted) into files; keep http(s) URLs as they are.

    Hidden files and folders (".name") and ``*.meta.toml`` sidecars are skipped silently.
    Errors (returned, not raised): a path that does not exist, a file Steward cannot read
    (:class:`UnsupportedFormat`, "skipped: unknown format …"), a link with another scheme,
    a symbolic link inside a folder that points outside it (refused: a folder of bulletins
    must not pull in files from elsewhere), a folder with nothing to read. Each source is
    listed once.
    """
    sources: list[str] = []
    errors: list[ReadError] = []
    seen: set[str] = set()

    def add(source: str, key: str) -> None:
        if key not in seen:
            seen.add(key)
            sources.append(source)

    for item in items:
        if is_url(item):
            scheme = urlsplit(item).scheme.lower()
            if scheme in ("http", "https"):
                add(item, item)
            else:
                errors.append(ReadError(item, f"refused: only http:// and https:// links can "
                                              f"be read, not {scheme}://"))
            continue
        try:
            _expand_path(item, add, errors, seen)
        except (OSError, ValueError, RuntimeError) as err:  # NUL in a name, a symlink loop
            errors.append(ReadError(item, f"cannot be read ({err})"))
    return sources, errors


def _expand_path(item: str, add: _Add, errors: list[ReadError], seen: set[str]) -> None:
    """Expand one path the admin named: a file, or a folder (once, however often named)."""
    path = Path(item).expanduser()
    if path.is_dir():
        key = f"folder:{path.resolve()}"
        if key in seen:
            return
        seen.add(key)
        found, failed = len(seen), len(errors)
        _expand_folder(path, add, errors)
        if len(seen) == found and len(errors) == failed:
            errors.append(ReadError(item, f"the folder holds no files Steward reads "
                                          f"({SUPPORTED})"))
    elif path.is_file():
        if is_sidecar(path):
            errors.append(UnsupportedFormat(item, "skipped: a .meta.toml sidecar holds "
                                                  "metadata; name the file it describes"))
        elif format_for_path(path):
            add(str(path), str(path.resolve()))
        else:
            errors.append(UnsupportedFormat(item, unknown_format_reason(path)))
    elif path.is_symlink():
        errors.append(ReadError(item, "a broken symbolic link (its target does not exist)"))
    else:
        errors.append(ReadError(item, "the path does not exist; check the spelling"))


def _expand_folder(root: Path, add: _Add, errors: list[ReadError]) -> None:
    """Walk ``root`` depth-first in sorted order without recursion (no depth limit)."""
    real_root = root.resolve()
    stack: list[list[os.DirEntry[str]]] = [_sorted_entries(root, errors)]
    while stack:
        if not stack[-1]:
            stack.pop()
            continue
        entry = stack[-1].pop()
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    errors.append(ReadError(entry.path, f"refused: a symbolic link to {target}, "
                                                        "outside the folder being added; copy "
                                                        "the file into the folder instead"))
                    continue
                if target.is_dir():
                    continue  # its files are inside the folder and read from where they are
            elif entry.is_dir():
                stack.append(_sorted_entries(path, errors))
                continue
            if not path.is_file():
                continue  # a device, a socket, a broken link
            if is_sidecar(path):
                continue
            if format_for_path(path):
                add(str(path), str(path.resolve()))
            else:
                errors.append(UnsupportedFormat(entry.path, unknown_format_reason(path)))
        except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop (Python < 3.13)
            # One bad entry is reported; the walk goes on to the rest of the folder.
            reason = getattr(err, "strerror", None) or err
            errors.append(ReadError(entry.path, f"could not be read ({reason})"))


def _sorted_entries(folder: Path, errors: list[ReadError]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name, reverse=True)  # popped from the end
    except OSError as err:
        errors.append(ReadError(str(folder), f"the folder could not be read "
                                             f"({err.strerror or err})"))
        return []


