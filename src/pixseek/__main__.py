"""`python -m pixseek`: the same as the `pixseek` command."""

from pixseek.cli import main

main()
