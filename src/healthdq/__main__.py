"""`python -m healthdq` runs the command line."""

from healthdq.cli import main

main()
