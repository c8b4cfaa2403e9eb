"""Looking inside a data dir's blob store the way the store itself finds things."""

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from envops_desktop.store.blobs import BlobStore
from envops_desktop.store.database import DATABASE_NAME, Database
from envops_desktop.store.pack_index import PackedAt, PackIndex


def open_store(data_dir: Path) -> BlobStore:
    return BlobStore(data_dir, Database(data_dir))


def stored_blobs(data_dir: Path) -> list[str]:
    """Every blob the store holds, loose or packed."""
    return list(open_store(data_dir).all_blobs())


def store_files(data_dir: Path) -> dict[Path, int]:
    """Every file of the store (blobs and packs, not half-written ones) with its mtime."""
    objects = data_dir / "objects"
    return {
        path: path.stat().st_mtime_ns
        for path in objects.rglob("*")
        if path.is_file() and "tmp" not in path.relative_to(objects).parts
    }


def stored_content(data_dir: Path) -> bytes:
    """The bytes of every file of the store, one after another."""
    return b"".join(path.read_bytes() for path in sorted(store_files(data_dir)))


def _where(data_dir: Path, sha: str) -> Path | PackedAt:
    # A blob's own file, or its place in a pack.
    loose = list((data_dir / "objects" / sha[:2]).glob(sha + "*"))
    if loose:
        return loose[0]
    at = PackIndex(Database(data_dir)).locate(sha)
    assert at is not None, f"blob {sha} is not stored"
    return at


def stored_size(data_dir: Path, sha: str) -> int:
    """How many bytes blob `sha` takes in the store."""
    where = _where(data_dir, sha)
    return where.length if isinstance(where, PackedAt) else where.stat().st_size


def damage_blob(data_dir: Path, sha: str, rot: bytes = b"rotten") -> None:
    """Overwrite the start of blob `sha` where it lies, as bit rot would."""
    at = _where(data_dir, sha)
    if isinstance(at, Path):
        at.write_bytes(rot)
        return
    with open(data_dir / "objects" / "packs" / at.pack, "r+b") as pack:
        pack.seek(at.offset)
        pack.write(rot[: at.length])


def tamper_with_manifest(
    data_dir: Path, change: Callable[[bytes, bytes], bytes], of_backup: str | None = None
) -> None:
    """Rewrite the one stored manifest's body (or that of the backup `of_backup` names) with
    `change(text, body)`, keeping its name."""
    import zstandard

    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        query, args = "SELECT sha256, body FROM manifests", ()
        if of_backup is not None:
            query += " WHERE sha256 = (SELECT manifest FROM backups WHERE id = ?)"
            args = (of_backup,)
        (name, body), *others = db.execute(query, args).fetchall()
        assert others == []
        text = zstandard.ZstdDecompressor().stream_reader(body).read()
        db.execute("UPDATE manifests SET body = ? WHERE sha256 = ?", (change(text, body), name))


def flipped_bit(_text: bytes, body: bytes) -> bytes:
    """A change for `tamper_with_manifest`: one bit of the stored body flipped, as bit rot."""
    damaged = bytearray(body)
    damaged[len(damaged) // 2] ^= 0x10
    return bytes(damaged)


def damage_table(data_dir: Path, table: str) -> Path:
    """Overwrite the first page of `table` in the data dir's database, as a sector of the
    disk gone bad would; returns the database's path. What reads that page finds out."""
    database = data_dir / DATABASE_NAME
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (page,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    with open(database, "r+b") as file:
        file.seek((page - 1) * page_size)
        file.write(b"\xff" * page_size)
    return database


def leave_unreferenced_content(data_dir: Path, scratch: Path) -> int:
    """Store content as a backup killed before its record does: a large blob of its own and
    a small one in a pack, which no backup names; return how many."""
    (scratch / "large.bin").write_bytes(os.urandom(300_000))
    (scratch / "small.conf").write_bytes(b"left = behind\n")
    store = open_store(data_dir)
    with store.packing() as pack:
        placed = [store.ingest(str(scratch / name), pack) for name in ("large.bin", "small.conf")]
    store.record_packed((sha, at) for sha, _size, at, *_ in placed if at is not None)
    return len(placed)
