"""Where and when the garbage collector runs in the window's process.

On the window's thread only. The collector frees a cycle on whichever thread allocates
when a threshold is crossed, and while an operation runs that is mostly a worker. A Qt
object must be destroyed on its own thread, and PySide6's `QDialog.exec()` hands the
dialog back to Python: a dialog whose slots refer to it is then a cycle only the collector
frees. The Restore dialog, freed that way by a restore's worker right after the user
pressed Restore, destroyed its widgets under the window's thread (a SIGSEGV in Qt's event
loop, now and then, in the GUI tests). So while a window's controller lives, or any
operation runs, the collector is switched off and a timer on the window's thread collects
at Python's own thresholds.

Full passes wait while an operation runs or a dialog is open. A full pass walks every
object the collector tracks while holding the GIL: with a configuration file's 20,000
entries alive (100,000-270,000 objects), 50-180 ms each, several times an upload, though
each found nothing to free; such data lives in a dialog, and dies with it. Once no
operation runs and no dialog is open, one full pass frees what they left, promptly.

What is alive is no longer frozen out of passes when an operation ends, only at start-up
(`settle_heap`): a frozen object is never freed, and the preview that ended while the
Restore dialog was open froze that dialog and its preview (200,000 changes, for a restore
into an empty folder) for good, garbage once the dialog closed. Unfrozen, the window's own
objects cost a full pass a few milliseconds (the demo's whole heap, start-up's included,
16 ms).
"""

import gc

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QGuiApplication

# How often the window's thread looks whether a pass is due: while operations run their
# workers allocate fast, and a pass over 10 ms of their objects costs well under a
# millisecond; otherwise only the window allocates, a little at a time.
_BUSY_MS = 10
_IDLE_MS = 1000


class _Collection:
    """Who needs the collector on the window's thread, and its state meanwhile."""

    keepers = 0  # controllers of windows alive
    busy = 0  # runners with operations running
    thresholds = gc.get_threshold()  # Python's, which the timer follows
    timer: QTimer | None = None
    left_behind = False  # operations ended while a dialog was open: a full pass once it closed


def settle_heap() -> None:
    """Keep the objects alive now out of the collector's full passes (after a full pass)."""
    gc.collect()
    gc.freeze()


def collect_on_this_thread_only() -> None:
    """A window's controller starts (on the window's thread): the collector runs only
    here until `let_any_thread_collect`."""
    _Collection.keepers += 1
    _follow()


def let_any_thread_collect() -> None:
    """The controller that called `collect_on_this_thread_only` has shut down."""
    _Collection.keepers -= 1
    _follow()


def hold_full_passes() -> None:
    """A runner's first operation starts: no full passes from now on (young ones go on,
    on the window's thread)."""
    _Collection.busy += 1
    _follow()


def release_full_passes() -> None:
    """A runner's last operation has ended: when no runner has any, a full pass frees what
    the operations left, now or once no dialog is open."""
    _Collection.busy -= 1
    if _Collection.busy == 0:
        _Collection.left_behind = True
        _free_what_was_left()
    _follow()


def _dialog_open() -> bool:
    return QGuiApplication.modalWindow() is not None


def _free_what_was_left() -> None:
    """A full pass, unless a dialog is open (then a young one). Full, not young: what
    became garbage during the operations may have grown old first (the dialog that started
    them, open while its preview's worker allocated)."""
    if _dialog_open():
        gc.collect(1)
        return
    gc.collect()
    _Collection.left_behind = False


def _follow() -> None:
    wanted = _Collection.keepers + _Collection.busy > 0
    if wanted and _Collection.timer is None:
        _Collection.thresholds = gc.get_threshold()
        gc.disable()
        _Collection.timer = QTimer(QCoreApplication.instance())
        _Collection.timer.timeout.connect(_collect_if_due)
    if _Collection.timer is None:
        return
    if wanted:
        interval = _BUSY_MS if _Collection.busy else _IDLE_MS
        if _Collection.timer.interval() != interval or not _Collection.timer.isActive():
            _Collection.timer.start(interval)
    else:
        _Collection.timer.stop()
        _Collection.timer.deleteLater()
        _Collection.timer = None
        gc.enable()


def _collect_if_due() -> None:
    """A pass of the generation Python itself would collect now, but never a full one
    while operations run or a dialog is open; once both have ended, a full pass."""
    full_allowed = not _Collection.busy and not _dialog_open()
    if _Collection.left_behind and full_allowed:
        _free_what_was_left()
        return
    young, middle, old = gc.get_count()
    first, second, third = _Collection.thresholds
    if young <= first:
        return
    # While operations run, the middle generation goes with every young pass: left to its
    # own threshold it gathered a worker's 200,000 fresh rows over ten passes, and its pass
    # over them all held the window 50-100 ms. Taken each time, each pass looks at what the
    # last 10 ms made, once.
    generation = 1 if _Collection.busy else 0
    if middle > second:
        generation = 2 if old > third and full_allowed else 1
    gc.collect(generation)
