"""Logging for the people who run Steward: start, sync, ingest, errors — never questions.

Question text is kept out of logs unless ``[logging] query_logging`` is on; secrets are
scrubbed from every record as a last line of defence.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from bot.config import Config

# ``log.info(..., extra=CONSOLE)``: an operational line worth showing on the console of a running
# bot (online, index loaded, commands synced). Everything else below WARNING goes only to the
# log file, so a failed start still prints exactly one clear line.
CONSOLE = {"console": True}

_NOISY = ("sentence_transformers", "transformers", "httpx", "urllib3", "filelock", "bm25s", "faiss")


class RedactSecrets(logging.Filter):
    """Replaces the Discord token wherever it would appear in a log line: the message, a
    traceback (an exception's text can quote a header or a URL) and a stack dump."""

    def filter(self, record: logging.LogRecord) -> bool:
        token = os.environ.get("DISCORD_TOKEN", "").strip()
        if not token:
            return True
        message = record.getMessage()
        if token in message:
            record.msg = message.replace(token, "[token]")
            record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters reuse this cached text, so the traceback is written redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and token in record.exc_text:
            record.exc_text = record.exc_text.replace(token, "[token]")
        if record.stack_info and token in record.stack_info:
            record.stack_info = record.stack_info.replace(token, "[token]")
        return True


class ConsoleWorthy(logging.Filter):
    """Warnings and errors, plus the INFO lines marked with ``CONSOLE``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or bool(getattr(record, "console", False))


def setup_logging(config: Config, quiet: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_steward", False):
            root.removeHandler(handler)
    level = getattr(logging, config.logging.level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler()
    console.setLevel(logging.ERROR if quiet else level)
    console.addFilter(ConsoleWorthy())
    handlers: list[logging.Handler] = [console]
    if config.logging.file:
        path = Path(config.logging.file)
        if not path.is_absolute():
            path = (config.path.parent if config.path else Path.cwd()) / path
        path.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            path, maxBytes=int(config.logging.max_file_mb * 1024 * 1024),
            backupCount=config.logging.backups, encoding="utf-8",
        )
        rotating.setLevel(level)
        handlers.append(rotating)
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactSecrets())
        handler._steward = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
