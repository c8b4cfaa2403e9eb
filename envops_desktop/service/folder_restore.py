"""Restoring a backup into a new folder, leaving its environment as it is: to look at an old
configuration, or to take a few files from it by hand.

The tree is written beside the folder asked for, hidden, and renamed into place once whole,
so that the folder appears complete or not at all; a folder inside an environment's is
refused, since writing there would change that environment.
"""

import os
import time
from pathlib import Path

from envops_desktop.domain.enums import ActivityAction, Outcome
from envops_desktop.domain.errors import InvalidInputError, NotFoundError, OperationFailedError
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.domain.progress import CancelToken, ProgressCallback, ProgressMeter
from envops_desktop.service.context import FOLDER_RESTORE_PREFIX, ServiceContext
from envops_desktop.service.folder_reach import is_folder, is_link
from envops_desktop.service.mounts import is_mount_point
from envops_desktop.service.restore import (
    SpaceNeeded,
    TreeWriter,
    apply_root_metadata,
    check_free_space,
    why_nothing_can_be_made_in,
)
from envops_desktop.service.swap import remove_tree
from envops_desktop.store.file_writes import sync_to_disk
from envops_desktop.store.owned_folders import STAGING_MARK, OwnedFolder


def check_destination(ctx: ServiceContext, destination: Path) -> Path:
    """`destination` made absolute, refused unless it is a new or empty folder in a folder
    that exists, outside every environment's folder (writing there would change that
    environment behind its lock, its status and its activity log) and outside EnvOps's own
    data folder (whose scratch folders are emptied at every start)."""
    destination = Path(os.path.abspath(destination))
    try:
        # Either may be on a network disk that stopped answering: said, not a traceback.
        parent_is_folder, is_a_link = is_folder(destination.parent), is_link(destination)
    except OperationFailedError as unreachable:
        raise OperationFailedError(f"{unreachable} Nothing was written.") from unreachable
    if not parent_is_folder and not destination.parent.exists():
        raise NotFoundError(f"{destination.parent} does not exist; nothing was written.")
    if not parent_is_folder:
        raise InvalidInputError(
            f"{destination.parent} is a file, not a folder; nothing was written."
        )
    if is_a_link:  # the new folder would take the link's place, not fill it
        raise InvalidInputError(
            f"{destination} is a link, not a folder; choose the folder it leads to "
            f"({os.path.realpath(destination)}) or a new one. Nothing was written."
        )
    if destination.exists() and not destination.is_dir():
        raise InvalidInputError(f"{destination} is not a folder; nothing was written.")
    if destination.is_dir() and any(destination.iterdir()):
        raise InvalidInputError(
            f"{destination} is not empty; choose a new folder. Nothing was written."
        )
    if is_mount_point(destination):
        # The tree is written beside the folder, on the disk that holds the mount point, and
        # a mount point cannot be removed for it to be renamed there.
        raise InvalidInputError(
            f"{destination} is a mount point: a restore to a folder is written beside the "
            "folder and renamed into place, and a mount point cannot be replaced. Choose a "
            "new folder inside it. Nothing was written."
        )
    real = Path(os.path.realpath(destination))
    for env in ctx.environments.all():
        if real.is_relative_to(os.path.realpath(env.path)):
            raise InvalidInputError(
                f"{destination} is inside {env.name}'s folder; writing there would change "
                f"{env.name}. Choose a folder outside it."
            )
    data_dir = ctx.data_dir
    if real.is_relative_to(os.path.realpath(data_dir)):
        raise InvalidInputError(
            f"{destination} is inside EnvOps's data folder ({data_dir}), which is its own to "
            "clear; choose a folder outside it. Nothing was written."
        )
    # Tried last: it makes a folder there for an instant, which must not be in another's.
    if (why := why_nothing_can_be_made_in(destination.parent)) is not None:
        raise OperationFailedError(
            f"Cannot write in {destination.parent} ({why}); nothing was written."
        )
    return destination


def check_room_in(ctx: ServiceContext, backup: Backup, destination: Path) -> Path:
    """`check_destination`, and room there for `backup`: all a restore to a folder checks
    before it writes. Returns `destination` made absolute."""
    destination = check_destination(ctx, destination)
    check_free_space(destination, SpaceNeeded.of_backup(ctx, backup))
    return destination


def restore_to_folder(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    destination: Path,
    write_tree: TreeWriter,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> Path:
    """Write `backup` (of `env`) by `write_tree` as the new folder `destination`; returns it."""
    destination = check_room_in(ctx, backup, destination)
    started = time.monotonic()
    staging = destination.parent / f".{destination.name}{STAGING_MARK}{new_id()}"
    # Owned while it is written: the next start removes it if this process is killed.
    owner = OwnedFolder(ctx.staging_dir, f"{FOLDER_RESTORE_PREFIX}{new_id()}", also=staging)
    try:
        meter = ProgressMeter(progress, "restoring", backup.total_bytes)
        write_tree(staging, meter, cancel, False)
        apply_root_metadata(staging, staging, backup)
        cancel.raise_if_cancelled()
        sync_to_disk()  # all of it on disk before the name says it is there
        if destination.is_dir():
            destination.rmdir()  # empty, as checked: the rename takes its place
        os.rename(staging, destination)
    except BaseException:
        if os.path.lexists(staging):  # made by the writer
            remove_tree(staging)
        raise
    finally:
        owner.release()
    seconds = time.monotonic() - started
    detail = f"{backup.name} ({backup.version}) written to {destination} in {seconds:.1f} s"
    ctx.record(env, ActivityAction.RESTORED_TO_FOLDER, Outcome.SUCCESS, detail)
    return destination
