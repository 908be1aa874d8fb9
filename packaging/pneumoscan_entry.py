"""Entry point of the bundled ``PneumoScan`` executable: the ``pneumo`` CLI.

``PneumoScan gui``, ``PneumoScan scan ...``, ``PneumoScan self-test``: the
same commands as ``pneumo``. With no arguments (a double-click, the desktop
menu) it opens the app.
"""

import multiprocessing
import sys

from pneumo.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main(sys.argv[1:] or ["gui"]))
