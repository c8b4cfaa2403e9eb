"""When the user may take an action, and the sentence that says why not when they may not."""

import enum

from PySide6.QtCore import QCoreApplication

from envops_desktop.domain.models import Backup, Environment


class Needs(enum.Flag):
    """What an action needs before it can run."""

    NOTHING = 0
    ENVIRONMENT = enum.auto()  # an environment selected
    IDLE = enum.auto()  # ... that is not being updated
    BACKUP = enum.auto()  # a backup selected


def _tr(text: str) -> str:
    return QCoreApplication.translate("ActionRules", text)


def why_unavailable(
    needs: Needs, environment: Environment | None, busy: bool, backup: Backup | None
) -> str | None:
    """None when an action with `needs` can run now, else one sentence saying why not."""
    wants_environment = needs & (Needs.ENVIRONMENT | Needs.IDLE)
    if wants_environment and environment is None:
        return _tr("Select an environment first.")
    if Needs.IDLE in needs and busy:
        return _tr("{env} is being updated; wait until it is done.").format(env=environment.name)
    if Needs.BACKUP in needs and backup is None:
        return _tr("Select a backup first.")
    return None
