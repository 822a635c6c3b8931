"""`python -m povsim` runs the command-line interface."""

from povsim.cli import main

main()
