"""``python -m pneumo``: the same as the ``pneumo`` console command."""

import sys

from pneumo.cli import main

if __name__ == "__main__":
    sys.exit(main())
