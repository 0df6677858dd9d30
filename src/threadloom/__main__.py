"""``python -m threadloom`` runs the command line."""

from .cli import main

main()
