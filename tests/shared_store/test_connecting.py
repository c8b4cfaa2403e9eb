"""Connecting data folders to a shared store in a bucket: conditional writes proved first,
one passphrase for every workstation, nothing secret kept, nothing readable in the bucket."""

import json
import os
from pathlib import Path

import boto3
import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.fail import Keyring as FailKeyring

from envops_desktop.cli import main
from envops_desktop.domain.errors import InvalidInputError, WrongPassphraseError
from envops_desktop.service import EnvOpsService
from envops_desktop.service.shared_store import SETTINGS_NAME, UnsafeStoreError
from envops_desktop.store.bucket_objects import (
    BucketObjects,
    ObjectExistsError,
    StaleObjectError,
)
from tests.shared_store.proxies import header_dropping_proxy

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def cli(capsys, monkeypatch):
    monkeypatch.delenv("ENVOPS_PASSPHRASE", raising=False)

    def run(data: Path, *args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _passphrase_file(tmp_path: Path, passphrase: str = PASSPHRASE) -> str:
    path = tmp_path / f"passphrase-{len(passphrase)}"
    path.write_text(passphrase + "\n")
    return str(path)


def test_the_server_refuses_a_second_create_only_write_and_a_stale_etag(bucket, s3_endpoint):
    objects = BucketObjects(bucket, "team", s3_endpoint)
    first = objects.put("lock", b"mine", create_only=True)
    with pytest.raises(ObjectExistsError):
        objects.put("lock", b"theirs", create_only=True)
    renewed = objects.put("lock", b"mine again", if_match=first.etag)
    with pytest.raises(StaleObjectError):
        objects.put("lock", b"theirs", if_match=first.etag)
    assert objects.get("lock").data == b"mine again"
    assert objects.head("lock").etag == renewed.etag
    assert list(objects.keys()) == ["lock"]


def test_two_workstations_share_one_store_with_one_passphrase(cli, bucket, s3_endpoint, tmp_path):
    url = f"s3://{bucket}/team"
    passphrase = _passphrase_file(tmp_path)
    code, out, err = cli(
        tmp_path / "a", "store", "use", url, "--endpoint", s3_endpoint,
        "--passphrase-file", passphrase,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"Made and connected the shared store {url} (")
    code, out, err = cli(
        tmp_path / "b", "store", "use", url + "/", "--endpoint", s3_endpoint,
        "--passphrase-file", passphrase,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"Connected the shared store {url} (")
    ids = [json.loads((tmp_path / side / SETTINGS_NAME).read_text())["store_id"] for side in "ab"]
    assert ids[0] == ids[1]


def test_a_passphrase_file_that_is_not_utf8_connects_by_its_bytes(
    cli, bucket, s3_endpoint, tmp_path
):
    # Written by a Latin-1 editor: reading it ended in a UnicodeDecodeError traceback.
    url = f"s3://{bucket}/team"
    latin1 = tmp_path / "passphrase"
    latin1.write_bytes("café au lait\n".encode("latin-1"))
    for side in "ab":
        code, _, err = cli(
            tmp_path / side, "store", "use", url, "--endpoint", s3_endpoint,
            "--passphrase-file", str(latin1),
        )  # fmt: skip
        assert code == 0, err
    code, _, err = cli(
        tmp_path / "c", "store", "use", url, "--endpoint", s3_endpoint,
        "--passphrase-file", _passphrase_file(tmp_path, "café au lait"),  # its UTF-8 bytes
    )  # fmt: skip
    assert code == 1 and "The passphrase does not unlock" in err


def test_a_wrong_passphrase_is_refused_and_the_data_folder_keeps_no_store(
    cli, bucket, s3_endpoint, tmp_path
):
    url = f"s3://{bucket}/team"
    assert cli(
        tmp_path / "a", "store", "use", url, "--endpoint", s3_endpoint,
        "--passphrase-file", _passphrase_file(tmp_path),
    )[0] == 0  # fmt: skip
    code, _, err = cli(
        tmp_path / "b", "store", "use", url, "--endpoint", s3_endpoint,
        "--passphrase-file", _passphrase_file(tmp_path, "not the passphrase"),
    )  # fmt: skip
    assert code == 1
    where = f"s3://{bucket}/team/ at {s3_endpoint}"
    assert err == f"envops: The passphrase does not unlock the store in {where}.\n"
    assert not (tmp_path / "b" / SETTINGS_NAME).exists()


def test_a_damaged_key_in_the_store_is_passed_over_and_named_if_none_unlocks(
    cli, bucket, s3_endpoint, tmp_path
):
    # A key whose text is not a key's JSON ended `store use` in a pydantic traceback,
    # though another key in the store would have unlocked it.
    url = f"s3://{bucket}/team"
    use = ["store", "use", url, "--endpoint", s3_endpoint, "--passphrase-file"]
    assert cli(tmp_path / "a", *use, _passphrase_file(tmp_path))[0] == 0
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=bucket, Key="team/keys/0-damaged", Body=b'{"kdf": "scrypt", "salt": "c2Fs'
    )

    unlocked = cli(tmp_path / "b", *use, _passphrase_file(tmp_path))
    wrong = cli(tmp_path / "c", *use, _passphrase_file(tmp_path, "not the passphrase"))

    assert unlocked[0] == 0
    assert wrong[0] == 1 and wrong[2] == (
        f"envops: The passphrase does not unlock the store in s3://{bucket}/team/ at "
        f"{s3_endpoint}. keys/0-damaged there is damaged, and could not be tried.\n"
    )


def test_a_server_that_ignores_if_none_match_is_refused_before_anything_is_kept(
    bucket, s3_endpoint, tmp_path
):
    service = EnvOpsService(tmp_path / "a")
    with (
        header_dropping_proxy(s3_endpoint) as proxy,
        pytest.raises(UnsafeStoreError, match="ignores If-None-Match on writes"),
    ):
        service.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=proxy)
    assert not (tmp_path / "a" / SETTINGS_NAME).exists()
    assert _bucket_contents(bucket, s3_endpoint) == {}  # the probe went too
    service.close()


def test_store_check_proves_conditional_writes_again_and_unlocks(
    cli, bucket, s3_endpoint, tmp_path, monkeypatch
):
    url = f"s3://{bucket}/team"
    assert cli(
        tmp_path / "a", "store", "use", url, "--endpoint", s3_endpoint,
        "--passphrase-file", _passphrase_file(tmp_path),
    )[0] == 0  # fmt: skip
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
    code, out, err = cli(tmp_path / "a", "store", "check", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "where": f"s3://{bucket}/team/ at {s3_endpoint}",
        "create_only_refused": True,
        "stale_etag_refused": True,
        "unlocked": True,
    }
    monkeypatch.setenv("ENVOPS_PASSPHRASE", "not the passphrase")
    code, _, err = cli(tmp_path / "a", "store", "check")
    assert code == 1 and "does not unlock" in err


def test_store_check_without_a_store_says_so(cli, tmp_path):
    code, _, err = cli(tmp_path / "a", "store", "check")
    assert code == 6
    assert "uses no shared store" in err


@pytest.mark.parametrize(
    "url",
    ["http://bucket/team", "s3://ab/team", "s3://Upper/team", "s3://bucket/../other"],
)
def test_a_store_address_that_is_not_one_is_refused_with_a_sentence(url, tmp_path):
    service = EnvOpsService(tmp_path / "a")
    with pytest.raises(InvalidInputError):
        service.use_shared_store(url, PASSPHRASE, endpoint="http://127.0.0.1:9")
    service.close()


@pytest.mark.parametrize(
    ("command", "url", "said"),
    [
        ("use", "notaurl", "A shared store's address starts with s3:// (s3://BUCKET/PREFIX)."),
        ("use", "s3://Upper/team", "'Upper' is not a bucket name"),
        ("copy", "minio.internal/team", "A shared store's address starts with s3://"),
    ],
)
def test_a_mistyped_store_address_is_refused_before_a_passphrase_is_asked_for_it(
    cli, tmp_path, monkeypatch, command, url, said
):
    asked: list[str] = []
    monkeypatch.setattr("envops_desktop.cli.shared_store.ask_passphrase", asked.append)
    where = ["--to", url] if command == "copy" else [url]

    code, _, err = cli(tmp_path / "a", "store", command, *where)

    assert code == 1
    assert err.startswith(f"envops: {said}")
    assert asked == []
    assert not (tmp_path / "a" / SETTINGS_NAME).exists()


def test_the_bucket_holds_nothing_readable_and_the_data_folder_nothing_secret(
    bucket, s3_endpoint, tmp_path
):
    service = EnvOpsService(tmp_path / "a")
    opened = service.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    service.close()
    contents = _bucket_contents(bucket, s3_endpoint)
    assert sorted(k.split("/")[1] for k in contents) == ["config", "keys"]
    for key, data in contents.items():
        assert opened.settings.store_id.encode() not in data, key
        assert PASSPHRASE.encode() not in data, key
        assert opened.key.encryption not in data and opened.key.addressing not in data, key
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert PASSPHRASE.encode() not in path.read_bytes(), path


def test_a_second_passphrase_attempt_cannot_replace_the_store(bucket, s3_endpoint, tmp_path):
    # Connecting with another passphrase to a prefix that holds a store never makes a
    # second store there: it is refused, and the first store's objects are untouched.
    first = EnvOpsService(tmp_path / "a")
    first.use_shared_store(f"s3://{bucket}/team", PASSPHRASE, endpoint=s3_endpoint)
    before = _bucket_contents(bucket, s3_endpoint)
    second = EnvOpsService(tmp_path / "b")
    with pytest.raises(WrongPassphraseError):
        second.use_shared_store(f"s3://{bucket}/team", "another", endpoint=s3_endpoint)
    assert _bucket_contents(bucket, s3_endpoint) == before
    first.close()
    second.close()


def _bucket_contents(bucket: str, endpoint: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=endpoint)
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


class _MemoryKeyring(KeyringBackend):
    """The system keyring, as a dict: what a desktop session's Secret Service would keep."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.kept.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.kept[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.kept.pop((service, username), None)


def test_a_remembered_passphrase_serves_later_commands_from_the_keyring(
    cli, bucket, s3_endpoint, tmp_path
):
    url = f"s3://{bucket}/team"
    previous = keyring.get_keyring()
    memory = _MemoryKeyring()
    keyring.set_keyring(memory)
    try:
        code, _, err = cli(
            tmp_path / "a", "store", "use", url, "--endpoint", s3_endpoint,
            "--passphrase-file", _passphrase_file(tmp_path), "--remember-passphrase",
        )  # fmt: skip
        assert code == 0, err
        assert memory.kept == {("EnvOps Desktop", url): PASSPHRASE}
        code, out, err = cli(tmp_path / "a", "store", "check", "--json")
        assert code == 0, err
        assert json.loads(out)["unlocked"] is True
    finally:
        keyring.set_keyring(previous)


def test_without_a_keyring_remembering_says_so_and_the_store_is_still_connected(
    cli, bucket, s3_endpoint, tmp_path
):
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        code, _, err = cli(
            tmp_path / "a", "store", "use", f"s3://{bucket}/team", "--endpoint", s3_endpoint,
            "--passphrase-file", _passphrase_file(tmp_path), "--remember-passphrase",
        )  # fmt: skip
    finally:
        keyring.set_keyring(previous)
    assert code == 0
    assert "no keyring to keep the passphrase in" in err
    assert (tmp_path / "a" / SETTINGS_NAME).exists()


def test_no_passphrase_anywhere_and_no_terminal_is_a_usage_error(
    cli, bucket, s3_endpoint, tmp_path, monkeypatch
):
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        with open(os.devnull) as no_terminal:
            monkeypatch.setattr("sys.stdin", no_terminal)
            code, _, err = cli(
                tmp_path / "a", "store", "use", f"s3://{bucket}/team", "--endpoint", s3_endpoint
            )
    finally:
        keyring.set_keyring(previous)
    assert code == 2
    assert "set ENVOPS_PASSPHRASE or pass --passphrase-file" in err


def test_store_sync_on_the_command_line_shares_and_takes_in(
    cli, bucket, s3_endpoint, tmp_path, monkeypatch
):
    from tests.trees import make_config_tree

    url = f"s3://{bucket}/team"
    monkeypatch.setenv("ENVOPS_PASSPHRASE", PASSPHRASE)
    for side in "ab":
        tree = tmp_path / f"on-{side}"
        make_config_tree(tree)
        assert cli(tmp_path / side, "store", "use", url, "--endpoint", s3_endpoint)[0] == 0
    add = ("env", "add", "billing", "--version", "4.2.0", "--path")
    assert cli(tmp_path / "a", *add, str(tmp_path / "on-a"))[0] == 0
    assert cli(tmp_path / "a", "backup", "create", "billing", "--name", "nightly")[0] == 0
    code, out, err = cli(tmp_path / "a", "store", "sync")
    assert (code, out) == (0, "Shared 1 backup; took in 0 backups.\n"), err
    code, out, _ = cli(tmp_path / "b", "store", "sync")
    assert out == (
        "Shared 0 backups; took in 0 backups.\nIn the store but not here: billing "
        "(add an environment of that name to map it to a folder here).\n"
    )
    assert cli(tmp_path / "b", *add, str(tmp_path / "on-b"))[0] == 0
    code, out, _ = cli(tmp_path / "b", "store", "sync", "--json")
    assert json.loads(out) == {
        "pushed": [], "pulled": ["nightly"], "deleted": [], "unmapped": [], "refused": []
    }  # fmt: skip
    code, out, _ = cli(tmp_path / "b", "backup", "list", "billing")
    assert "@" in out.splitlines()[1]  # made on another workstation, and said so
    assert cli(tmp_path / "b", "restore", "billing", "nightly", "--yes")[0] == 0

    # A backup refused here is said, the rest of the sync done, and the exit code says so.
    (tmp_path / "on-a" / "escape").symlink_to("../../../etc")
    assert cli(tmp_path / "a", "backup", "create", "billing", "--name", "leads out")[0] == 0
    (tmp_path / "on-a" / "escape").unlink()
    assert cli(tmp_path / "a", "backup", "create", "billing", "--name", "after it")[0] == 0
    assert cli(tmp_path / "a", "store", "sync")[0] == 0
    code, out, err = cli(tmp_path / "b", "store", "sync")
    assert code == 1
    # Its own backup taken before the restore shared, and the one after the refused taken in.
    assert out.startswith("Shared 1 backup; took in 1 backup.\nNot taken in: the backup leads")
    assert "points outside the environment" in out
    assert "1 of the team's backups were not taken in; see above." in err
