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
    """The process's holders of full passes (one per runner at most) and the thresholds
    to put back when the last lets go."""

    holders = 0
    thresholds = gc.get_threshold()


class FullPasses:
    """Puts the collector's full passes off while operations run; the runner says when.
    Several runners (windows, tests) may hold them at once: the last to let go restores."""

    def __init__(self) -> None:
        self._holding = False

    def hold(self) -> None:
        """An operation starts: from now on, no full passes (young ones go on)."""
        if self._holding:
            return
        self._holding = True
        _Held.holders += 1
        if _Held.holders == 1:
            _Held.thresholds = gc.get_threshold()
            gc.set_threshold(*_Held.thresholds[:2], _FULL_PASSES_HELD)

    def release(self) -> None:
        """No operation runs: collect the young objects, freeze the survivors (an operation's
        results the window shows, mostly) and let full passes run again, over the rest."""
        if not self._holding:
            return
        self._holding = False
        _Held.holders -= 1
        if _Held.holders == 0:
            gc.collect(1)
            gc.freeze()
            gc.set_threshold(*_Held.thresholds)
