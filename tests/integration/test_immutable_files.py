"""Immutable and append-only files (`chattr +i`, `chattr +a`) in an environment: the kernel
keeps them where they are, so a restore, which replaces the folder that holds them, is
refused before anything changes, and says which and why."""

import errno
import fcntl
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from envops_desktop.cli import main
from envops_desktop.domain.errors import OperationFailedError
from tests.trees import describe_tree, mess_up

_GETFLAGS, _SETFLAGS = 0x80086601, 0x40086602
IMMUTABLE, APPEND_ONLY = 0x10, 0x20


def _set_flags(path: Path, set_bits: int, clear_bits: int = 0) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a folder too
    try:
        flags = bytearray(8)
        fcntl.ioctl(fd, _GETFLAGS, flags)
        value = (struct.unpack_from("=i", flags)[0] | set_bits) & ~clear_bits
        fcntl.ioctl(fd, _SETFLAGS, bytearray(struct.pack("=i", value) + bytes(4)))
    finally:
        os.close(fd)


@pytest.fixture
def pin() -> Iterator:
    """Set a flag on a path; cleared afterwards, always (pytest could not remove it)."""
    pinned: list[tuple[Path, int]] = []

    def set_flag(path: Path, flag: int) -> None:
        try:
            _set_flags(path, flag)
        except OSError as error:
            if error.errno in (errno.EPERM, errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL):
                why = f"cannot set chattr flags here ({error.strerror}): root on ext4 or xfs can"
                pytest.skip(why)
            raise
        pinned.append((path, flag))

    yield set_flag
    for path, flag in pinned:
        if path.exists():  # a test may clear it and restore it away
            _set_flags(path, 0, flag)


def test_a_restore_over_an_immutable_file_is_refused_and_changes_nothing(
    service, environment, config_dir, pin
):
    backup = service.create_backup("billing")
    mess_up(config_dir)
    resolv = config_dir / "conf.d" / "resolv.conf"
    resolv.write_text("nameserver 10.0.0.53\n")
    pin(resolv, IMMUTABLE)
    before = describe_tree(config_dir)

    with pytest.raises(OperationFailedError) as refusal:
        service.restore_backup("billing", backup.id)

    assert str(refusal.value).startswith(f"{resolv} is immutable (chattr +i): a restore would")
    assert "Clear the flag first (chattr -i)" in str(refusal.value)
    assert describe_tree(config_dir) == before
    assert sorted(p.name for p in config_dir.parent.iterdir()) == ["billing"]  # no leftovers
    assert service.get_environment("billing").status.value == "Ready"


def test_an_append_only_folder_is_refused_too_and_once_cleared_the_restore_goes_ahead(
    service, environment, config_dir, pin
):
    backup = service.create_backup("billing")
    mess_up(config_dir)
    logs = config_dir / "logs"
    logs.mkdir()
    pin(logs, APPEND_ONLY)

    with pytest.raises(OperationFailedError, match=r"logs is append-only \(chattr \+a\)"):
        service.restore_backup("billing", backup.id)

    _set_flags(logs, 0, APPEND_ONLY)
    service.restore_backup("billing", backup.id)
    assert not logs.exists()


def test_a_dry_run_says_the_restore_would_be_refused(service, environment, config_dir, pin, capsys):
    backup = service.create_backup("billing")
    pin(config_dir / "app.yaml", IMMUTABLE)
    data = ["--data-dir", str(service.data_dir)]

    code = main([*data, "restore", "billing", backup.id, "--dry-run", "--json"])
    out, err = capsys.readouterr()

    assert (code, out) == (1, "")
    assert "app.yaml is immutable (chattr +i)" in err
    assert [entry.action.value for entry in service.activity("billing")] == [
        "backup created",
        "environment added",
    ]
