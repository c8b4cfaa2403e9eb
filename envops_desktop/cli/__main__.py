"""`python -m envops_desktop.cli`, as `envops`."""

import sys

from envops_desktop.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
