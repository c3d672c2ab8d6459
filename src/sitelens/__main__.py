"""``python -m sitelens``: the same CLI as the ``sitelens`` script."""

from .cli import main

main()
