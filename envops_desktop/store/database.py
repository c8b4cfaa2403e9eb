"""The SQLite metadata database: one connection per thread, WAL, migrations on open."""

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from envops_desktop.domain.errors import OperationCancelledError, OperationFailedError
from envops_desktop.domain.progress import CancelToken
from envops_desktop.store.full_disk import has_no_room_for, no_room_to
from envops_desktop.store.migrations import MIGRATIONS

DATABASE_NAME = "envops.sqlite3"
# How long a connection waits for another process's write lock before it gives up.
_WAIT_SECONDS = 30.0
_STEPS_BETWEEN_ASKING = 20_000


class Database:
    """Opens `envops.sqlite3` in a data dir and hands each thread its own connection.

    SQLite connections must not be shared between threads, and the service is called from
    QThread workers, the CLI and pool threads alike; a thread-local connection keeps every
    caller simple. WAL lets readers in other processes (the app while the CLI writes) carry on.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / DATABASE_NAME
        self._local = threading.local()
        try:
            self._migrate()
        except BaseException as error:
            # Not left open: the user may want to unmount or mend the disk it is on next.
            self.close()
            if isinstance(error, sqlite3.DatabaseError):
                raise OperationFailedError(unusable(self.path, error)) from error
            raise

    def connection(self) -> sqlite3.Connection:
        owned = getattr(self._local, "owned", None)
        if owned is None:
            owned = self._local.owned = _ThreadConnection(self._connect())
        return owned.conn

    def _connect(self) -> sqlite3.Connection:
        # Used by its own thread only, but closed by whichever thread lets go of a finished
        # thread's local storage last, which sqlite3's same-thread check refused.
        conn = sqlite3.connect(
            self.path, timeout=_WAIT_SECONDS, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        try:
            _use_wal(conn)
            # FULL: a restore's journal row must be on disk before the directory swap it
            # announces.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()  # a read-only disk refuses WAL: no file left open on it
            raise
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one IMMEDIATE transaction: one writer at a time, no deadlock."""
        conn = self.connection()
        if conn.in_transaction:  # nested use joins the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def interruptible(self, cancel: CancelToken | None) -> Iterator[sqlite3.Connection]:
        """This thread's connection, whose statements in the block stop soon after `cancel`
        is set (OperationCancelledError): a read of the whole log for a search the user has
        typed past goes on for 100 ms or more, beside the one that replaced it."""
        conn = self.connection()
        if cancel is None:
            yield conn
            return
        # Asked every so many of SQLite's steps: about every millisecond, for a bool's cost.
        conn.set_progress_handler(lambda: cancel.cancelled, _STEPS_BETWEEN_ASKING)
        try:
            yield conn
        except sqlite3.OperationalError:
            if cancel.cancelled:
                raise OperationCancelledError("Superseded; nothing was changed.") from None
            raise
        finally:
            conn.set_progress_handler(None, 0)

    def _migrate(self) -> None:
        conn = self.connection()
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > len(MIGRATIONS):
            # Its tables may hold what this version would misread (schema 22 keeps packs by
            # number where 21 kept them by name), so nothing here touches it.
            raise OperationFailedError(
                f"The data folder {self.path.parent} was last used by a newer version of"
                " EnvOps Desktop; this version cannot read it. Install that version again."
                " Nothing was changed."
            )
        if current == len(MIGRATIONS):
            return
        if current > 0:  # keep the user's data safe should a migration go wrong
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy2(self.path, self.path.with_suffix(f".v{current}.bak"))
        for number in range(current, len(MIGRATIONS)):
            step = MIGRATIONS[number]
            conn.execute("BEGIN IMMEDIATE")
            # Another process starting on the same new data folder may have taken this step
            # while this one waited for the write lock: read the version again under it.
            if conn.execute("PRAGMA user_version").fetchone()[0] > number:
                conn.execute("COMMIT")
                continue
            try:
                if isinstance(step, str):
                    for statement in _statements(step):
                        conn.execute(statement)
                else:
                    step(conn)
                conn.execute(f"PRAGMA user_version={number + 1}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        owned = getattr(self._local, "owned", None)
        if owned is not None:
            owned.conn.close()
            self._local.owned = None


def _use_wal(conn: sqlite3.Connection) -> None:
    # Processes creating the database at once (several first commands) each read its header,
    # then ask to rewrite it for WAL. SQLite refuses all but one at once instead of waiting,
    # since each would wait for the others' read forever; the refused ones ask again. Once
    # one has, the file is in WAL mode and asking costs nothing.
    deadline = time.monotonic() + _WAIT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class _ThreadConnection:
    """One thread's connection, closed when the thread's local storage lets go of it.

    A `sqlite3.Connection` sits in a reference cycle with its own statement cache, so without
    this a pool thread's connection would close only when the garbage collector came by; and
    the last connection to close is what folds the write-ahead log back into the database.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __del__(self) -> None:
        self.conn.close()


def _statements(script: str) -> list[str]:
    # executescript() would commit the surrounding transaction; run statement by statement.
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():  # a step missing its last semicolon must not be skipped silently
        raise ValueError(f"Incomplete SQL statement in a migration: {pending.strip()}")
    return [s for s in statements if s]


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching text that starts with `prefix` literally."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def unusable(path: Path, error: sqlite3.DatabaseError) -> str:
    """Why the database cannot be used, opening it or later, in a sentence that says what
    to do."""
    text = str(error)
    # For certain where its disk has no room left ("unable to open": its journal could not
    # be made there); as may be where it has room again, full a moment before.
    failed_to_write = "disk I/O" in text or "full" in text
    if (failed_to_write or "unable to open" in text) and has_no_room_for(path):
        return no_room_to(f"use {path}", path)
    if failed_to_write:
        return (
            f"Cannot use {path}: the disk holding it may be full ({text}). "
            "Free some space and try again."
        )
    if "not a database" in text or "malformed" in text or "decode" in text:
        return (
            f"{path} is damaged ({text}). Move it aside and restore it from a copy; "
            "EnvOps changed nothing."
        )
    if "readonly" in text or "unable to open" in text:
        if _on_read_only_disk(path):
            return (
                f"Cannot use {path}: it is on a disk mounted read-only ({text}). Mount it "
                "read-write, or choose another data folder."
            )
        if not os.access(path, os.W_OK):  # another user's (one made by running with sudo)
            return (
                f"Cannot use {path}: this user may not write to it ({text}). Run EnvOps as "
                "the user who owns it, or choose another data folder."
            )
        # The file is writable but SQLite also writes its journal beside it.
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return (
                f"Cannot use {path}: this user may not write in its folder, {path.parent}, "
                f"where the database keeps its journal ({text}). Let this user write there, or "
                "choose another data folder."
            )
    return f"Cannot use {path}: {text}."


def _on_read_only_disk(path: Path) -> bool:
    if not hasattr(os, "statvfs"):  # Windows: a read-only file is the only way to be one
        return False
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False
