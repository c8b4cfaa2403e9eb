"""Keeping the garbage collector's full passes off the window's back.

A full pass walks every object the collector tracks while holding the GIL, whichever thread
runs it. With a configuration file's 20,000 entries alive (100,000-270,000 objects), a pass
took 50-180 ms, and a worker's allocations set one off every few hundred thousand objects:
the window froze that long, several times an upload, though each pass found nothing to
free. So while operations run, only young objects are collected; once none runs, what is
alive is frozen out of later passes, as the start-up objects are (`settle_heap`).
"""

import gc

# The number of young passes between full ones: never, in practice, while it is this.
_FULL_PASSES_HELD = 1 << 30


def settle_heap() -> None:
    """Keep the objects alive now out of the collector's full passes (after a full pass)."""
    gc.collect()
    gc.freeze()


class _Held:
    """How many runners have operations running (each holds full passes off once) and the
    thresholds to put back when none has."""

    runners = 0
    thresholds = gc.get_threshold()


def hold_full_passes() -> None:
    """A runner's first operation starts: no full passes from now on (young ones go on)."""
    _Held.runners += 1
    if _Held.runners == 1:
        _Held.thresholds = gc.get_threshold()
        gc.set_threshold(*_Held.thresholds[:2], _FULL_PASSES_HELD)


def release_full_passes() -> None:
    """A runner's last operation has ended: when no runner has any, collect the young
    objects, freeze the survivors (mostly results the window shows) and let full passes
    run again, over the rest."""
    _Held.runners -= 1
    if _Held.runners == 0:
        gc.collect(1)
        gc.freeze()
        gc.set_threshold(*_Held.thresholds)
