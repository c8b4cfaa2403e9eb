"""Whether the data folder is this user's to use. Parts of it another user made (EnvOps run
there once with sudo, say) cannot be written: met halfway through an operation, a lock file
of root's stopped a backup with a traceback."""

import os
from pathlib import Path

# Where EnvOps writes: the folder itself, its database, and what those folders hold (lock
# files, the store's folders, scratch). A content file below those is written once, as its
# writer's, and only read after.
_DEPTH = 2


def others_parts(data_dir: Path) -> list[str]:
    """The parts of `data_dir`, as paths relative to it, that this process may not write
    because another user owns them; none for root, which may write anything."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:  # Windows has no owners to go by
        return []
    me = os.geteuid()
    found: list[str] = []

    def visit(folder: Path, depth: int) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    owner = entry.stat(follow_symlinks=False).st_uid
                except FileNotFoundError:  # scratch another EnvOps process just cleared
                    continue
                if owner != me:
                    found.append(os.path.relpath(entry.path, data_dir))
                elif depth < _DEPTH and entry.is_dir(follow_symlinks=False):
                    visit(Path(entry.path), depth + 1)

    if data_dir.stat().st_uid != me:
        return ["."]
    visit(data_dir, 1)
    return sorted(found)


def refusal(data_dir: Path, parts: list[str], user: str) -> str:
    """Why `data_dir` cannot be used by `user`, whose `parts` another user owns."""
    named = ", ".join(parts[:3]) + (f" and {len(parts) - 3} more" if len(parts) > 3 else "")
    whose = "it belongs" if parts == ["."] else f"parts of it ({named}) belong"
    return (
        f"Cannot use the data folder {data_dir}: {whose} to another user, so {user} may not "
        "write there (EnvOps was run there as that user once, with sudo, say). Give it back "
        f"with: sudo chown -R {user} '{data_dir}'. Or run EnvOps as that user, or choose "
        "another data folder."
    )
