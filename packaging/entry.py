"""The frozen entry point of both commands: `envops-desktop` (the window) and `envops`.

On Linux and macOS the bundle holds one executable and `envops` is a link to it: two
executables carried two copies of every Python module (5.7 MiB each). The name it was
started by chooses the command.
"""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    # A helper process of a big backup or restore starts as this executable: before any heavy
    # import, let it become that helper.
    multiprocessing.freeze_support()
    if os.path.basename(sys.argv[0]).removesuffix(".exe") == "envops":
        from envops_desktop.cli import main
    else:
        from envops_desktop.app import main

    sys.exit(main())
