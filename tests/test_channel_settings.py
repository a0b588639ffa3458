"""A server's channel settings in the service (no Discord): channel defaults and the
answer-here channels are kept in the store, survive a restart, and refuse bad filters
without storing anything; a member's value, or ``any``, beats a channel's default."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from stewardtest import CONFIG

from bot.app import FilterError, Steward
from bot.channel_defaults import combine
from bot.config import load_config

GUILD, AMAZON, CATEGORY, THREAD = 1, 10, 20, 30


def open_steward(data: Path) -> Steward:
    return Steward(load_config(CONFIG, data))


def test_settings_survive_a_restart(tmp_path: Path) -> None:
    steward = open_steward(tmp_path / "data")
    steward.set_channel_defaults(AMAZON, GUILD, tag="amazon", language="Spanish",
                                 since="2023-01-01")
    steward.set_answer_here(CATEGORY, GUILD, "forum")
    steward.close()

    again = open_steward(tmp_path / "data")
    try:
        found = again.channel_defaults([THREAD, AMAZON, CATEGORY])
        assert found is not None and found.channel_id == AMAZON
        assert (found.tag, found.language, found.since) == ("amazon", "es", dt.date(2023, 1, 1))
        assert again.answer_here(CATEGORY) is not None
        assert [a.kind for a in again.guild_answer_here(GUILD)] == ["forum"]
        assert again.guild_answer_here(GUILD + 1) == []
        names = {row[0] for row in again.store.execute("SELECT name FROM migrations")}
        assert {"server-0001-channel-defaults", "server-0002-answer-here"} <= names
    finally:
        again.close()


def test_the_nearest_channel_wins_and_forget_removes_both(tmp_path: Path) -> None:
    steward = open_steward(tmp_path / "data")
    try:
        steward.set_channel_defaults(CATEGORY, GUILD, tag="amazon")
        steward.set_channel_defaults(AMAZON, GUILD, publication="Bulletin")
        assert steward.channel_defaults([AMAZON, CATEGORY]).publication == "Bulletin"
        assert steward.channel_defaults([THREAD, CATEGORY]).tag == "amazon"
        steward.set_answer_here(AMAZON, GUILD, "text")
        steward.forget_channel(AMAZON)
        assert steward.answer_here(AMAZON) is None
        assert steward.channel_defaults([AMAZON]) is None
        assert steward.clear_channel_defaults(CATEGORY) and not steward.clear_channel_defaults(
            CATEGORY)
    finally:
        steward.close()


@pytest.mark.parametrize(("option", "value"), [("since", "last week"), ("until", "2024-02-30"),
                                               ("language", "klingon")])
def test_bad_defaults_are_refused_and_nothing_is_stored(tmp_path: Path, option: str,
                                                        value: str) -> None:
    steward = open_steward(tmp_path / "data")
    try:
        steward.set_channel_defaults(AMAZON, GUILD, tag="amazon")
        with pytest.raises(FilterError) as raised:
            steward.set_channel_defaults(AMAZON, GUILD, **{option: value})
        assert raised.value.option == option
        assert steward.channel_defaults([AMAZON]).tag == "amazon"  # the old ones stand
    finally:
        steward.close()


def test_the_member_beats_the_channel_and_any_means_no_filter(tmp_path: Path) -> None:
    steward = open_steward(tmp_path / "data")
    try:
        defaults = steward.set_channel_defaults(AMAZON, GUILD, tag="amazon", since="2023-01-01")
    finally:
        steward.close()
    merged, applied = combine(defaults, {"tag": None, "since": None, "author": "Bacon"})
    assert merged == {"tag": "amazon", "since": "2023-01-01", "author": "Bacon"}
    assert applied == {"tag": "amazon", "since": "2023-01-01"}
    merged, applied = combine(defaults, {"tag": "ANY", "since": "2024-05-01"})
    assert merged == {"tag": None, "since": "2024-05-01"}
    assert applied == {}
    assert combine(None, {"tag": "any"}) == ({"tag": None}, {})
