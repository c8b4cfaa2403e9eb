"""The installed commands' entry points, importing nothing until they run.

A helper process of a big backup or restore starts by importing the module of the command
that started it; with the entry points here, that is this small module instead of the whole
command line (the service) or the whole GUI (Qt), which cost each helper 50 MB or
more and a quarter of a second.
"""


def cli() -> int:
    """`envops`."""
    from envops_desktop.cli import main

    return main()


def gui() -> int:
    """`envops-desktop`."""
    from envops_desktop.app import main

    return main()
