"""The fake Discord server, proved with a real discord.py bot (nothing in discord.py mocked)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands
from fakediscord import (
    FakeDiscord,
    Intents,
    connected_bot,
    limits,
    running_fake_discord,
)

TOPICS = ["dues", "grievances", "strike fund", "bargaining", "steward elections"]


class TinyBot(commands.Bot):
    """A stand-in bot exercising each kind of interaction; not Steward."""

    def __init__(self, guild_id: int, **options: object) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), **options)
        self.guild_id = guild_id
        self.slow_delay = 0.0
        self.errors: list[BaseException] = []
        self.mentions_seen: list[discord.Message] = []
        self.resumed = asyncio.Event()

    async def setup_hook(self) -> None:
        guild = discord.Object(self.guild_id)
        tree = self.tree
        bot = self

        @app_commands.command(description="Quote a bulletin on a topic")
        @app_commands.describe(topic="What to look up")
        async def quote(interaction: discord.Interaction, topic: str) -> None:
            await interaction.response.defer()
            embed = discord.Embed(title=f"On {topic}", description="> Dues are due.")
            embed.set_footer(text="Feb. 1, 2023 Bulletin")
            await interaction.followup.send(embed=embed)

        @quote.autocomplete("topic")
        async def topic_autocomplete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=t, value=t) for t in TOPICS if current in t]

        @app_commands.command(description="Answers too late")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(bot.slow_delay)
            await interaction.response.send_message("finally")

        @app_commands.command(description="A paged list")
        async def pager(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("page 1", view=PagerView())

        admin = app_commands.Group(name="admin", description="Admin tools")
        index = app_commands.Group(name="index", description="The search index", parent=admin)

        @index.command(name="stats", description="Index statistics")
        async def stats(interaction: discord.Interaction, verbose: bool = False) -> None:
            await interaction.response.send_message(
                f"42 passages (verbose={verbose})", ephemeral=True
            )

        @app_commands.context_menu(name="Quote this")
        async def quote_this(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.response.send_message(f"> {message.content}", ephemeral=True)

        @app_commands.command(description="Edits, fetches and deletes its own answer")
        async def draft(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("drafting…")
            await interaction.edit_original_response(content="final answer")
            original = await interaction.original_response()
            note = await interaction.followup.send(
                f"edited {original.id}", ephemeral=True, wait=True
            )
            await note.delete()

        @admin.command(name="add", description="Add a bulletin")
        async def add(
            interaction: discord.Interaction,
            file: discord.Attachment,
            author: discord.Member | None = None,
        ) -> None:
            text = (await file.read()).decode()
            who = author.display_name if author else "unknown"
            await interaction.response.send_message(
                f"added {file.filename} ({len(text)} chars) by {who}",
                file=discord.File(io.BytesIO(text.upper().encode()), "receipt.txt"),
                ephemeral=True,
            )

        @app_commands.command(description="Opens a form")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal())

        for cmd in (quote, slow, pager, admin, quote_this, draft, feedback):
            tree.add_command(cmd, guild=guild)

        @tree.error
        async def on_app_command_error(
            interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            bot.errors.append(getattr(error, "original", error))

        await tree.sync(guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user not in message.mentions:
            return
        self.mentions_seen.append(message)
        await message.reply(
            f"{message.author.mention}: here is what the bulletins say.",
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[message.author], replied_user=False
            ),
        )

    async def on_resumed(self) -> None:
        self.resumed.set()


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    comment: discord.ui.TextInput = discord.ui.TextInput(label="Comment", custom_id="comment")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        await interaction.edit_original_response(content=f"thanks: {self.comment.value}")


class PagerView(discord.ui.View):
    @discord.ui.button(label="Next", custom_id="pager:next")
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="page 2")


@pytest.fixture
async def server() -> AsyncIterator[FakeDiscord]:
    async with running_fake_discord() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeDiscord) -> AsyncIterator[TinyBot]:
    async with connected_bot(TinyBot(server.guild.id), server) as tiny:
        yield tiny


async def test_login_connect_and_sync(server: FakeDiscord, bot: TinyBot) -> None:
    assert bot.user is not None and bot.user.id == server.bot_user.id
    assert bot.application_id == server.application_id
    guild = bot.get_guild(server.guild.id)
    assert guild is not None and guild.me is not None
    assert guild.get_channel(server.channel.id) is not None
    assert guild.get_thread(server.thread.id) is not None
    assert guild.default_role.id == guild.id
    # the gateway was opened with zlib-stream compression, JSON, v10
    assert server.gateway_connects[0]["path"] == "/gateway"
    assert server.gateway_connects[0]["encoding"] == "json"
    assert server.gateway_connects[0]["v"] == "10"
    assert server.gateway_connects[0]["compress"] in ("zlib-stream", "zstd-stream")

    synced = server.commands[server.guild.id]
    by_name = {c["name"]: c for c in synced}
    assert set(by_name) == {"quote", "slow", "pager", "admin", "Quote this", "draft", "feedback"}
    assert by_name["quote"]["options"][0]["name"] == "topic"
    assert by_name["quote"]["options"][0]["autocomplete"] is True
    assert by_name["admin"]["options"][0]["type"] == 2  # subcommand group
    assert by_name["Quote this"]["type"] == 3
    assert all(c["id"] and c["guild_id"] == str(server.guild.id) for c in synced)
    assert [r.path for r in server.requests_to("PUT", r"/applications/\d+/guilds/\d+/commands")]
    fetched = await bot.tree.fetch_commands(guild=discord.Object(server.guild.id))
    assert {c.name: c.id for c in fetched} == {c["name"]: int(c["id"]) for c in synced}
    server.assert_no_violations()


async def test_defer_then_followup_embed(server: FakeDiscord, bot: TinyBot) -> None:
    inter = await server.send_slash_command("quote", {"topic": "dues"})
    callback = await inter.callback()
    assert callback.ok and callback.type == 5
    assert callback.elapsed < 3.0
    followup = await inter.followup()
    assert followup.ok
    (embed,) = followup.data["embeds"]
    assert embed["title"] == "On dues"
    assert embed["footer"]["text"] == "Feb. 1, 2023 Bulletin"
    # the follow-up replaced the "thinking…" message, as Discord does after a defer
    assert followup.message is not None and int(followup.message["id"]) == inter.original_id
    assert not int(followup.message["flags"]) & 128
    server.assert_no_violations()


async def test_late_first_response_is_unknown_interaction(
    server: FakeDiscord, bot: TinyBot
) -> None:
    server.ack_deadline = 0.3
    bot.slow_delay = 0.5
    inter = await server.send_slash_command("slow")
    callback = await inter.callback()
    assert callback.status == 404
    assert callback.error == {"code": 10062, "message": "Unknown interaction"}
    assert callback.elapsed > 0.3
    await server.wait_for(lambda: bot.errors)
    assert isinstance(bot.errors[0], discord.NotFound) and bot.errors[0].code == 10062
    assert [v.kind for v in server.violations] == ["late_ack"]


async def test_second_initial_response_is_rejected(server: FakeDiscord, bot: TinyBot) -> None:
    inter = await server.send_slash_command("quote", {"topic": "dues"})
    await inter.followup()
    # Answer the same interaction again, bypassing discord.py's own InteractionResponded guard.
    webhook_session = bot.http._HTTPClient__session  # type: ignore[attr-defined]
    url = f"{discord.http.Route.BASE}/interactions/{inter.id}/{inter.token}/callback"
    async with webhook_session.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
        assert resp.status == 400
        assert (await resp.json())["code"] == 40060
    assert [v.kind for v in server.violations] == ["double_ack"]


async def test_message_over_2000_chars_is_rejected(server: FakeDiscord, bot: TinyBot) -> None:
    channel = bot.get_channel(server.channel.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as excinfo:
        await channel.send("x" * 2001)
    assert excinfo.value.status == 400 and excinfo.value.code == 50035
    assert "In content: Must be 2000 or fewer in length." in str(excinfo.value)
    assert [v.kind for v in server.violations] == ["invalid_form_body"]
    assert server.bot_messages() == []
    ok = await channel.send("x" * 2000)
    assert server.messages[ok.id]["content"] == "x" * 2000


async def test_mention_reaches_on_message_and_reply_is_recorded(
    server: FakeDiscord, bot: TinyBot
) -> None:
    organizer = server.organizer
    sent = await server.send_message_create(
        f"{server.bot_user.mention} when are dues due? @everyone", author=organizer
    )
    reply = await server.wait_for_message(lambda m: m.get("message_reference") is not None)
    assert bot.mentions_seen[0].content.startswith(server.bot_user.mention)
    assert reply["message_reference"]["message_id"] == sent["id"]
    assert reply["content"].startswith(organizer.mention)
    (request,) = server.requests_to("POST", rf"/channels/{server.channel.id}/messages")
    # discord.py sends only what differs from Discord's defaults (replied_user: false)
    assert request.json["allowed_mentions"] == {"parse": [], "users": [organizer.id]}
    pings = server.pings[int(reply["id"])]
    assert pings.users == {organizer.id} and not pings.everyone and not pings.roles


async def test_message_content_is_hidden_without_intent_unless_mentioned(
    server: FakeDiscord, bot: TinyBot
) -> None:
    seen: list[discord.Message] = []

    async def record(message: discord.Message) -> None:
        seen.append(message)

    bot.add_listener(record, "on_message")
    await server.send_message_create("no mention here")
    await server.wait_for(lambda: seen)
    assert seen[0].content == ""  # Intents.default() has no message_content
    assert bot.intents.value & Intents.MESSAGE_CONTENT == 0


async def test_autocomplete_returns_choices(server: FakeDiscord, bot: TinyBot) -> None:
    inter = await server.send_autocomplete("quote", {"topic": "st"}, focused="topic")
    callback = await inter.callback()
    assert callback.ok and callback.type == 8
    assert [c["name"] for c in callback.data["choices"]] == ["strike fund", "steward elections"]


async def test_button_click_is_answered(server: FakeDiscord, bot: TinyBot) -> None:
    command = await server.send_slash_command("pager")
    first = await command.callback()
    assert first.type == 4 and first.message is not None
    click = await server.send_component("pager:next", message=int(first.message["id"]))
    callback = await click.callback()
    assert callback.ok and callback.type == 7
    assert server.messages[int(first.message["id"])]["content"] == "page 2"
    server.assert_no_violations()


async def test_subcommand_group_and_context_menu(server: FakeDiscord, bot: TinyBot) -> None:
    stats = await server.send_slash_command(
        "admin index stats", {"verbose": True}, user=server.admin
    )
    callback = await stats.callback()
    assert callback.data["content"] == "42 passages (verbose=True)"
    assert callback.data["flags"] & 64  # ephemeral
    posted = await server.send_message_create("Solidarity forever")
    menu = await server.send_message_command("Quote this", message=int(posted["id"]))
    callback = await menu.callback()
    assert callback.data["content"] == "> Solidarity forever"
    server.assert_no_violations()


async def test_original_response_edit_get_and_followup_delete(
    server: FakeDiscord, bot: TinyBot
) -> None:
    inter = await server.send_slash_command("draft")
    assert (await inter.callback()).data["content"] == "drafting…"
    edit = await inter.response("edit")
    assert edit.ok and edit.path.endswith("/messages/@original")
    assert (await inter.response("get")).ok
    followup = await inter.followup()
    assert followup.data["flags"] & 64 and followup.data["content"] == f"edited {inter.original_id}"
    delete = await inter.response("delete")
    assert delete.ok and int(delete.message["id"]) == inter.followup_ids[0]
    assert inter.original["content"] == "final answer"
    assert inter.original["edited_timestamp"] is not None
    server.assert_no_violations()


async def test_dm_interaction_and_dm_message(server: FakeDiscord, bot: TinyBot) -> None:
    # A guild command is not usable in DMs; the message path still is.
    sent = await server.send_message_create(
        f"{server.bot_user.mention} hello from a DM", author=server.organizer, dm=True
    )
    reply = await server.wait_for_message(channel_id=int(sent["channel_id"]))
    assert reply["content"].startswith(server.organizer.mention)
    assert "guild_id" not in reply


async def test_wrong_token_is_login_failure() -> None:
    async with running_fake_discord(token="the-right-token") as fake:
        tiny = TinyBot(fake.guild.id)
        with pytest.raises(discord.LoginFailure):
            async with connected_bot(tiny, fake, token="a-wrong-token"):
                pass
        assert fake.requests[0].path == "/users/@me" and fake.requests[0].status == 401
        assert tiny.is_closed()


@pytest.mark.parametrize("how", ["drop", "drop-unresumable", "op7-reconnect"])
async def test_dropped_gateway_reconnects(server: FakeDiscord, bot: TinyBot, how: str) -> None:
    first_session = bot.ws.session_id
    if how == "op7-reconnect":
        await server.request_reconnect()
    else:
        assert await server.drop_gateway(resumable=how == "drop") == 1
    await server.wait_for(lambda: len(server.gateway.connections) >= 2)
    # send_slash_command waits for the bot to be back before dispatching
    inter = await server.send_slash_command("quote", {"topic": "grievances"})
    assert (await inter.callback()).type == 5
    assert (await inter.followup()).ok
    if how == "drop-unresumable":
        assert bot.ws.session_id != first_session  # IDENTIFY again after op 9
    else:
        await asyncio.wait_for(bot.resumed.wait(), 5)
        assert server.gateway_connects[-1]["path"] == "/resume-gateway"
        assert bot.ws.session_id == first_session
        assert server.gateway.sessions[first_session].resumes == 1
    server.assert_no_violations()


async def test_multipart_upload_and_attachment_urls(server: FakeDiscord, bot: TinyBot) -> None:
    channel = bot.get_channel(server.channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("bulletin", file=discord.File(io.BytesIO(b"hello"), "b.txt"))
    (request,) = server.requests_to("POST", rf"/channels/{server.channel.id}/messages")
    assert request.json["content"] == "bulletin" and request.files[0].data == b"hello"
    assert await sent.attachments[0].read() == b"hello"
    # and bytes registered by a test can be read through an attachment's url
    att = discord.Attachment(
        data=server.attachment("new.md", b"# Bulletin"),  # type: ignore[arg-type]
        state=bot._connection,
    )
    assert await att.read() == b"# Bulletin"


def test_limits_direct() -> None:
    ok = {"content": "hi", "embeds": [{"title": "t", "description": "d"}]}
    assert limits.check_message(ok) == {}
    too_big = {
        "embeds": [
            {"description": "d" * 4097, "fields": [{"name": "n", "value": "v" * 1025}] * 26},
        ],
        "components": [
            {
                "type": 1,
                "components": [{"type": 2, "style": 1, "label": "L" * 81, "custom_id": "c" * 101}],
            }
        ]
        * 6,
    }
    flat = limits.flatten_errors(limits.check_message(too_big))
    assert flat["embeds.0.description"] == "Must be 4096 or fewer in length."
    assert flat["embeds.0.fields"] == "Must be 25 or fewer in length."
    assert flat["embeds.0.fields.0.value"] == "Must be 1024 or fewer in length."
    assert "6000" in flat["embeds"]
    assert flat["components"] == "Must be 5 or fewer in length."
    assert flat["components.0.components.0.label"] == "Must be 80 or fewer in length."
    assert flat["components.0.components.0.custom_id"] == "Must be 100 or fewer in length."
    many = {
        "embeds": [{"title": "t"}] * 10
        + [{"title": "T" * 257, "footer": {"text": "f" * 2049}, "author": {"name": "a" * 257}}]
    }
    flat = limits.flatten_errors(limits.check_message(many))
    assert flat["embeds"] == "Must be 10 or fewer in length."
    assert flat["embeds.10.title"] == "Must be 256 or fewer in length."
    assert flat["embeds.10.footer.text"] == "Must be 2048 or fewer in length."
    assert flat["embeds.10.author.name"] == "Must be 256 or fewer in length."
    row = {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": "c"}] * 6}
    assert limits.flatten_errors(limits.check_message({"components": [row]})) == {
        "components.0.components": "Must be between 1 and 5 in length."
    }
    choices = {"choices": [{"name": "n", "value": "v"}] * 26}
    assert limits.flatten_errors(limits.check_autocomplete(choices)) == {
        "choices": "Must be 25 or fewer in length."
    }
    with pytest.raises(AssertionError, match="content"):
        limits.assert_message_ok({"content": "x" * 2001})


async def test_patch_is_restored() -> None:
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with running_fake_discord() as fake:
        assert fake.api_base == discord.http.Route.BASE
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_disallowed_privileged_intent_is_4014() -> None:
    async with running_fake_discord(allowed_privileged_intents=0) as fake:
        greedy = commands.Bot(command_prefix="!", intents=discord.Intents.all())
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with connected_bot(greedy, fake):
                pass
        assert fake.gateway.closed_with == [4014]


async def test_auto_sharded_bot_uses_gateway_bot(server: FakeDiscord) -> None:
    sharded = commands.AutoShardedBot(command_prefix="!", intents=discord.Intents.default())
    async with connected_bot(sharded, server):
        assert sharded.shard_count == 1
        assert sharded.get_guild(server.guild.id) is not None
    assert server.requests_to("GET", "/gateway/bot")


async def test_attachment_and_member_options_and_file_response(
    server: FakeDiscord, bot: TinyBot
) -> None:
    upload = server.attachment("feb-2023.txt", b"Dues are due.", "text/plain")
    inter = await server.send_slash_command(
        "admin add", {"file": upload, "author": server.organizer}, user=server.admin
    )
    callback = await inter.callback()
    assert callback.data["content"] == "added feb-2023.txt (13 chars) by Org Anizer"
    assert callback.files[0].data == b"DUES ARE DUE."
    (receipt,) = callback.message["attachments"]
    assert receipt["filename"] == "receipt.txt"
    option_types = {o["name"]: o["type"] for o in inter.payload["data"]["options"][0]["options"]}
    assert option_types == {"file": 11, "author": 6}
    server.assert_no_violations()


async def test_modal_then_thinking_defer_then_edit(server: FakeDiscord, bot: TinyBot) -> None:
    inter = await server.send_slash_command("feedback")
    modal = await inter.callback()
    assert modal.type == 9 and modal.data["title"] == "Feedback"
    # the modal's custom_id is generated by discord.py: take it from the recorded callback
    real = await server.send_modal_submit(modal.data["custom_id"], {"comment": "more quotes"})
    assert (await real.callback()).type == 5
    edit = await real.response("edit")
    assert edit.ok and real.original["content"] == "thanks: more quotes"
    assert real.original["flags"] & 64 and not real.original["flags"] & 128
