"""Rows of `backups` and `manifests`."""

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from envops_desktop.domain.enums import BackupOrigin, EntryKind
from envops_desktop.domain.models import Backup, TreeEntry
from envops_desktop.domain.name_json import loads_any_name
from envops_desktop.store.database import Database, like_prefix
from envops_desktop.store.hash_caches import forget_blobs
from envops_desktop.store.manifest_codec import (
    DamagedManifestError,
    EntryRow,
    read_manifest,
    save_manifest,
)
from envops_desktop.store.timestamps import from_text, to_text

if TYPE_CHECKING:  # configuration files' pydantic models stay off the backup path
    from envops_desktop.domain.configuration import ManifestEntry

_KINDS = {kind.value: kind for kind in EntryKind}


def entry_row(entry: "ManifestEntry | TreeEntry") -> EntryRow:
    return (
        entry.path,
        entry.kind.value,
        entry.mode,
        entry.size,
        entry.mtime_ns,
        entry.sha256,
        entry.target,
        entry.meta,
    )


def _nothing_told(_size: int) -> None:
    pass


def _blob_sizes(rows: Iterable[EntryRow]) -> dict[str, int]:
    return {row[5]: row[3] for row in rows if row[5] is not None}


# What a `Backup` is made of, in `_backup`'s order. Named rather than `*` and taken by
# place: 2,000 backups, listed on the window's thread each time an environment is
# selected, took 19 ms by column names and 14 ms so.
_BACKUP = (
    "SELECT id, environment_id, name, created_at, version, created_by, origin, file_count,"
    " total_bytes, skipped, root_mode, root_mtime_ns, root_meta, changed_while_read, made_on,"
    " pinned, deleted_at, deleted_why FROM backups"
)
_ORIGINS = {origin.value: origin for origin in BackupOrigin}


def _names(text: str | None) -> list[str]:
    return loads_any_name(text) if text and text != "[]" else []  # nearly always empty


def _backup(row: sqlite3.Row) -> Backup:
    (
        backup_id,
        environment_id,
        name,
        created_at,
        version,
        created_by,
        origin,
        file_count,
        total_bytes,
        skipped,
        root_mode,
        root_mtime_ns,
        root_meta,
        changed_while_read,
        made_on,
        pinned,
        deleted_at,
        deleted_why,
    ) = row
    return Backup(
        id=backup_id,
        environment_id=environment_id,
        name=name,
        created_at=from_text(created_at),
        version=version,
        created_by=created_by,
        origin=_ORIGINS[origin],
        file_count=file_count,
        total_bytes=total_bytes,
        skipped=_names(skipped),
        root_mode=root_mode,
        root_mtime_ns=root_mtime_ns,
        root_meta=loads_any_name(root_meta) if root_meta else None,
        changed_while_read=_names(changed_while_read),
        made_on=made_on,
        pinned=bool(pinned),
        deleted_at=from_text(deleted_at) if deleted_at else None,
        deleted_why=deleted_why or "",
    )


class BackupRecords:
    """Reads and writes backups and their manifests."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def insert(
        self,
        backup: Backup,
        *,
        manifest: str,
        body: bytes | bytearray | None = None,
        tree_digest: str | None = None,
    ) -> None:
        """Record a backup and its manifest in one transaction: all of it or none.

        The manifest is the document `body` named `manifest`, or without a body the stored one
        of that name. A backup given a `tree_digest` is one that `manifest_of_tree` may hand
        out for the same tree again.
        """
        with self._db.transaction() as conn:
            if body is not None:
                save_manifest(conn, manifest, body)
            conn.execute(
                "INSERT INTO backups (id, environment_id, name, created_at, version,"
                " created_by, origin, file_count, total_bytes, skipped, root_mode,"
                " root_mtime_ns, manifest, tree_digest, root_meta, changed_while_read, made_on)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    backup.id,
                    backup.environment_id,
                    backup.name,
                    to_text(backup.created_at),
                    backup.version,
                    backup.created_by,
                    backup.origin.value,
                    backup.file_count,
                    backup.total_bytes,
                    json.dumps(backup.skipped),
                    backup.root_mode,
                    backup.root_mtime_ns,
                    manifest,
                    tree_digest,
                    json.dumps(backup.root_meta) if backup.root_meta else None,
                    json.dumps(backup.changed_while_read),
                    backup.made_on,
                ),
            )

    def manifest_of_tree(self, env_id: str, tree_digest: str) -> str | None:
        """The manifest of a backup of this environment made from a scan with this digest.

        Its blobs are in the store for as long as that backup exists, and deleting the backup
        deletes the answer with it.
        """
        row = (
            self._db.connection()
            .execute(
                "SELECT manifest FROM backups WHERE environment_id = ? AND tree_digest = ? LIMIT 1",
                (env_id, tree_digest),
            )
            .fetchone()
        )
        return row[0] if row else None

    def of_tree(self, env_id: str, tree_digest: str) -> set[str]:
        """The ids of this environment's backups that hold the tree a scan with this digest
        found (`manifest_of_tree`)."""
        rows = (
            self._db.connection()
            .execute(
                "SELECT id FROM backups WHERE environment_id = ? AND manifest = (SELECT manifest"
                " FROM backups WHERE environment_id = ? AND tree_digest = ? LIMIT 1)",
                (env_id, env_id, tree_digest),
            )
            .fetchall()
        )
        return {row[0] for row in rows}

    def newest_with_manifest(self, env_id: str, manifest: str) -> Backup | None:
        """The newest backup of this environment whose tree is exactly `manifest`'s."""
        row = (
            self._db.connection()
            .execute(
                _BACKUP + " WHERE environment_id = ? AND manifest = ?"
                " AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1",
                (env_id, manifest),
            )
            .fetchone()
        )
        return _backup(row) if row else None

    def with_manifests(self, manifests: list[str]) -> dict[str, list[Backup]]:
        """Per manifest of `manifests`, the backups whose tree it is, newest first (those in
        Deleted too)."""
        return {name: self._with_manifest(name) for name in manifests}

    def still_damaged(self, manifests: list[str]) -> list[str]:
        """Those of `manifests` whose stored body does not read whole now (a check named
        them damaged; a second look under a repair's lock decides)."""
        damaged = []
        conn = self._db.connection()
        for name in manifests:
            row = conn.execute("SELECT body FROM manifests WHERE sha256 = ?", (name,)).fetchone()
            try:
                for _row in read_manifest(row[0], name) if row else ():
                    pass
            except DamagedManifestError:
                damaged.append(name)
        return damaged

    def _with_manifest(self, manifest: str) -> list[Backup]:
        rows = self._db.connection().execute(
            _BACKUP + " WHERE manifest = ? ORDER BY created_at DESC, id DESC", (manifest,)
        )
        return [_backup(row) for row in rows.fetchall()]

    def set_pinned(self, backup_id: str, pinned: bool) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE backups SET pinned = ? WHERE id = ?", (int(pinned), backup_id))

    def for_environment(
        self, env_id: str, deleted: bool = False, limit: int | None = None
    ) -> list[Backup]:
        """The environment's backups newest first (the first `limit` of them); with
        `deleted`, those in Deleted instead."""
        rows = self._db.connection().execute(
            _BACKUP + " WHERE environment_id = ? AND (deleted_at IS NULL) = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            (env_id, not deleted, -1 if limit is None else limit),
        )
        return [_backup(row) for row in rows]

    def versions(self, env_id: str) -> list[str]:
        """The versions the environment's backups (not those in Deleted) hold, newest first,
        each once: one query, not every backup read (14-45 ms for 2,000 of them)."""
        rows = self._db.connection().execute(
            "SELECT version FROM backups WHERE environment_id = ? AND deleted_at IS NULL"
            " GROUP BY version ORDER BY MAX(created_at) DESC",
            (env_id,),
        )
        return [version for (version,) in rows]

    def deleted_before(self, moment: datetime) -> list[Backup]:
        """Every backup moved to Deleted at or before `moment`, longest there first."""
        rows = self._db.connection().execute(
            _BACKUP + " WHERE deleted_at IS NOT NULL AND deleted_at <= ? ORDER BY deleted_at",
            (to_text(moment),),
        )
        return [_backup(row) for row in rows]

    def move_to_bin(self, backup_id: str, moment: datetime, why: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE backups SET deleted_at = ?, deleted_why = ? WHERE id = ?",
                (to_text(moment), why, backup_id),
            )

    def recover(self, backup_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE backups SET deleted_at = NULL, deleted_why = NULL WHERE id = ?",
                (backup_id,),
            )

    def by_id(self, backup_id: str) -> Backup | None:
        row = self._db.connection().execute(_BACKUP + " WHERE id = ?", (backup_id,)).fetchone()
        return _backup(row) if row else None

    def count(self, env_id: str) -> int:
        """How many backups the environment has, those in Deleted too."""
        query = "SELECT COUNT(*) FROM backups WHERE environment_id = ?"
        return self._db.connection().execute(query, (env_id,)).fetchone()[0]

    def ids_starting_with(self, prefix: str) -> list[str]:
        rows = self._db.connection().execute(
            "SELECT id FROM backups WHERE id LIKE ? ESCAPE '\\'", (like_prefix(prefix),)
        )
        return [row["id"] for row in rows]

    def _rows(
        self, conn: sqlite3.Connection, manifest: str, holding: bytes | None = None
    ) -> Iterator[EntryRow]:
        row = conn.execute("SELECT body FROM manifests WHERE sha256 = ?", (manifest,)).fetchone()
        return read_manifest(row[0], manifest, holding) if row else iter(())

    def manifest_of(self, backup_id: str) -> tuple[str, bytes]:
        """A backup's manifest as stored: its name (the SHA-256 of its text) and its text."""
        row = (
            self._db.connection()
            .execute(
                "SELECT m.sha256, m.body FROM backups b JOIN manifests m ON m.sha256 = b.manifest"
                " WHERE b.id = ?",
                (backup_id,),
            )
            .fetchone()
        )
        if row is None:
            raise DamagedManifestError(backup_id, "it is missing")
        return row[0], bytes(row[1])

    def entries(self, backup_id: str, holding: bytes | None = None) -> Iterator[TreeEntry]:
        """The manifest in path order, so parents always come before their children; given
        `holding`, only (and at least) the entries whose recorded rows hold those bytes."""
        conn = self._db.connection()
        row = conn.execute("SELECT manifest FROM backups WHERE id = ?", (backup_id,)).fetchone()
        for fields in self._rows(conn, row[0], holding) if row else []:
            entry_kind = _KINDS.get(fields[1])  # a dict: EntryKind(...) cost 1 µs an entry
            if entry_kind is None:  # damage that still decodes, found before the checksum is
                raise DamagedManifestError(row[0], f"an entry has no kind {fields[1]!r}")
            yield TreeEntry(fields[0], entry_kind, *fields[2:])

    def maybe_linked(self, backup_id: str) -> Iterator[TreeEntry]:
        """At least every file the backup records as another name of an earlier one (its
        meta's `hardlink`), and few other entries: the rest of the manifest is checked
        against its checksum but not decoded. Over 200,000 entries and no hardlink, 0.05 s
        against the whole manifest's 0.45 s."""
        return self.entries(backup_id, holding=b'"hardlink"')

    def delete(
        self, backup_ids: Iterable[str], read: Callable[[int], None] | None = None
    ) -> set[str]:
        """Delete backups; return the blobs that no other backup references any more.

        All in one pass over the manifests that stay, however many go. The hash cache
        forgets those blobs in the same transaction, so it only ever names content the
        store holds and a later backup can trust it without looking. `read` is told the
        size of each manifest read, of `manifest_bytes` before the deletion.
        """
        told = read or _nothing_told
        with self._db.transaction() as conn:
            manifests = set()
            for backup_id in backup_ids:
                query = "SELECT manifest FROM backups WHERE id = ?"
                row = conn.execute(query, (backup_id,)).fetchone()
                conn.execute("DELETE FROM backups WHERE id = ?", (backup_id,))
                if row is not None:
                    manifests.add(row[0])
            unused = [
                manifest
                for manifest in sorted(manifests)
                if not conn.execute(
                    "SELECT 1 FROM backups WHERE manifest = ?", (manifest,)
                ).fetchone()
            ]
            if not unused:
                return set()
            orphans: set[str] = set()
            for manifest in unused:
                row = conn.execute("SELECT body FROM manifests WHERE sha256 = ?", (manifest,))
                for (body,) in row.fetchall():
                    # A backup whose list of files is damaged goes all the same (it could not
                    # be restored, and its list blocked every gc): what it held is left to gc.
                    with contextlib.suppress(DamagedManifestError):
                        orphans.update(_blob_sizes(read_manifest(body, manifest)))
                    told(len(body))
            conn.executemany("DELETE FROM manifests WHERE sha256 = ?", [(m,) for m in unused])
            for name, body in conn.execute("SELECT sha256, body FROM manifests"):
                try:
                    orphans.difference_update(_blob_sizes(read_manifest(body, name)))
                except DamagedManifestError:
                    # What another backup's damaged list needs is unknown: nothing is freed,
                    # and the backups still go.
                    return set()
                told(len(body))
            forget_blobs(conn, orphans)
        return orphans

    def referenced_blobs(
        self, damaged: list[str] | None = None, read: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Every blob some backup needs, with its size; damaged manifests' names are added to
        `damaged` (and their blobs left out) when it is given, else they raise. `read` is
        told the size of each manifest read (of `manifest_bytes`), and may raise to stop."""
        needed: dict[str, int] = {}
        told = read or _nothing_told
        for name, body in self._db.connection().execute("SELECT sha256, body FROM manifests"):
            try:
                needed.update(_blob_sizes(read_manifest(body, name)))
            except DamagedManifestError:
                if damaged is None:
                    raise
                damaged.append(name)
            told(len(body))
        return needed

    def needing(self, shas: set[str]) -> dict[str, list[tuple[Backup, str]]]:
        """Per content of `shas`, each backup that needs it and the path that holds it there,
        newest backup first (every backup's list of files read; damaged lists passed over)."""
        found: dict[str, list[tuple[Backup, str]]] = {}
        if not shas:  # a whole store: no list of files to read
            return found
        conn = self._db.connection()
        for name, body in conn.execute("SELECT sha256, body FROM manifests"):
            try:
                paths = {row[5]: row[0] for row in read_manifest(body, name) if row[5] in shas}
            except DamagedManifestError:
                continue
            if not paths:
                continue
            for backup in self._with_manifest(name):
                for sha, path in paths.items():
                    found.setdefault(sha, []).append((backup, path))
        for needed in found.values():
            needed.sort(key=lambda pair: pair[0].created_at, reverse=True)
        return found

    def forget_tree_digests(self, conn: sqlite3.Connection) -> None:
        """Let no scan stand for a backup by its digest (`manifest_of_tree`) any more: the
        next backup of each folder looks at its files (in the caller's transaction)."""
        conn.execute("UPDATE backups SET tree_digest = NULL WHERE tree_digest IS NOT NULL")

    def manifest_bytes(self) -> int:
        """The size of every manifest kept, as stored: what `referenced_blobs` reads."""
        query = "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM manifests"
        return int(self._db.connection().execute(query).fetchone()[0])
