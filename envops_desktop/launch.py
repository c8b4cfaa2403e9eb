"""The installed commands' entry points, importing nothing until they run.

A helper process of a big backup or restore starts by importing the module of the command
that started it; with the entry points here, that is this small module instead of the whole
command line (the service) or the whole GUI (Qt), which cost each helper 50 MB or
more and a quarter of a second.
"""

# Python's default is 700: a pass per 700 new objects, a full pass per hundred of those.
_YOUNG_OBJECTS_PER_COLLECTION = 20_000


def cli() -> int:
    """`envops`."""
    import gc

    # One command, then the process ends. The collector ran 230 times while an import checked
    # a 20,000-file manifest (0.12 s), each full pass walking every module's objects too, and
    # once more at exit over everything still alive (0.1 s), all of it about to go anyway.
    gc.set_threshold(_YOUNG_OBJECTS_PER_COLLECTION)
    from envops_desktop.cli import main

    gc.freeze()  # what the command line is made of is never garbage: passes skip it
    try:
        return main()
    finally:
        gc.freeze()  # and the last pass has nothing left to walk


def gui() -> int:
    """`envops-desktop`."""
    from envops_desktop.app import main

    return main()
