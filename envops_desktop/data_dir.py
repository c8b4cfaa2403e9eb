"""Where EnvOps keeps its data: --data-dir, else ENVOPS_DATA_DIR, else the platform's place."""

import errno
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


# Where an operator chooses another, in the command line and the app alike.
CHOOSE_ANOTHER = "Choose another folder with --data-dir DIR or the ENVOPS_DATA_DIR variable."


def cannot_open(data_dir: Path, error: OSError) -> str:
    """Why the data folder `data_dir` could not be made or opened, as a sentence that says
    what to do, instead of the system's "[Errno 13] Permission denied: '…'"."""
    if isinstance(error, FileExistsError) or error.errno == errno.ENOTDIR:
        # The folder, one above it or one of its own (objects/packs) is a file: name that
        # file, not the folder asked for.
        made = Path(error.filename) if error.filename else data_dir
        file = next((p for p in (made, *made.parents) if p.is_file()), data_dir)
        reason = f"{file} is a file, not a folder"
    else:
        reason = (error.strerror or str(error)).lower()
        if error.filename and Path(error.filename) != data_dir:
            reason += f" ({error.filename})"
    return f"Cannot open the data folder {data_dir}: {reason}. {CHOOSE_ANOTHER}"
