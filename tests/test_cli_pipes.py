"""A ``steward`` command whose reader goes away (``steward sources | head -1``) stops
quietly: no traceback, no "Exception ignored" from Python's flush at exit."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from stewardtest import CONFIG, REPO

from bot.cli import EXIT_PIPE_CLOSED, main
from corpus.chunk import chunk_document
from corpus.store import Store
from corpus.types import Document

DOCUMENTS = 400
TITLE_WORDS = 60  # ~400-char titles: the listing (~170 KB) is more than a pipe holds (64 KB)


@pytest.fixture(scope="module")
def many_documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose store lists many documents (``sources`` needs no model or index)."""
    data = tmp_path_factory.mktemp("pipes") / "data"
    data.mkdir()
    store = Store(data / "steward.sqlite3")
    try:
        for n in range(DOCUMENTS):
            title = f"Bulletin {n}: " + " ".join(["solidarity"] * TITLE_WORDS)
            document = Document(source=f"bulletin-{n}.txt", title=title, doc_id=f"bulletin-{n}",
                                text=f"Stewards meet on Tuesday number {n} to plan the campaign.")
            store.upsert(document, chunk_document(document))
    finally:
        store.close()
    return data


def test_a_closed_pipe_ends_a_command_quietly(many_documents: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(CONFIG), "--data-dir", str(many_documents),
         "sources"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()
    child.stdout.close()  # `head -1` has its line and exits
    err = child.stderr.read().decode()
    code = child.wait()
    assert b"Bulletin" in first
    assert err == ""
    assert code == EXIT_PIPE_CLOSED


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_every_command_shares_the_quiet_ending(many_documents: Path, capsys) -> None:
    for command in (["sources", "--json"], ["stats"]):
        code = main(["--config", str(CONFIG), "--data-dir", str(many_documents), *command],
                    out=ClosedPipe())
        assert code == EXIT_PIPE_CLOSED
        assert capsys.readouterr().err == ""
