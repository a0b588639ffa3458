"""Steward on Discord: the only package that imports discord.py.

``client.StewardBot`` is the bot; ``runner.run_bot`` runs it for ``steward bot``.
"""
