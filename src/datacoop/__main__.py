"""``python -m datacoop`` runs the CLI."""

from datacoop.cli import main

main()
