"""A backup's hardlinks as its files were read, not only as its scan found them."""

from envops_desktop.store.file_metadata import EntryMeta


class LinksAsRead:
    """Checks each hardlink a scan recorded against the contents read after it.

    Between the scan and the reading of a file, another program may remove one of its names
    or give one a new file (an editor's or a package manager's write-and-rename), even one
    with the same content. A name recorded as a link to another read from another file
    would be restored with content, or a mode, owner or time, it never had. So the names of
    a file are linked only among those read from one file with one content, each to the
    first of them still in the backup.
    """

    def __init__(self, linked_to: set[str]) -> None:
        self._linked_to = linked_to  # the first names of files the scan found other names of
        # Per first name, per file and content read under one of its names, the first name
        # read so: the one the others read alike link to.
        self._standing: dict[str, dict[tuple[str, int], str]] = {}

    def kept(self, path: str, sha: str, inode: int, meta: EntryMeta | None) -> EntryMeta | None:
        """The metadata to record for `path`, read from file `inode` with content `sha` and
        scanned as `meta`. Called in path order, for every file the backup keeps."""
        if path in self._linked_to:
            self._standing[path] = {(sha, inode): path}
            return meta
        first = meta.get("hardlink") if meta else None
        if first is None:
            return meta
        assert meta is not None
        # A first name left out of the backup (removed meanwhile) has no entry: the next name
        # read stands for it.
        standing = self._standing.setdefault(str(first), {}).setdefault((sha, inode), path)
        if standing == path:
            return {key: value for key, value in meta.items() if key != "hardlink"}
        return meta if standing == first else {**meta, "hardlink": standing}
