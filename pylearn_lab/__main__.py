"""``python -m pylearn_lab``: runs :func:`pylearn_lab.cli.main` (the commands are documented there)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
