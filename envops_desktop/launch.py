"""The installed commands' entry points, importing nothing until they run.

A helper process of a big backup or restore starts by importing the module of the command
that started it; with the entry points here, that is this small module instead of the whole
command line (the service) or the whole GUI (Qt), which cost each helper 50 MB or
more and a quarter of a second.
"""

import gc


def cli() -> int:
    """`envops`."""
    from envops_desktop.cli import main

    code = main()
    # Everything still alive dies with the process: frozen, it is skipped by the collection
    # the interpreter runs on its way out (42 -> 14 ms from the end of a backup to exit).
    gc.freeze()
    return code


def gui() -> int:
    """`envops-desktop`."""
    from envops_desktop.app import main

    return main()
