"""What an ordinary user's process meets, for tests that CI runs as root."""

import os

import pytest

from envops_desktop.store import file_metadata


def as_an_ordinary_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process one that may not give files away, running as user 1000."""
    monkeypatch.setattr(file_metadata, "_may_chown", lambda: False)
    monkeypatch.setattr(os, "geteuid", lambda: ORDINARY_USER)
    monkeypatch.setattr(os, "getegid", lambda: ORDINARY_USER)
    monkeypatch.setattr(os, "getgroups", lambda: [ORDINARY_USER])


ORDINARY_USER = 1000


def given_to(path, uid: int = ORDINARY_USER) -> None:
    """Make everything under `path` belong to `uid` (as root; the tests' user owns them
    otherwise already): a data folder the ordinary user of `as_an_ordinary_user` made."""
    if os.getuid() != 0:  # the real id: `as_an_ordinary_user` may be pretending already
        return
    for folder, folders, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, f) for f in folders + files)]:
            os.lchown(name, uid, uid)
