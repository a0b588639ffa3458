"""``python -m bot`` runs the Discord bot (same as ``steward bot``)."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(["bot", *sys.argv[1:]]))
