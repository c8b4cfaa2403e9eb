"""Named moments at which the reliability tests kill a restore, as a power cut would."""

import os
import signal

_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def crash_point(name: str) -> None:
    """Kill this process outright at `name` when ENVOPS_CRASH_AT names it; otherwise nothing.

    The restore engine's promise (rule 5) is about the moments between its steps; this lets a
    test land a kill on each of them deterministically instead of hoping a timer does.
    """
    if os.environ.get("ENVOPS_CRASH_AT") == name:
        os.kill(os.getpid(), _KILL)
