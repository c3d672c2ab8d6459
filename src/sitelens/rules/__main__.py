"""``python -m sitelens.rules --write-docs docs/rules``: regenerate docs/rules/ from the pages."""

from .catalog import main

main()
