"""Questions in, quoted answers out: answers, rendering, the CLI, and the Discord front end.

Nothing outside ``bot.discord`` imports discord, so the CLI and tests need no Discord.
"""
