"""``python -m desktop [ARGS]``: the same as ``pneumo gui [ARGS]``."""

import sys

from desktop.app import main

sys.exit(main(sys.argv[1:]))
