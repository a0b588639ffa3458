"""config.toml documents every setting with its default; bad settings are clear errors."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from stewardtest import CONFIG

from bot.config import Config, ConfigError, load_config


def test_config_toml_holds_exactly_the_defaults() -> None:
    shipped = Config.model_validate(tomllib.loads(CONFIG.read_text()))
    assert shipped.model_dump() == Config().model_dump()


def test_every_setting_in_config_toml_has_a_comment() -> None:
    lines = CONFIG.read_text().splitlines()
    for n, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            assert "#" in line, f"config.toml line {n + 1} has no comment: {line}"


def test_every_model_field_appears_in_config_toml() -> None:
    raw = tomllib.loads(CONFIG.read_text())
    for name, section in Config().model_dump().items():
        assert name in raw, f"[{name}] missing from config.toml"
        for key in section:
            assert key in raw[name], f"[{name}] {key} missing from config.toml"


def test_data_dir_is_beside_the_config_unless_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("")
    assert load_config(cfg).data_dir == (tmp_path / "data").resolve()
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "env"))
    assert load_config(cfg).data_dir == (tmp_path / "env").resolve()
    assert load_config(cfg, tmp_path / "flag").data_dir == (tmp_path / "flag").resolve()
    monkeypatch.setenv("STEWARD_CONFIG", str(cfg))
    assert load_config().path == cfg.resolve()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[index]\nbackend = 'gpu'\n", "[index] backend"),
        ("[chunker]\ntarget_words = 300\nmax_words = 100\n", "target_words <= max_words"),
        ("[search]\nfusion = 'magic'\n", "[search] fusion"),
        ("[answer]\nmax_quotes = 9\n", "[answer] max_quotes"),
        ("[serach]\n", "serach: unknown setting"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert message in str(err.value)
    assert str(cfg) in str(err.value)
