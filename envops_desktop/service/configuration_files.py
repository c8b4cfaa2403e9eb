"""Check, stage (upload) and import a configuration file; `configuration_export` writes one."""

import contextlib
import functools
import itertools
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from operator import itemgetter
from pathlib import Path

from envops_desktop.domain.configuration import (
    ConfigurationManifest,
    ManifestEntry,
)
from envops_desktop.domain.enums import ActivityAction, BackupOrigin, EntryKind, Outcome
from envops_desktop.domain.errors import (
    InvalidConfigurationFileError,
    OperationFailedError,
    PassphraseNeededError,
)
from envops_desktop.domain.ids import new_id
from envops_desktop.domain.in_steps import let_go_in_steps
from envops_desktop.domain.models import Backup, Environment, TreeEntry, has_content
from envops_desktop.domain.paths import shown
from envops_desktop.domain.progress import (
    CancelToken,
    ProgressCallback,
    ProgressMeter,
    ignore_progress,
)
from envops_desktop.domain.wording import counted
from envops_desktop.service.context import (
    UPLOAD_PREFIX,
    ServiceContext,
)
from envops_desktop.service.materialize import materialize, new_file_metadata
from envops_desktop.service.parallel import run_in_batches, start_helpers_early, workload
from envops_desktop.service.plain_archive_import import (
    PlainArchive,
    macos_folder_caveat,
    no_checksums_caveat,
    read_archive,
)
from envops_desktop.service.restore import owners_caveat
from envops_desktop.service.versions import (
    version_file_in,
    version_file_written,
    without_version_file,
)
from envops_desktop.store.archive_kinds import plain_archive_kind
from envops_desktop.store.backup_records import entry_row
from envops_desktop.store.configuration_reader import (
    check_configuration_file,
    refuse_unless_a_file,
)
from envops_desktop.store.file_metadata import (
    OWN_STORE,
    UNTRUSTED,
    MetadataPolicy,
    restricted,
    restricted_row,
)
from envops_desktop.store.manifest_codec import encode_manifest
from envops_desktop.store.member_staging import MemberJob, stage_members
from envops_desktop.store.owned_folders import OwnedFolder
from envops_desktop.store.sealed_files import is_sealed, unseal_file
from envops_desktop.store.staged_blobs import StagedBlobs
from envops_desktop.store.timestamps import utc_now
from envops_desktop.store.zip_members import ZipMember, member_chunks

# Files whose contents are looked up in the store with one query (SQLite takes 999 values).
_LOOKUP_BATCH = 500


@dataclass
class StagedConfiguration:
    """A configuration file that was read, fully validated and staged, ready to import."""

    id: str
    file_name: str  # as `CheckedConfiguration.file_name` says it
    manifest: ConfigurationManifest
    blobs: StagedBlobs
    policy: MetadataPolicy
    caveats: list[str]  # what its import will not bring back exactly, to show first
    # The manifest's, counted here on the worker: over 200,000 entries on the window's
    # thread, as the Import dialog shows them, 0.1 s.
    file_count: int
    total_bytes: int
    plain: PlainArchive | None = None  # an archive with no manifest, and the user's answers


@dataclass
class CheckedConfigurationFile:
    """A configuration file checked in everything but its files' contents."""

    source: Path
    manifest: ConfigurationManifest
    members: dict[str, ZipMember]  # each file's zip entry, by manifest path
    policy: MetadataPolicy = UNTRUSTED  # which of its owners and powers are applied
    caveats: list[str] = field(default_factory=list)  # to show before the import
    # A passphrase-protected file's plain copy is `source`, in this folder of the staging
    # area, until it has been read (or this is forgotten, or the process dies).
    scratch: OwnedFolder | None = None
    plain: PlainArchive | None = None  # an archive with no manifest, and the user's answers

    @property
    def file_name(self) -> str:
        """The file's name as sentences, backup names and the database hold it: a byte that is
        not UTF-8 as \\xNN."""
        return shown(self.source.name)

    def release(self) -> None:
        """Let go of what reading its files needs, once they have been read: the plain copy
        of a passphrase-protected file, and its zip members, a part at a time (on the
        worker that read it, not on the window's thread as the last reference goes). An
        archive another tool made keeps its members: each answer lays it out from them."""
        if self.scratch is not None:
            self.scratch.release()
        if self.plain is None:
            let_go_in_steps(self.members)


def checked_configuration_file(
    ctx: ServiceContext,
    source: Path,
    allow_external_links: bool,
    keep_privileges: bool = False,
    passphrase: str | None = None,
    progress: ProgressCallback = ignore_progress,
    cancel: CancelToken | None = None,
) -> CheckedConfigurationFile:
    """Everything about `source` that can be checked before its files are read; a
    passphrase-protected file is opened with `passphrase` first. An archive another tool
    made (with no manifest) is read whole, to hash its files."""
    refuse_unless_a_file(source)
    if is_sealed(source):
        return _checked_sealed(ctx, source, allow_external_links, keep_privileges, passphrase)
    kind = plain_archive_kind(source)
    if kind is not None:
        return _checked_plain(
            ctx, source, kind, allow_external_links, keep_privileges, progress, cancel
        )
    if source.is_file():
        size = source.stat().st_size
        if size > shutil.disk_usage(ctx.staging_dir).free:
            raise _no_room_for(source)
        start_helpers_early(size)  # its contents are read by helpers, once it is checked
    manifest, members = check_configuration_file(source, allow_external_links)
    # Many small members are work for helpers too, which only the manifest tells.
    start_helpers_early(workload(manifest.total_bytes, manifest.file_count))
    policy, caveats = _trust(manifest, keep_privileges)
    return CheckedConfigurationFile(source, manifest, members, policy, caveats)


def _trust(
    manifest: ConfigurationManifest, keep_privileges: bool
) -> tuple[MetadataPolicy, list[str]]:
    if not keep_privileges:  # its files are the importing user's, as asked: nothing to say
        return UNTRUSTED, []
    owners = owners_caveat(lambda: manifest.entries, manifest.root_meta)
    return OWN_STORE, [owners] if owners else []


def _checked_plain(
    ctx: ServiceContext,
    source: Path,
    kind: str,
    allow_external_links: bool,
    keep_privileges: bool,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> CheckedConfigurationFile:
    if source.stat().st_size * 2 > shutil.disk_usage(ctx.staging_dir).free:
        raise _no_room_for(source)
    plain, manifest, members, scratch = read_archive(
        ctx, source, kind, allow_external_links, progress, cancel or CancelToken()
    )
    policy, caveats = _trust(manifest, keep_privileges)
    caveats = [no_checksums_caveat(shown(source.name), kind), *caveats]
    if plain.tree.left_out_macos_folder:
        caveats.append(macos_folder_caveat(shown(source.name)))
    bodies = plain.tree.bodies  # the archive itself, or its copy in `scratch`
    return CheckedConfigurationFile(bodies, manifest, members, policy, caveats, scratch, plain)


def refuse_unanswered(file: "CheckedConfigurationFile | StagedConfiguration") -> None:
    """An archive with no manifest is imported only once the user has said which version
    it holds and which of its folders is the root."""
    question = file.plain.unanswered(file.file_name) if file.plain is not None else None
    if question is not None:
        raise OperationFailedError(question)


def file_head(file: CheckedConfigurationFile, entry: ManifestEntry, limit: int) -> bytes | None:
    """About the first `limit` bytes of a file (`entry`) of a checked configuration file (an
    archive with no manifest: as laid out), read, not checked (the import checks all of it);
    None when it holds no content for it."""
    # A hard link's content is held once, by the first of its names.
    member = file.members.get(str((entry.meta or {}).get("hardlink", entry.path)))
    if member is None:
        return None
    head = b""
    with open(file.plain.tree.bodies if file.plain is not None else file.source, "rb") as bodies:
        for chunk in member_chunks(bodies, member, limit):
            head += chunk
            if len(head) >= limit:
                break
    return head


def refuse_losing_version_file(
    env: Environment, file: "CheckedConfigurationFile | StagedConfiguration"
) -> None:
    """An environment that keeps its version in a file could not tell its version after
    importing a file that does not hold it (as laid out, its links followed): refused before
    anything changes."""
    where = version_file_written(env)
    entries = file.manifest.entries
    if where is None or version_file_in(env, where, entries) is not None:
        return
    other_layout = (
        " (laid out with the other root, it may)"
        if file.plain is not None and file.plain.top_folder is not None
        else ""
    )
    raise InvalidConfigurationFileError(
        without_version_file(env, file.file_name, "imported", entries, other_layout)
    )


def _checked_sealed(
    ctx: ServiceContext,
    source: Path,
    allow_external_links: bool,
    keep_privileges: bool,
    passphrase: str | None,
) -> CheckedConfigurationFile:
    """A passphrase-protected file, opened into a plain copy of the same name in a scratch
    folder of the staging area (the owner's alone), and checked there."""
    if not passphrase:
        raise PassphraseNeededError(f"{shown(source.name)} is protected by a passphrase.")
    if source.stat().st_size * 2 > shutil.disk_usage(ctx.staging_dir).free:
        raise _no_room_for(source)
    scratch = OwnedFolder(ctx.staging_dir, f"{UPLOAD_PREFIX}{new_id()}")
    try:
        plain = scratch.directory / source.name
        with open(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            unseal_file(source, out, passphrase, lambda _n: None)
        checked = checked_configuration_file(ctx, plain, allow_external_links, keep_privileges)
    except BaseException:
        scratch.release()
        raise
    return replace(checked, scratch=scratch)


def _no_room_for(source: Path) -> OperationFailedError:
    return OperationFailedError(f"Not enough free disk space to take in {shown(source.name)}.")


def stage_configuration_file(
    ctx: ServiceContext,
    checked: CheckedConfigurationFile,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> StagedConfiguration:
    """Read and validate a checked file's contents, keeping them in the staging area."""
    source = checked.source
    upload_id = new_id()
    staged = StagedBlobs(ctx.staging_dir, f"{UPLOAD_PREFIX}{upload_id}", ctx.blobs)
    try:
        manifest, members = checked.manifest, checked.members
        total_bytes = manifest.total_bytes
        meter = ProgressMeter(progress, "uploading", total_bytes)
        files = (e for e in manifest.entries if has_content(e))
        _stage_files(source, staged, _member_jobs(files, members, staged), manifest, meter, cancel)
        meter.finish()
    except BaseException:
        staged.discard()
        raise
    finally:
        checked.release()
    return StagedConfiguration(
        upload_id,
        checked.file_name,
        manifest,
        staged,
        checked.policy,
        checked.caveats,
        manifest.file_count,
        total_bytes,
        checked.plain,
    )


def _stage_files(
    source: Path,
    staged: StagedBlobs,
    jobs: Iterator[MemberJob],
    manifest: ConfigurationManifest,
    meter: ProgressMeter,
    cancel: CancelToken,
    flush_meanwhile: bool = False,
) -> None:
    """Check every file against the manifest, keeping the contents the store lacks."""
    batches = run_in_batches(
        functools.partial(stage_members, str(source), str(staged.directory)),
        jobs,
        workload(manifest.total_bytes, manifest.file_count),
        lambda job: job,
        lambda job: job[2],
        "envops-upload",
        cancel,
        lambda done, job: meter.ahead(done, job[0]),
        durable=flush_meanwhile,  # staged content is synced by the store when it adopts it
    )
    # Closed before the stage can be discarded, so no helper is still writing into it.
    with contextlib.closing(batches):
        for batch, kept in batches:
            for job, compressed in zip(batch, kept, strict=True):
                if compressed is not None:
                    staged.record(job[1], compressed)
            meter.advance(sum(job[2] for job in batch), batch[-1][0])


def _member_jobs(
    files: Iterable[ManifestEntry | TreeEntry],
    members: dict[str, ZipMember],
    staged: StagedBlobs,
    root: str | None = None,
    policy: MetadataPolicy = UNTRUSTED,
) -> Iterator[MemberJob]:
    """Each file's staging job, claiming its content when the store and the files before it
    lack it (the store is asked a batch of contents at a time); with `root`, each file is
    also written out under it."""
    files = iter(files)
    while group := list(itertools.islice(files, _LOOKUP_BATCH)):
        with staged.looking_up([e.sha256 or "" for e in group]):
            claims = [staged.claim(e.sha256 or "") for e in group]
        for entry, keep in zip(group, claims, strict=True):
            new_file = None
            if root is not None:
                new_file = (os.path.join(root, entry.path), *new_file_metadata(entry, policy))
            yield entry.path, entry.sha256 or "", entry.size, keep, members[entry.path], new_file


def _imported_backup(
    env: Environment,
    ctx: ServiceContext,
    manifest: ConfigurationManifest,
    file_name: str,
    policy: MetadataPolicy,
) -> Backup:
    root_mode, root_meta = restricted(manifest.root_meta, manifest.root_mode or 0, policy)
    return Backup(
        id=new_id(),
        environment_id=env.id,
        name=manifest.backup_name or f"Imported {file_name}",
        created_at=utc_now(),
        version=manifest.version,
        created_by=ctx.user,
        origin=BackupOrigin.IMPORTED,
        file_count=manifest.file_count,
        total_bytes=manifest.total_bytes,
        root_mode=None if manifest.root_mode is None else root_mode,
        root_mtime_ns=manifest.root_mtime_ns,
        root_meta=root_meta,
    )


def _record_imported(
    ctx: ServiceContext,
    env: Environment,
    backup: Backup,
    manifest: ConfigurationManifest,
    blobs: StagedBlobs,
    file_name: str,
    policy: MetadataPolicy,
) -> None:
    """Move the checked content into the store and record it as `backup` (the caller holds
    the blobs in use), with only what `policy` lets the file's entries keep: a later restore
    from the store trusts what it holds."""
    blobs.move_into_store()  # and on disk, with nothing else that waits for it
    name, body = encode_manifest(restricted_row(entry_row(e), policy) for e in manifest.entries)
    with ctx.db.transaction():
        ctx.backups.insert(backup, manifest=name, body=body)
        ctx.record(
            env,
            ActivityAction.BACKUP_CREATED,
            Outcome.SUCCESS,
            f"{backup.name} (imported from {file_name}): {counted(backup.file_count, 'file')}",
        )


def _all_held(manifest: ConfigurationManifest, blobs: StagedBlobs) -> bool:
    shas = [e.sha256 for e in manifest.entries if e.kind is EntryKind.FILE and e.sha256]
    for start in range(0, len(shas), _LOOKUP_BATCH):
        group = shas[start : start + _LOOKUP_BATCH]
        with blobs.looking_up(group):
            if not all(map(blobs.holds, group)):
                return False
    return True


def adopt_staged_configuration(
    ctx: ServiceContext, env: Environment, staged: StagedConfiguration
) -> Backup:
    """Move staged content into the store and record it as a backup of origin `imported`."""
    backup = _imported_backup(env, ctx, staged.manifest, staged.file_name, staged.policy)
    with ctx.locks.blobs_in_use():
        # Content found in the store at upload was not kept again; the last backup holding
        # it may have been deleted since, and a record naming it would be a broken backup.
        if not _all_held(staged.manifest, staged.blobs):
            raise OperationFailedError(
                f"Part of the content of {staged.file_name} left the backup store after the "
                "file was uploaded (its backup was deleted); upload the file again."
            )
        _record_imported(
            ctx, env, backup, staged.manifest, staged.blobs, staged.file_name, staged.policy
        )
    staged.blobs.discard()
    return backup


class ImportInOnePass:
    """An import that writes the new tree while it reads the configuration file.

    Staging first and then restoring from the store inflated and hashed every file once, then
    decompressed and hashed it again to write it (5.5 s for 1 GiB, against 2.8 s for
    `tar -I zstd -xf`). Here each file is checked against the manifest and written into the
    restore's new tree as it is read, its content kept for the store at the same time; the
    file is recorded as a backup once every file has passed, before the swap. A file refused
    part way leaves everything as it was: the restore is rolled back with no trace.
    """

    def __init__(
        self,
        ctx: ServiceContext,
        checked: CheckedConfigurationFile,
    ) -> None:
        refuse_unanswered(checked)
        self._ctx = ctx
        self._checked = checked
        self._source = checked.source
        self._file_name = checked.file_name
        self.manifest, self._members = checked.manifest, checked.members
        self._policy = checked.policy
        self._env: Environment | None = None
        self._backup: Backup | None = None

    def backup_for(self, env: Environment) -> Backup:
        """The backup the file becomes (recorded only once all of it has been checked)."""
        self._env = env
        self._backup = _imported_backup(
            env, self._ctx, self.manifest, self._file_name, self._policy
        )
        return self._backup

    def write_tree(
        self, root: Path, meter: ProgressMeter, cancel: CancelToken, flush_meanwhile: bool
    ) -> None:
        """A `restore.TreeWriter`: the file's tree at `root`, then its backup recorded."""
        ctx, env, backup = self._ctx, self._env, self._backup
        assert env is not None and backup is not None, "backup_for comes first"
        # Sorted by path, so that every folder comes before what is in it.
        entries = sorted(
            (
                TreeEntry(e.path, e.kind, e.mode, e.size, e.mtime_ns, e.sha256, e.target, e.meta)
                for e in self.manifest.entries
            ),
            key=itemgetter(0),
        )
        staged = StagedBlobs(ctx.staging_dir, f"{UPLOAD_PREFIX}{backup.id}", ctx.blobs)
        try:
            # Held throughout: content found in the store when claimed is still there when
            # the backup that names it is recorded.
            with ctx.locks.blobs_in_use():
                materialize(
                    lambda: entries,
                    root,
                    lambda files: _stage_files(
                        self._source,
                        staged,
                        _member_jobs(files, self._members, staged, str(root), self._policy),
                        self.manifest,
                        meter,
                        cancel,
                        flush_meanwhile,
                    ),
                    self._policy,
                )
                meter.finish()
                # Dated once the whole file has passed, as when the file was staged.
                recorded = replace(backup, created_at=utc_now())
                _record_imported(
                    ctx, env, recorded, self.manifest, staged, self._file_name, self._policy
                )
        finally:
            staged.discard()
            self._checked.release()
