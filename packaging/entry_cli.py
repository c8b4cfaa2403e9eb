"""The frozen `envops` entry point."""

import sys

from envops_desktop.cli import main

sys.exit(main())
