"""The frozen `envops-desktop` entry point."""

import multiprocessing
import sys

if __name__ == "__main__":
    # A helper process of a big backup or restore starts as this executable: before any heavy
    # import, let it become that helper.
    multiprocessing.freeze_support()
    from envops_desktop.app import main

    sys.exit(main())
