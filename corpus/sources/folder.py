"""Folders on disk (a shared drive where the newsletter PDFs land): every file Steward reads,
as `steward ingest FOLDER` would find them; a file's size and modification time are its
lastmod, so an untouched file is not even read again."""

from __future__ import annotations

from pathlib import Path

from corpus.errors import UnsupportedFormat
from corpus.load import expand_sources
from corpus.sources.errors import SourceError
from corpus.sources.model import Entry, Listing, SourceSpec


def check(url: str) -> str:
    """The folder's absolute path; SourceError when it is not a folder."""
    path = Path(url).expanduser()
    if not path.is_dir():
        raise SourceError(f"{url} is not a folder on this machine; check the path")
    return str(path.resolve())


def listing(spec: SourceSpec) -> Listing:
    if not Path(spec.url).is_dir():
        raise SourceError(f"the folder {spec.url} is gone or unreadable; check the drive is mounted")
    files, errors = expand_sources([spec.url])
    out = Listing(complete=True)
    for path in files:
        try:
            stat = Path(path).stat()
        except OSError:
            continue  # removed while listing: the next pass sees it gone
        out.entries.append(Entry(key=path, url=path, lastmod=f"{stat.st_mtime_ns}:{stat.st_size}"))
    failed = [e for e in errors if not isinstance(e, UnsupportedFormat)]
    if failed:
        out.notes.append(f"{len(failed)} files could not be listed (first: {failed[0]})")
    return out
