"""Faults, end to end: the real StewardBot survives gateway disconnects (RESUME, or a new
IDENTIFY when the session is gone), a failing command is explained and does not stop the
next one, and the errors it logs hold neither the question nor the token."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from discord_helpers import (
    ANSWER_TIMEOUT,
    DEFERRED,
    EXPECTED_QUOTE,
    QUESTION,
    content,
    description,
    steward_bot,
)
from fakediscord import FakeDiscord, running_fake_discord

from bot.discord.checks import QuestionLimiter

MENU = "Ask Steward about this"
RESUME, IDENTIFY = 6, 2


def replies_to(message_id: str) -> Any:
    return lambda m: (m.get("message_reference") or {}).get("message_id") == message_id


@pytest.mark.parametrize(
    ("how", "code", "resumable"),
    [("dropped", 4000, True),  # "unknown error": the session survives, the bot RESUMEs
     ("session lost", 4009, False),  # "session timed out": RESUME is refused, IDENTIFY again
     ("op 7 reconnect", None, True)],  # Discord asks the bot to reconnect
)
async def test_the_bot_reconnects_after_a_gateway_drop_and_answers(
    fake: FakeDiscord, bot: Any, how: str, code: int | None, resumable: bool
) -> None:
    first_session = bot.ws.session_id
    connections = len(fake.gateway.connections)
    if code is None:
        await fake.request_reconnect()
    else:
        assert await fake.drop_gateway(code=code, resumable=resumable) == 1
    await fake.wait_for(lambda: len(fake.gateway.connections) > connections
                        and fake.gateway.live_sessions(), timeout=ANSWER_TIMEOUT)

    # send_slash_command waits for a live session before dispatching
    inter = await fake.send_slash_command("ask", {"question": QUESTION})
    assert (await inter.callback()).type == DEFERRED
    assert EXPECTED_QUOTE in description(await inter.followup(timeout=ANSWER_TIMEOUT))

    new = fake.gateway.connections[connections:]
    ops = [[p.get("op") for p in conn.received] for conn in new]
    assert RESUME in ops[0]  # the bot always tries to resume first
    if resumable:
        assert len(new) == 1 and IDENTIFY not in ops[0]  # nothing missed, nothing re-sent
        assert new[0].path == "/resume-gateway"  # READY's resume_gateway_url
        assert bot.ws.session_id == first_session
        assert fake.gateway.sessions[first_session].resumes == 1
    else:
        assert len(new) == 2 and IDENTIFY in ops[-1]  # op 9 after the RESUME, then a new session
        assert bot.ws.session_id != first_session
    assert not bot.is_closed()


async def test_a_failing_command_is_explained_and_the_next_one_works(
    fake: FakeDiscord, bot: Any, discord_steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.limiter = QuestionLimiter(100, 60)
    real_ask = discord_steward.ask
    failures = [RuntimeError("the index exploded"), KeyError("passage"), ZeroDivisionError()]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return real_ask(*args, **kwargs)

    monkeypatch.setattr(discord_steward, "ask", flaky)
    # /ask: the deferred "thinking…" becomes the error, with a reference for the admins
    inter = await fake.send_slash_command("ask", {"question": QUESTION})
    assert (await inter.callback()).type == DEFERRED
    said = (await inter.response("edit", timeout=ANSWER_TIMEOUT)).data["content"]
    assert "something went wrong on Steward's side (error " in said
    assert "Traceback" not in said and "exploded" not in said
    # the message menu and a mention fail the same way, each with a clear reply
    target = await fake.send_message_create("Did union membership grow after 1935?",
                                            author=fake.admin)
    menu = await fake.send_message_command(MENU, message=target)
    assert "something went wrong" in content(await menu.response("edit", timeout=ANSWER_TIMEOUT))
    asked = await fake.send_message_create(f"{fake.bot_user.mention} {QUESTION}")
    reply = await fake.wait_for_message(replies_to(asked["id"]), timeout=ANSWER_TIMEOUT)
    assert "something went wrong" in reply["content"] and not reply["embeds"]
    assert not failures

    # ... and the same member's next question, by each way of asking, is answered
    again = await fake.send_slash_command("ask", {"question": QUESTION})
    assert EXPECTED_QUOTE in description(await again.followup(timeout=ANSWER_TIMEOUT))
    menu = await fake.send_message_command(MENU, message=target)
    assert description(await menu.followup(timeout=ANSWER_TIMEOUT))
    asked = await fake.send_message_create(f"{fake.bot_user.mention} {QUESTION}")
    reply = await fake.wait_for_message(replies_to(asked["id"]), timeout=ANSWER_TIMEOUT)
    assert EXPECTED_QUOTE in reply["embeds"][0]["description"]


# -- privacy of the error logs ---------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo ``setup_logging`` (which changes the root logger) after the test."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])  # INFO is the default
async def test_failing_questions_leave_no_question_text_or_token_in_the_logs(
    discord_steward: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, level: str,
    restore_logging: None, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    from bot.config import load_config
    from bot.logs import setup_logging

    token = f"MTE5ODc2NTQzMjEw.{secrets.token_urlsafe(6)}.{secrets.token_urlsafe(27)}"
    marker = f"plant-{secrets.token_hex(4)}"
    question = f"Is the walkout at {marker} on Friday?"
    monkeypatch.setenv("DISCORD_TOKEN", token)
    config = load_config(discord_steward.config.path, discord_steward.data_dir)
    assert config.logging.query_logging is False  # the default
    config.logging.level = level
    config.logging.file = str(tmp_path / "logs" / "steward.log")
    setup_logging(config)
    caplog.set_level(logging.DEBUG)

    def leaky(asked: str, *args: Any, **kwargs: Any) -> Any:
        # An error whose text quotes the question and the token, with a cause that does too:
        # the kind of message a parser or an HTTP client writes.
        try:
            raise ValueError(f"cannot tokenize {asked!r}")
        except ValueError as err:
            raise RuntimeError(f"search failed for {asked!r} (Authorization: Bot {token})") from err

    monkeypatch.setattr(discord_steward, "ask", leaky)
    async with running_fake_discord(token) as fake, steward_bot(fake, discord_steward) as bot:
        bot.limiter = QuestionLimiter(100, 60)
        inter = await fake.send_slash_command("ask", {"question": question})
        said = (await inter.response("edit", timeout=ANSWER_TIMEOUT)).data["content"]
        ref = said.split("(error ")[1].split(")")[0]
        target = await fake.send_message_create(question, author=fake.admin)
        menu = await fake.send_message_command(MENU, message=target)
        await menu.response("edit", timeout=ANSWER_TIMEOUT)
        asked = await fake.send_message_create(f"{fake.bot_user.mention} {question}")
        await fake.wait_for_message(replies_to(asked["id"]), timeout=ANSWER_TIMEOUT)
        fake.assert_no_violations()
    for handler in logging.getLogger().handlers:
        handler.flush()

    logged = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "logs").glob("steward.log*"))
    # the errors are in the log file, with where they happened ...
    assert f"error {ref} in ask" in logged and "answering a mention failed" in logged
    assert logged.count("Traceback (most recent call last)") >= 6  # 3 errors, each with its cause
    assert "RuntimeError" in logged and "ValueError" in logged and "in leaky" in logged
    # ... but not what was asked, nor the token: not in the file, the console, or any record
    console = capfd.readouterr().err
    for text in (logged, console, caplog.text):
        assert question not in text and question.lower() not in text
        assert marker not in text  # not even the distinctive part
        assert token not in text
