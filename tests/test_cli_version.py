"""`steward version` prints what `steward --version` prints, even where no settings or data
folder exist."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.backup import steward_version
from bot.cli import main


def test_version_subcommand_matches_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    missing = tmp_path / "nowhere"
    code = main(["--config", str(missing / "config.toml"), "--data-dir", str(missing), "version"], out)
    assert code == 0
    assert out.getvalue() == f"steward {steward_version()}\n"
    assert not missing.exists()  # nothing created
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == out.getvalue()
