"""config.toml documents every setting with its default; bad settings are clear errors."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError
from stewardtest import CONFIG

from bot.answer import AnswerSettings
from bot.config import Config, ConfigError, IndexSection, SearchSection, load_config
from corpus.chunk import ChunkerSettings
from corpus.types import ReaderSettings
from embeddings.encoder import BACKENDS, EncoderSettings
from embeddings.generations import IndexSettings
from embeddings.search import FUSIONS, SearchSettings

# The config.toml sections whose settings go to the packages' settings dataclasses.
PACKAGE_SECTIONS = ("reader", "chunker", "index", "search", "answer")


def test_config_toml_holds_exactly_the_defaults() -> None:
    shipped = Config.model_validate(tomllib.loads(CONFIG.read_text()))
    assert shipped.model_dump() == Config().model_dump()


def test_config_toml_holds_the_packages_defaults() -> None:
    # Reading with no config.toml, or calling a package with its own defaults, behaves as the
    # shipped config.toml says (e.g. isolated reads, the int8 ONNX encoder).
    shipped = Config.model_validate(tomllib.loads(CONFIG.read_text()))
    assert shipped.reader_settings() == ReaderSettings()
    assert shipped.chunker_settings() == ChunkerSettings()
    assert shipped.encoder_settings() == EncoderSettings()
    assert shipped.index_settings() == IndexSettings(
        encoder=EncoderSettings(), chunker=dataclasses.asdict(ChunkerSettings())
    )
    assert shipped.search_settings() == SearchSettings()
    assert shipped.answer_settings() == AnswerSettings()


def test_backup_and_health_defaults_are_their_settings_defaults(tmp_path: Path) -> None:
    from bot.backup import BackupSettings
    from bot.metrics import HealthSettings

    shipped = Config.model_validate(tomllib.loads(CONFIG.read_text()))
    assert shipped.health_settings() == HealthSettings()
    assert shipped.health_settings().host == "127.0.0.1"
    cfg = tmp_path / "c.toml"
    cfg.write_text("[backup]\nevery = '12h'\nkeep = 3\n")
    backup = load_config(cfg).backup_settings()
    # The folder is beside the config file, as [data] dir is.
    assert backup == BackupSettings(every="12h", keep=3, dir=str(tmp_path.resolve() / BackupSettings.dir))
    assert (shipped.backup.every, shipped.backup.keep) == (BackupSettings.every, BackupSettings.keep)


def _package_views(config: Config) -> tuple[object, ...]:
    return (config.reader_settings(), config.chunker_settings(), config.index_settings(),
            config.search_settings(), config.answer_settings())


def _leaves(table: dict[str, object], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


def _other_values(value: object) -> list[object]:
    """Valid-looking values different from ``value``; the first one the config accepts is used."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1, value - 1, value / 2]
    if isinstance(value, list):
        return [[]]
    # another choice of a Literal setting, a number or a table for an "auto" one, or other text
    return ["torch", "rrf", "keyword", 0.5, {"es-en": 0.5}, f"{value}x"]


def test_every_package_setting_in_config_toml_reaches_its_package() -> None:
    raw = tomllib.loads(CONFIG.read_text())
    shipped = _package_views(Config.model_validate(raw))
    for path, value in _leaves({name: raw[name] for name in PACKAGE_SECTIONS}):
        for other in _other_values(value):
            changed = tomllib.loads(CONFIG.read_text())
            table = changed
            for key in path[:-1]:
                table = table[key]
            table[path[-1]] = other
            try:
                views = _package_views(Config.model_validate(changed))
            except (ValidationError, ValueError):
                continue
            assert views != shipped, f"[{'.'.join(path[:-1])}] {path[-1]} changes no package setting"
            break
        else:
            pytest.fail(f"no other value of [{'.'.join(path[:-1])}] {path[-1]} was accepted")


def test_config_choices_are_the_packages_choices() -> None:
    assert get_args(IndexSection.model_fields["backend"].annotation) == BACKENDS
    assert get_args(SearchSection.model_fields["fusion"].annotation) == FUSIONS


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
        ("[backup]\nevery = 'daily'\n", "[backup] every"),
        ("[health]\nport = 70000\n", "[health] port"),
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
