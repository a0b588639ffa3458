"""Command extensions, loaded by ``StewardBot.setup_hook``: ask, lookup, admin."""
