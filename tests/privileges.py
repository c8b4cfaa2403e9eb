"""What an ordinary user's process meets, for tests that CI runs as root."""

import os

import pytest

from envops_desktop.store import file_metadata


def as_an_ordinary_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process one that may not give files away, running as user 1000."""
    monkeypatch.setattr(file_metadata, "_may_chown", lambda: False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getegid", lambda: 1000)
    monkeypatch.setattr(os, "getgroups", lambda: [1000])
