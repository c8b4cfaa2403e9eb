"""Sealed objects: only the key opens them, any change is caught, names reveal nothing."""

import hashlib

import pytest

from envops_desktop.store.sealing import (
    DamagedObjectError,
    MasterKey,
    WrongPassphraseError,
    unwrap,
    wrap,
)


def test_a_sealed_object_opens_with_its_key_and_hides_its_content():
    key = MasterKey.new()
    sealed = key.seal(b"password = hunter2\n", b"blob")
    assert b"hunter2" not in sealed
    assert key.open(sealed, b"blob") == b"password = hunter2\n"
    assert key.seal(b"password = hunter2\n", b"blob") != sealed  # a fresh nonce each time


@pytest.mark.parametrize("where", [0, 5, 20, -1])
def test_a_flipped_bit_anywhere_is_caught(where):
    key = MasterKey.new()
    sealed = bytearray(key.seal(b"port = 5432\n"))
    sealed[where] ^= 1
    with pytest.raises(DamagedObjectError):
        key.open(bytes(sealed))


def test_an_object_moved_to_another_role_or_store_does_not_open():
    key = MasterKey.new()
    sealed = key.seal(b"{}", b"lock")
    with pytest.raises(DamagedObjectError):
        key.open(sealed, b"config")
    with pytest.raises(DamagedObjectError):
        MasterKey.new().open(sealed, b"lock")


def test_content_names_are_keyed_so_two_stores_name_one_file_differently():
    content = b"well-known file\n"
    first, second = MasterKey.new(), MasterKey.new()
    assert first.address(content) == first.address(content)
    assert first.address(content) != second.address(content)
    assert hashlib.sha256(content).hexdigest() not in (first.address(content),)


def test_the_wrapped_key_opens_only_with_its_passphrase():
    master = MasterKey.new()
    wrapped = wrap(master, "correct horse", "alice@ops")
    assert unwrap(wrapped, "correct horse") == master
    with pytest.raises(WrongPassphraseError):
        unwrap(wrapped, "correct hors")
    dumped = wrapped.model_dump_json().encode()
    assert master.encryption not in dumped and b"correct horse" not in dumped
