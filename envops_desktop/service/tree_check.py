"""Comparing a directory on disk with a manifest, byte for byte."""

from collections.abc import Iterable
from pathlib import Path

from envops_desktop.domain.enums import EntryKind
from envops_desktop.domain.models import TreeEntry
from envops_desktop.service.scanning import scan_tree
from envops_desktop.store.blob_bodies import sha256_of_file


def tree_matches(root: Path, entries: Iterable[TreeEntry]) -> bool:
    """True when `root` holds exactly `entries`: same paths, kinds, modes, links and content."""
    if not root.is_dir():
        return False
    entries = list(entries)
    scan = scan_tree(root, file_xattrs=False)  # metadata beyond the mode is not compared
    if scan.skipped:
        return False
    found: dict[str, tuple] = {
        e.path: (e.kind, e.target if e.kind is EntryKind.SYMLINK else e.mode) for e in scan.others
    }
    found.update({path: (EntryKind.FILE, mode, size) for path, size, _, _, mode in scan.files})
    expected: dict[str, tuple] = {}
    for e in entries:
        if e.kind is EntryKind.FILE:
            expected[e.path] = (e.kind, e.mode, e.size)
        else:
            expected[e.path] = (e.kind, e.target if e.kind is EntryKind.SYMLINK else e.mode)
    if found != expected:
        return False
    hashes = {e.path: e.sha256 for e in entries if e.kind is EntryKind.FILE}
    return all(sha256_of_file(root / path) == sha for path, sha in hashes.items())
