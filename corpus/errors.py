"""Errors the corpus raises; each carries a message a volunteer can act on."""


class CorpusError(Exception):
    """Base class for every error raised by the corpus package."""


class ReadError(CorpusError):
    """A source could not be read into documents.

    ``source`` names the file or URL, ``reason`` says what is wrong and, where it helps,
    what to do about it. ``str(err)`` is ``"SOURCE: REASON"``.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class UnsupportedFormat(ReadError):
    """The file's format is not one Steward reads; batches skip these with a message."""


class StoreError(CorpusError):
    """The SQLite store is missing, corrupt or was written by an incompatible version."""
