"""Progress for long encodes (tqdm, when installed; nothing otherwise), and no one else's.

Loading a model through transformers draws its own "Loading weights" bar; a user running
``steward ingest`` should see only Steward's progress, so model loads run inside
``quiet_library_progress``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def progress_bar(total: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="text", desc="encoding")


@contextlib.contextmanager
def quiet_library_progress() -> Iterator[None]:
    """Hide transformers' (and huggingface_hub's) progress bars for the block only."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:  # leave a user's own choice (HF_HUB_DISABLE_PROGRESS_BARS) as it was
            hf_logging.enable_progress_bar()
