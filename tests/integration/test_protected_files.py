"""Passphrase-protected configuration files: exported sealed, safe to mail, and imported
only with their passphrase; a damaged or cut one is refused and changes nothing."""

import getpass
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from envops_desktop.cli import main
from envops_desktop.service import EnvOpsService
from tests.trees import describe_tree, make_config_tree, mess_up, rsync_differences
from tests.trees import snapshot as take_snapshot

SECRET = b"db_password = s3cr3t-hunter2\n"
PASSPHRASE = "mail it, keep this apart"


@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ENVOPS_FILE_PASSPHRASE", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)  # never a prompt here

    def envops(*args: str, data: str = "data") -> tuple[int, str, str]:
        code = main(["--data-dir", str(tmp_path / data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return envops


@pytest.fixture
def backed_up(run, tmp_path) -> tuple[Path, str]:
    """billing, holding a secret, and the id of its backup."""
    tree = tmp_path / "billing"
    make_config_tree(tree)
    (tree / "conf.d" / "secret.ini").write_bytes(SECRET)
    assert run("env", "add", "billing", "--path", str(tree), "--version", "4.2.0")[0] == 0
    return tree, json.loads(run("backup", "create", "billing", "--json")[1])["id"]


@pytest.fixture
def exported(run, backed_up, tmp_path, monkeypatch) -> tuple[Path, Path, Path]:
    """billing backed up and exported with --encrypt; the tree as it was, and the file."""
    tree, backup_id = backed_up
    snapshot = tmp_path / "as-backed-up"
    take_snapshot(tree, snapshot)
    monkeypatch.setenv("ENVOPS_FILE_PASSPHRASE", PASSPHRASE)
    sealed = tmp_path / "billing.envops.zip"
    code, out, err = run("backup", "export", backup_id, str(sealed), "--encrypt")
    assert code == 0, err
    assert out.endswith("protected by its passphrase.\n")
    monkeypatch.delenv("ENVOPS_FILE_PASSPHRASE")
    return tree, snapshot, sealed


def test_an_encrypted_export_holds_nothing_readable_and_imports_with_its_passphrase(
    run, exported, monkeypatch
):
    tree, snapshot, sealed = exported
    body = sealed.read_bytes()
    assert SECRET not in body and b"secret.ini" not in body and b"billing" not in body
    assert not zipfile.is_zipfile(sealed)
    assert sealed.stat().st_mode & 0o077 == 0
    mess_up(tree)
    monkeypatch.setenv("ENVOPS_FILE_PASSPHRASE", PASSPHRASE)
    code, _, err = run("import", "billing", str(sealed), "--yes")
    assert code == 0, err
    assert rsync_differences(snapshot, tree) == []
    assert (tree / "conf.d" / "secret.ini").read_bytes() == SECRET


def test_a_passphrase_that_is_not_utf8_protects_and_opens_a_file_by_its_bytes(
    run, backed_up, tmp_path, monkeypatch
):
    # Set in a Latin-1 shell, its é is the byte 0xe9: export ended in a UnicodeEncodeError.
    tree, backup_id = backed_up
    sealed = tmp_path / "billing.envops.zip"
    monkeypatch.setenv("ENVOPS_FILE_PASSPHRASE", os.fsdecode(b"caf\xe9 au lait"))

    exported = run("backup", "export", backup_id, str(sealed), "--encrypt")
    mess_up(tree)
    imported = run("import", "billing", str(sealed), "--yes")
    monkeypatch.setenv("ENVOPS_FILE_PASSPHRASE", "café au lait")  # the same, in UTF-8
    refused = run("import", "billing", str(sealed), "--yes")

    assert exported[0] == 0, exported[2]
    assert imported[0] == 0, imported[2]
    assert refused[0] != 0 and "passphrase does not unlock" in refused[2]


def test_a_passphrase_typed_in_a_terminal_that_is_not_utf8_is_refused_in_a_sentence(
    run, backed_up, tmp_path, monkeypatch
):
    # getpass reads the terminal as UTF-8, strictly: a Latin-1 terminal's é ended the
    # command in a UnicodeDecodeError traceback. The terminal itself is the edge faked.
    _tree, backup_id = backed_up
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)

    def latin1_terminal(prompt: str) -> str:
        raise UnicodeDecodeError("utf-8", b"caf\xe9", 3, 4, "invalid continuation byte")

    monkeypatch.setattr(getpass, "getpass", latin1_terminal)
    sealed = tmp_path / "billing.envops.zip"

    code, _, err = run("backup", "export", backup_id, str(sealed), "--encrypt")

    assert code == 2
    assert err.startswith("envops: What was typed is not UTF-8 text: the terminal is set to")
    assert not sealed.exists()


def test_a_protected_file_without_its_passphrase_is_refused_and_changes_nothing(
    run, exported, monkeypatch
):
    tree, _, sealed = exported
    mess_up(tree)
    before = describe_tree(tree)
    code, _, err = run("import", "billing", str(sealed), "--yes")
    assert code == 2 and "billing.envops.zip needs a passphrase" in err
    monkeypatch.setenv("ENVOPS_FILE_PASSPHRASE", "not the passphrase")
    code, _, err = run("import", "billing", str(sealed), "--yes")
    assert code != 0 and "passphrase does not unlock" in err
    assert describe_tree(tree) == before


@pytest.mark.parametrize(
    "damage, said",
    [
        (lambda body: body[:-100], "cut short"),
        (lambda body: body[: len(body) // 2], "cut short"),
        (lambda body: body[:-50] + bytes([body[-50] ^ 1]) + body[-49:], "damaged or altered"),
    ],
    ids=["last-bytes-missing", "half-missing", "one-bit-flipped"],
)
def test_a_damaged_protected_file_is_refused_in_a_sentence_and_changes_nothing(
    run, exported, monkeypatch, tmp_path, damage, said
):
    tree, _, sealed = exported
    mess_up(tree)
    before = describe_tree(tree)
    broken = tmp_path / "broken.envops.zip"
    broken.write_bytes(damage(sealed.read_bytes()))
    monkeypatch.setenv("ENVOPS_FILE_PASSPHRASE", PASSPHRASE)
    code, _, err = run("import", "billing", str(broken), "--yes")
    assert code == 5, err
    assert f"broken.envops.zip was refused: it was {said}" in err
    assert describe_tree(tree) == before
    staging = tmp_path / "data" / "staging"
    assert [p.name for p in staging.iterdir()] == []  # no plain copy left behind


def test_the_plain_copy_of_a_protected_file_is_gone_once_it_was_taken_in(exported, tmp_path):
    tree, snapshot, sealed = exported
    service = EnvOpsService(tmp_path / "data")
    checked = service.check_configuration_file(sealed, passphrase=PASSPHRASE)
    assert checked.source.name == sealed.name  # named as the user knows it
    assert checked.source.read_bytes()[:2] == b"PK"
    staged = service.stage_configuration_file(checked)
    assert not checked.source.exists()
    mess_up(tree)
    service.import_configuration("billing", staged)
    assert (tree / "conf.d" / "secret.ini").read_bytes() == SECRET
    assert rsync_differences(snapshot, tree) == []
    service.close()
