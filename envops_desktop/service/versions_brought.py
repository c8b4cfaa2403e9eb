"""The version a restore or an import leaves an environment at: the backup's or the file's
own, or, where the environment keeps its version in a file that is written, what the copy
of that file brought in says."""

import functools
from typing import TYPE_CHECKING

from envops_desktop.domain.errors import InvalidInputError
from envops_desktop.domain.models import Backup, Environment
from envops_desktop.service.context import ServiceContext
from envops_desktop.service.file_samples import stored_head
from envops_desktop.service.versions import (
    VERSION_HEAD_BYTES,
    version_file_in,
    version_file_written,
    version_read,
    without_version_file,
)

if TYPE_CHECKING:
    from envops_desktop.domain.configuration import ManifestEntry
    from envops_desktop.service.configuration_files import (
        CheckedConfigurationFile,
        StagedConfiguration,
    )


def version_restored(
    ctx: ServiceContext, env: Environment, backup: Backup, only: list[str] | None
) -> str:
    """The version a restore of `backup` (`only` those paths) leaves `env` at. Where `env`
    keeps its version in a file the restore writes, a backup of another environment brings
    the version its copy of that file says, read through its links (that environment may
    have none, or keep it elsewhere); one without it is refused, as `env` could not tell
    its version afterwards."""
    where = version_file_written(env, only)
    if where is None or backup.environment_id == env.id:
        return backup.version
    entries = list(ctx.backups.entries(backup.id))
    found = version_file_in(env, where, entries)
    if found is None:
        raise InvalidInputError(without_version_file(env, backup.name, "restored", entries))
    said = version_read(
        found, lambda entry: stored_head(ctx, entry, VERSION_HEAD_BYTES), backup.name
    )
    # Content in the team's store only is taken as recorded.
    return backup.version if said is None else said


def version_imported(
    ctx: ServiceContext,
    env: Environment,
    file: "CheckedConfigurationFile | StagedConfiguration",
) -> str | None:
    """The version importing `file` into `env` brings: what its copy of the environment's
    version file says (its manifest's may be of an environment that keeps none), else its
    manifest's; None for an archive whose version is not yet answered."""
    said = version_said(ctx, env, file)
    if said is not None:
        return said
    return None if file.plain is not None and file.plain.version is None else file.manifest.version


def version_said(
    ctx: ServiceContext,
    env: Environment,
    file: "CheckedConfigurationFile | StagedConfiguration",
) -> str | None:
    """What `file`'s copy of the file `env` keeps its version in says (an archive with no
    manifest: as laid out), when `env` keeps one and `file` holds it."""
    from envops_desktop.service.configuration_files import StagedConfiguration, file_head

    where = version_file_written(env)  # not one the import leaves as it is
    if where is None:
        return None
    found = version_file_in(env, where, file.manifest.entries)
    if found is None:
        return None
    if isinstance(file, StagedConfiguration):

        def head_of(entry: "ManifestEntry") -> bytes | None:
            with ctx.locks.blobs_in_use(), file.blobs.open(entry.sha256 or "") as f:
                return f.read(VERSION_HEAD_BYTES)

    else:
        head_of = functools.partial(file_head, file, limit=VERSION_HEAD_BYTES)
    return version_read(found, head_of, file.file_name)
