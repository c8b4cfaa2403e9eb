"""Where EnvOps keeps its data: --data-dir, else ENVOPS_DATA_DIR, else the platform's place."""

import os
from pathlib import Path

from envops_desktop import APP_NAME, ORGANIZATION


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    from_env = os.environ.get("ENVOPS_DATA_DIR")
    if from_env:
        return Path(from_env).expanduser().resolve()
    import platformdirs  # here: most commands name their data dir, and it costs 15 ms of start

    return Path(platformdirs.user_data_dir(APP_NAME, ORGANIZATION))


def log_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, ORGANIZATION))
