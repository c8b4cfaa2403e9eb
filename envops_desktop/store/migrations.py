"""Schema migrations: one step per PRAGMA user_version, applied in order.

A step is SQL, or a function for what SQL alone cannot do; each runs in one transaction.
"""

import sqlite3
from collections.abc import Callable

from envops_desktop.store.hash_caches import CacheRow, encode_cache
from envops_desktop.store.manifest_codec import encode_manifest, save_manifest


def _manifests_as_documents(conn: sqlite3.Connection) -> None:
    # 2: a backup's entries become one compressed document shared by identical backups.
    for statement in (
        "CREATE TABLE manifests (sha256 TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID",
        "ALTER TABLE backups ADD COLUMN manifest TEXT",
        "CREATE INDEX backups_by_manifest ON backups(manifest)",
        "CREATE INDEX file_cache_by_blob ON file_cache(sha256)",
    ):
        conn.execute(statement)
    backups = [row[0] for row in conn.execute("SELECT id FROM backups")]
    for backup_id in backups:
        rows = conn.execute(
            "SELECT path, kind, mode, size, mtime_ns, sha256, target FROM backup_entries"
            " WHERE backup_id = ?",
            (backup_id,),
        ).fetchall()
        manifest, body = encode_manifest(tuple(row) for row in rows)
        save_manifest(conn, manifest, body)
        conn.execute("UPDATE backups SET manifest = ? WHERE id = ?", (manifest, backup_id))
    conn.execute("DROP TABLE backup_entries")


def _hash_caches_as_documents(conn: sqlite3.Connection) -> None:
    # 5: an environment's hash cache becomes one document, read whole in a fraction of the time.
    conn.execute(
        "CREATE TABLE hash_caches (environment_id TEXT PRIMARY KEY"
        " REFERENCES environments(id) ON DELETE CASCADE, body BLOB NOT NULL) WITHOUT ROWID"
    )
    caches: dict[str, list[CacheRow]] = {}
    for env_id, *row in conn.execute(
        "SELECT environment_id, path, size, mtime_ns, inode, sha256 FROM file_cache"
        " ORDER BY environment_id, path"
    ):
        caches.setdefault(env_id, []).append((*row, 0, None))  # xattrs not known
    conn.executemany(
        "INSERT INTO hash_caches (environment_id, body) VALUES (?, ?)",
        ((env_id, encode_cache(rows)) for env_id, rows in caches.items()),
    )
    conn.execute("DROP TABLE file_cache")


def _pack_index_by_number(conn: sqlite3.Connection) -> None:
    # 22: the pack index holds a content's sha256 as 32 bytes and its pack by number (the
    # packs' names in `pack_files`): 262 bytes a content with its by-pack index, before. The
    # old table goes, under a new name: an older version reading pack numbers from
    # `packed_blobs` as names would have swept every pack as a leftover; now it stops at its
    # first look-up.
    conn.create_function("from_hex", 1, bytes.fromhex, deterministic=True)
    for statement in (
        "CREATE TABLE pack_files (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        "INSERT INTO pack_files (name) SELECT DISTINCT pack FROM packed_blobs ORDER BY pack",
        "CREATE TABLE packed_contents (sha256 BLOB PRIMARY KEY, pack INTEGER NOT NULL,"
        " offset INTEGER NOT NULL, length INTEGER NOT NULL, compressed INTEGER NOT NULL)"
        " WITHOUT ROWID",
        "INSERT INTO packed_contents SELECT from_hex(b.sha256), f.id, b.offset, b.length,"
        " b.compressed FROM packed_blobs b JOIN pack_files f ON f.name = b.pack",
        "DROP TABLE packed_blobs",
        "CREATE INDEX packed_contents_by_pack ON packed_contents(pack)",
    ):
        conn.execute(statement)


MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    # 1: the first schema.
    """
    CREATE TABLE environments (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        path TEXT NOT NULL,
        version TEXT NOT NULL,
        version_file TEXT,
        status TEXT NOT NULL,
        post_restore_argv TEXT,
        post_restore_timeout REAL,
        last_restored_backup_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE backups (
        id TEXT PRIMARY KEY,
        environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        version TEXT NOT NULL,
        created_by TEXT NOT NULL,
        origin TEXT NOT NULL,
        file_count INTEGER NOT NULL,
        total_bytes INTEGER NOT NULL,
        skipped TEXT NOT NULL DEFAULT '[]',
        root_mode INTEGER,
        root_mtime_ns INTEGER
    );
    CREATE INDEX backups_by_environment ON backups(environment_id, created_at);
    CREATE TABLE backup_entries (
        backup_id TEXT NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        kind TEXT NOT NULL,
        mode INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT,
        target TEXT,
        PRIMARY KEY (backup_id, path)
    ) WITHOUT ROWID;
    CREATE INDEX backup_entries_by_blob ON backup_entries(sha256);
    CREATE TABLE file_cache (
        environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (environment_id, path)
    ) WITHOUT ROWID;
    CREATE TABLE activity (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        environment_id TEXT,
        environment_name TEXT NOT NULL,
        action TEXT NOT NULL,
        user TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX activity_by_environment ON activity(environment_id, id);
    CREATE TABLE journal (
        id TEXT PRIMARY KEY,
        environment_id TEXT NOT NULL,
        environment_name TEXT NOT NULL,
        backup_id TEXT NOT NULL,
        action TEXT NOT NULL,
        phase TEXT NOT NULL,
        target TEXT NOT NULL,
        staging TEXT NOT NULL,
        previous TEXT NOT NULL,
        discard TEXT NOT NULL,
        prior_status TEXT NOT NULL,
        has_post_restore INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    _manifests_as_documents,
    # 3: small blobs live in pack files; this says where.
    """
    CREATE TABLE packed_blobs (
        sha256 TEXT PRIMARY KEY,
        pack TEXT NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        compressed INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX packed_blobs_by_pack ON packed_blobs(pack);
    """,
    # 4: the digest of the scan a backup was made from, so a backup of the same tree again
    # reuses its manifest without reading the hash cache.
    "ALTER TABLE backups ADD COLUMN tree_digest TEXT;",
    _hash_caches_as_documents,
    # 6: a backup that read a few files adds their entries without rewriting the whole cache.
    "ALTER TABLE hash_caches ADD COLUMN recent BLOB;",
    # 7: the boot a restore reached `flushing` in, to tell a kill from a power cut since.
    "ALTER TABLE journal ADD COLUMN boot_id TEXT;",
    # 8: the environment folder's own owner and attributes, the files a backup saw change
    # while it read them, and a restore's running post-restore command.
    """
    ALTER TABLE backups ADD COLUMN root_meta TEXT;
    ALTER TABLE backups ADD COLUMN changed_while_read TEXT;
    ALTER TABLE journal ADD COLUMN post_restore_process TEXT;
    """,
    # 9: what a restore or import was, in words, for recovery to say (an import's backup is
    # recorded only once its file has passed, so its id may name nothing); and the staged
    # tree's inode, which tells recovery which tree an exchanging swap left where.
    """
    ALTER TABLE journal ADD COLUMN subject TEXT;
    ALTER TABLE journal ADD COLUMN staged_inode INTEGER;
    """,
    # 10: a team's shared store. Which workstation made a backup (NULL: this one); the
    # store's name for each environment here, the backups that are in the store, and
    # where in the store's packs each content's parts lie (a cache of its index).
    """
    ALTER TABLE backups ADD COLUMN made_on TEXT;
    CREATE TABLE shared_environments (
        environment_id TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
        shared_id TEXT NOT NULL UNIQUE
    );
    CREATE TABLE shared_backups (
        backup_id TEXT PRIMARY KEY REFERENCES backups(id) ON DELETE CASCADE
    );
    CREATE TABLE shared_blobs (
        sha256 TEXT NOT NULL,
        part INTEGER NOT NULL,
        pack TEXT NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        PRIMARY KEY (sha256, part)
    ) WITHOUT ROWID;
    CREATE TABLE shared_packs (pack TEXT PRIMARY KEY) WITHOUT ROWID;
    """,
    # 11: deletions of shared backups, each an event object in the store: those made here
    # (`event` NULL until the next sync writes it) and those read from there; and the
    # store's append-only objects (events, activity entries) written or read here. A content's
    # part may lie in several packs (sent again when garbage collection had marked its
    # pack): each place is kept, so that forgetting a freed pack forgets only that place.
    # A restore of a shared environment journals the generation it claimed in the store, so
    # that its recovery can tell whether another workstation restored the folder since.
    # Activity entries taken in from the store say which workstation made them.
    """
    CREATE TABLE shared_deleted (backup_id TEXT PRIMARY KEY, event TEXT) WITHOUT ROWID;
    CREATE TABLE shared_seen (name TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE shared_parts (
        sha256 TEXT NOT NULL,
        part INTEGER NOT NULL,
        pack TEXT NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        PRIMARY KEY (sha256, part, pack)
    ) WITHOUT ROWID;
    INSERT INTO shared_parts SELECT sha256, part, pack, offset, length FROM shared_blobs;
    DROP TABLE shared_blobs;
    CREATE INDEX shared_parts_by_pack ON shared_parts (pack);
    ALTER TABLE journal ADD COLUMN generation TEXT;
    ALTER TABLE activity ADD COLUMN made_on TEXT;
    """,
    # 12: an environment's version, changed here and to be told to the shared store
    # (`to_tell`), and the newest version event of the store followed or told here, as
    # `StoreEvent.order` sorts it, so that an older one read later never wins.
    """
    CREATE TABLE shared_versions (
        environment_id TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
        to_tell TEXT,
        newest TEXT
    ) WITHOUT ROWID;
    """,
    # 13: each environment's schedule (its rule as JSON, on or off, when it was set) and the
    # slot it last took, with how that backup ended.
    """
    CREATE TABLE schedules (
        environment_id TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
        rule TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        since TEXT NOT NULL,
        last_slot TEXT,
        last_outcome TEXT,
        last_detail TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    """,
    # 14: backups pinned against retention, and each environment's retention rule (JSON;
    # none: the defaults).
    """
    ALTER TABLE backups ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE retention_rules (
        environment_id TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
        rule TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 15: the recycle bin: when a backup was deleted and why; its content is freed only
    # once it has been in Deleted for the bin's days.
    """
    ALTER TABLE backups ADD COLUMN deleted_at TEXT;
    ALTER TABLE backups ADD COLUMN deleted_why TEXT;
    """,
    # 16: the data folder's own settings (how long Deleted keeps backups, the default
    # retention rule), the same for the window and the command line.
    "CREATE TABLE service_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    # 17: an environment's exclude patterns (JSON list): not backed up, left alone by restores.
    "ALTER TABLE environments ADD COLUMN excludes TEXT;",
    # 18: settings shared with the team as events (a backup's pin, an environment's retention
    # rule): the value changed here and not told yet, and the newest event followed (its
    # order and value, for a backup not here yet).
    """
    CREATE TABLE shared_settings (
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        to_tell TEXT,
        newest TEXT NOT NULL DEFAULT '',
        followed TEXT,
        PRIMARY KEY (kind, subject)
    ) WITHOUT ROWID;
    """,
    # 19: whether a teammate's backup of the environment may hold links that lead out of it.
    "ALTER TABLE environments ADD COLUMN allow_links_out INTEGER NOT NULL DEFAULT 0;",
    # 20: a command run in the environment before a restore's swap (stopping a service).
    """
    ALTER TABLE environments ADD COLUMN pre_restore_argv TEXT;
    ALTER TABLE environments ADD COLUMN pre_restore_timeout REAL;
    """,
    # 21: what each restore changed, kept with its activity entry (zstd-compressed JSON),
    # apart from the log so that paging through it never reads them.
    "CREATE TABLE restore_reports (activity_id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
    _pack_index_by_number,
]
