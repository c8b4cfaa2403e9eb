"""The `envops` command line: the same service as the desktop app, for scripts and terminals.

Exit codes: 0 ok, 1 failure, 2 usage, 3 version mismatch, 4 environment busy, 5 invalid
configuration file, 6 not found. `commands` runs one command; each group of commands has a
module of its own.
"""

from envops_desktop.cli.commands import main

__all__ = ["main"]
