"""Thread memory for follow-up mentions (the end-to-end follow-up is in test_discord_ask)."""

from __future__ import annotations

from bot.discord.exts.ask import ThreadMemory


def test_the_oldest_thread_is_forgotten_first() -> None:
    memory = ThreadMemory(size=2)
    memory.remember(1, "dues?")
    memory.remember(2, "strike pay?")
    memory.remember(1, "dues for part-timers?")  # thread 1 is now the most recent
    memory.remember(3, "picket rota?")
    assert memory.previous(1) == "dues for part-timers?"
    assert memory.previous(2) is None
    assert memory.previous(3) == "picket rota?"


def test_a_stale_question_is_not_a_context_and_long_ones_are_cut() -> None:
    memory = ThreadMemory(ttl_s=-1)  # every question is already too old
    memory.remember(1, "dues?")
    assert memory.previous(1) is None
    fresh = ThreadMemory()
    fresh.remember(1, "x" * 5000)
    assert fresh.previous(1) == "x" * 2000
