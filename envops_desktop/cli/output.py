"""What a command prints: results as text or JSON, tables, lists of changes, and a progress
bar for long work."""

import dataclasses
import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from envops_desktop.domain.changes import ChangeKind, TreeChanges
from envops_desktop.domain.paths import name_on_one_line
from envops_desktop.domain.progress import CancelToken, Progress
from envops_desktop.terminal_progress import TerminalProgressBar


def print_result(value: object, as_json: bool, text: Callable[[], str]) -> None:
    """`value` as JSON (`as_json`), else as the lines `text` gives."""
    if as_json:
        print(json.dumps(jsonable(value), indent=2))
    else:
        print(text())


def local_time(when: datetime, seconds: bool = True) -> str:
    """A stored (UTC) time as a person here reads it: this computer's time zone, as the
    window shows it; JSON keeps it in UTC."""
    return f"{when.astimezone():%Y-%m-%d %H:%M{':%S' if seconds else ''}}"


_METADATA = frozenset({"meta", "root_meta"})


def jsonable(value: object) -> object:
    """`value` as plain lists, dicts and strings, as `json.dumps` takes them."""
    if isinstance(value, TreeChanges):  # its own JSON, with its counts and summary
        return json.loads(value.to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # pydantic only when JSON is asked for: a backup need not pay for its import.
        from pydantic import TypeAdapter

        # Metadata as it is: pydantic's JSON refuses a key with a byte that is not UTF-8 (an
        # extended attribute's name), and its values are plain JSON already.
        names = [field.name for field in dataclasses.fields(value)]
        kept = {name: getattr(value, name) for name in names if name in _METADATA}
        dumped = TypeAdapter(type(value)).dump_python(value, mode="json", exclude=set(kept))
        return {name: kept[name] if name in kept else dumped[name] for name in names}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


# How often work that reports no progress of its own shows the time it has taken, and so
# how long it may take before it shows anything.
_TICK_SECONDS = 0.5
# The phase a bar shows while what a restore or an import would change is worked out.
WORKING_OUT = "working out the changes"


@contextmanager
def long_operation(
    waiting: str | None = None,
) -> Iterator[tuple[TerminalProgressBar, CancelToken]]:
    """A progress bar, and Ctrl-C turned into a clean cancel that puts everything back.
    `waiting`: the work reports no progress (working out what would change), so the bar
    shows this phase and the time it has taken, once it takes longer than a moment."""
    bar, cancel = TerminalProgressBar(), CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    done = threading.Event()
    ticking = None
    if waiting is not None:
        ticking = threading.Thread(
            target=_tick, args=(bar, waiting, done), name="envops-ticking", daemon=True
        )
        ticking.start()
    try:
        yield bar, cancel
        if waiting is not None:
            # Work that changes nothing: a Ctrl-C that came as it got to its end stops it
            # too, rather than print what the user stopped waiting for.
            cancel.raise_if_cancelled()
    finally:
        done.set()
        if ticking is not None:
            ticking.join()
        signal.signal(signal.SIGINT, previous)
        bar.close()


def _tick(bar: TerminalProgressBar, phase: str, done: threading.Event) -> None:
    while not done.wait(_TICK_SECONDS):
        bar(Progress(phase, 0, 0))


def columns(header: tuple[str, ...], rows: list[tuple[object, ...]], right: int = -1) -> str:
    """Lines of a table whose columns are as wide as their widest cell (the last unpadded),
    so that a long version or name does not push the rest of its row out of line."""
    cells = [header, *(tuple(str(cell) for cell in row) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(
            [
                cell.rjust(width) if i == right else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row[:-1], widths, strict=True))
            ]
            + [row[-1]]
        )
        for row in cells
    )


def change_lines(changes: "TreeChanges") -> str:
    """One line per path ("modified, mtime  app.yaml  (120 B → 98 B)"), then the counts."""
    lines = []
    for change in changes.changes:
        kinds = ", ".join(kind.value for kind in change.kinds)
        sizes = ""
        if ChangeKind.MODIFIED in change.kinds:
            sizes = f"  ({change.size_before:,} B → {change.size_after:,} B)"
        lines.append(f"{kinds:24} {name_on_one_line(change.path)}{sizes}")
    lines.append(f"{changes.before} → {changes.after}: {changes.summary}.")
    return "\n".join(lines)
