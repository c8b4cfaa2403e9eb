"""The frozen `envops-desktop` entry point."""

import sys

from envops_desktop.app import main

sys.exit(main())
