"""``--set section.key=value`` for the benchmarks: one setting changed for one run."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence

from bot.config import Config


def apply_overrides(config: Config, overrides: Sequence[str]) -> Config:
    """``section.key=value`` overrides (values in TOML syntax, else taken as text), each
    validated like config.toml itself."""
    for item in overrides:
        dotted, _, value = item.partition("=")
        section, _, key = dotted.partition(".")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value
        current = getattr(config, section)
        setattr(config, section, type(current).model_validate({**current.model_dump(), key: parsed}))
    return config
