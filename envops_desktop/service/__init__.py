"""The local service: environments, backups, the restore engine, configuration files, activity.

Never imports Qt: the CLI, the tests and the desktop workers all call it as it is.
"""

from envops_desktop.service.service import EnvOpsService

__all__ = ["EnvOpsService"]
