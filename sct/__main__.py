"""``python -m sct``: the same as the ``sct`` command."""

import sys

from .cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
