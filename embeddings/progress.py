"""A progress bar for long encodes (tqdm, when installed; nothing otherwise)."""

from __future__ import annotations

from typing import Any


def progress_bar(total: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="text", desc="encoding")
