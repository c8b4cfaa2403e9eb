"""Opening a file of a live folder to read it, as the scan found it: a regular file.

Between the scan and the read an operator's tools may put something else at its path. A
link is not followed (it would read another file, or a device that never ends), and a
pipe is not waited on (opened to read, it waits for a writer that may never come): either
is refused as if the file had gone, which every reader already handles.
"""

import errno
import os
import stat

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)  # no effect on a regular file
    | getattr(os, "O_BINARY", 0)
)


def open_regular_file(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """A descriptor open to read the regular file at `path`, and its status; an OSError
    (ENOENT, naming `path`) when something else is there now."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as error:
        if error.errno != errno.ELOOP:  # what O_NOFOLLOW says of a link
            raise
        raise _gone(path) from error
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        raise _gone(path)
    return fd, status


def _gone(path: str | os.PathLike[str]) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, "no longer a regular file", os.fspath(path))
