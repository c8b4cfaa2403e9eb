"""What EnvOps says when its data folder cannot be made, opened or written."""

import errno
import os
import sqlite3

from envops_desktop.data_dir import cannot_open
from envops_desktop.store.database import unusable


def test_a_data_folder_that_may_not_be_made_is_named_with_what_to_do(tmp_path):
    data_dir = tmp_path / "locked" / "EnvOps Desktop"
    denied = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "locked"))
    assert cannot_open(data_dir, denied) == (
        f"Cannot open the data folder {data_dir}: permission denied ({tmp_path / 'locked'}). "
        "Choose another folder with --data-dir DIR or the ENVOPS_DATA_DIR variable."
    )


def test_another_users_database_says_whose_it_is_to_write(tmp_path, monkeypatch):
    database = tmp_path / "envops.sqlite3"
    sqlite3.connect(database).close()
    # What the system lets this user do is the edge: as root (CI), it lets it do anything.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    said = unusable(database, sqlite3.OperationalError("attempt to write a readonly database"))
    assert said == (
        f"Cannot use {database}: this user may not write to it (attempt to write a readonly "
        "database). Run EnvOps as the user who owns it, or choose another data folder."
    )


def test_a_database_in_a_folder_this_user_may_not_write_in_names_the_folder(tmp_path, monkeypatch):
    database = tmp_path / "envops.sqlite3"
    sqlite3.connect(database).close()
    monkeypatch.setattr(os, "access", lambda path, mode: path == database)
    said = unusable(database, sqlite3.OperationalError("attempt to write a readonly database"))
    assert said == (
        f"Cannot use {database}: this user may not write in its folder, {tmp_path}, where the "
        "database keeps its journal (attempt to write a readonly database). Let this user "
        "write there, or choose another data folder."
    )
