"""The server going away in the middle of a sync: a sentence, nothing half-shared, and the
next sync finishes the job."""

import os
import socket
from pathlib import Path

import pytest

from envops_desktop.domain.errors import OperationFailedError
from envops_desktop.service import EnvOpsService, parallel
from envops_desktop.store import bucket_objects
from tests.shared_store.proxies import forwarding_proxy
from tests.trees import describe_tree, make_config_tree, mess_up

PASSPHRASE = "one team, one passphrase"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server_of_our_own(s3_credentials):
    """A moto server this test may stop and start again on the same port (moto keeps its
    buckets in the process, so they outlive a restart, as a real server's disks do)."""
    if os.environ.get("ENVOPS_TEST_S3_URL"):
        pytest.skip("stops and starts the S3 server, which only the local one allows")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    servers = [ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)]
    servers[0].start()

    def stop() -> None:
        """Stop the running server (once), closing its port for the restart to take."""
        server = servers[-1]
        if server is not None:
            server.stop()
            # moto's stop() leaves the listening socket open until the server is collected,
            # and a restart on the same port then waited forever for its bind.
            server._server.server_close()
            servers[-1] = None

    def restart() -> None:
        servers.append(ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False))
        servers[-1].start()

    yield f"http://127.0.0.1:{port}", stop, restart
    stop()


def _a_and_b(
    endpoint: str, bucket: str, tmp_path: Path, lease_seconds: float | None = None
) -> tuple[EnvOpsService, EnvOpsService, Path]:
    """A and B connected to a new store in `bucket`; A has billing, three packs' worth."""
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/team"
    a, b = EnvOpsService(tmp_path / "a"), EnvOpsService(tmp_path / "b")
    a.use_shared_store(url, PASSPHRASE, endpoint=endpoint, lease_seconds=lease_seconds)
    b.use_shared_store(url, PASSPHRASE, endpoint=endpoint)
    tree = tmp_path / "on-a"
    make_config_tree(tree, files=40)
    for index in range(3):
        (tree / f"data{index}.bin").write_bytes(os.urandom(12 << 20))
    a.add_environment("billing", tree, version="4.2.0")
    return a, b, tree


def test_a_sync_cut_off_by_the_server_shares_nothing_half_and_the_next_one_finishes(
    server_of_our_own, tmp_path
):
    endpoint, stop, restart = server_of_our_own
    a, b, tree = _a_and_b(endpoint, "cut-off", tmp_path)
    made = a.create_backup("billing")

    def stop_after_the_first_megabytes(progress) -> None:
        if progress.phase == "uploading" and progress.done > (16 << 20):
            stop()

    with pytest.raises(OperationFailedError, match="Could not reach s3://cut-off/team/"):
        a.sync_shared_store(PASSPHRASE, progress=stop_after_the_first_megabytes)
    restart()
    there = tmp_path / "on-b"
    make_config_tree(there)
    b.add_environment("billing", there, version="4.2.0")
    assert b.sync_shared_store(PASSPHRASE).pulled == []  # nothing of it is visible yet

    assert a.sync_shared_store(PASSPHRASE).pushed == [made.name]
    assert b.sync_shared_store(PASSPHRASE).pulled == [made.name]
    mess_up(there)
    b.restore_backup("billing", made.id)
    assert describe_tree(there) == describe_tree(tree)
    a.close()
    b.close()


@pytest.mark.parametrize("helpers", ["threads", "helper processes"])
def test_a_restore_from_the_bucket_cut_off_by_the_server_changes_nothing(
    server_of_our_own, tmp_path, helpers, monkeypatch
):
    import time

    if helpers == "helper processes":  # each fetches its own packs: the cut reaches them there
        monkeypatch.setattr(parallel, "PROCESSES_FROM_BYTES", 0)

    endpoint, stop, restart = server_of_our_own
    a, b, tree = _a_and_b(endpoint, "cut-off-restore", tmp_path, lease_seconds=2)
    made = a.create_backup("billing")
    a.sync_shared_store(PASSPHRASE)
    there = tmp_path / "on-b"
    make_config_tree(there)
    before = describe_tree(there)
    b.add_environment("billing", there, version="4.2.0")
    b.sync_shared_store(PASSPHRASE)

    def stop_in_the_middle(progress) -> None:
        if progress.phase == "restoring" and progress.done > 0:
            cut.append(progress.done)
            stop()

    cut: list[int] = []
    with pytest.raises(OperationFailedError, match="Could not reach s3://cut-off-restore/team/"):
        b.restore_backup("billing", made.id, progress=stop_in_the_middle)
    assert cut  # it failed because the server went away, not for a reason of its own

    assert describe_tree(there) == before
    assert sorted(p.name for p in there.parent.iterdir()) == ["a", "b", "on-a", "on-b"]
    restart()
    time.sleep(2.5)  # the lock the cut-off restore could not give back lapses
    b.restore_backup("billing", made.id)
    assert describe_tree(there) == describe_tree(tree)
    a.close()
    b.close()


def test_a_sync_cut_off_between_the_packs_of_one_file_sends_all_of_it_the_next_time(
    bucket, s3_endpoint, tmp_path, monkeypatch
):
    # A file of two parts goes up in two packs. With the first pack up and the second
    # refused, the next sync took the file as in the store (its first part was), and the
    # backup it shared restored nowhere: "The stored copy of big.bin is damaged".
    indexes: list[str] = []
    failing = [True]

    def second_index_refused(method: str, path: str) -> bool:
        if method != "PUT" or "/index/" not in path:
            return False
        if path not in indexes:
            indexes.append(path)
        return failing[0] and path != indexes[0]  # asked again and again: still refused

    monkeypatch.setattr(bucket_objects, "_ATTEMPTS", 1)  # 20 s of back-off is not the point
    tree = tmp_path / "on-a" / "billing"
    make_config_tree(tree)
    (tree / "big.bin").write_bytes(os.urandom((16 << 20) + 12345))  # two parts, two packs
    there = tmp_path / "on-b" / "billing"
    make_config_tree(there)
    url = f"s3://{bucket}/team"
    with forwarding_proxy(s3_endpoint, refused=second_index_refused) as endpoint:
        a, b = EnvOpsService(tmp_path / "a"), EnvOpsService(tmp_path / "b")
        try:
            a.use_shared_store(url, PASSPHRASE, endpoint=endpoint)
            b.use_shared_store(url, PASSPHRASE, endpoint=endpoint)
            a.add_environment("billing", tree, version="4.2.0")
            b.add_environment("billing", there, version="4.2.0")
            made = a.create_backup("billing")
            with pytest.raises(OperationFailedError, match="answered SlowDown for index/"):
                a.sync_shared_store(PASSPHRASE)
            failing[0] = False

            assert a.sync_shared_store(PASSPHRASE).pushed == [made.name]
            assert b.sync_shared_store(PASSPHRASE).pulled == [made.name]
            b.restore_backup("billing", made.id)
        finally:
            a.close()
            b.close()

    assert len(indexes) >= 2
    assert describe_tree(there) == describe_tree(tree)


@pytest.mark.parametrize("cut_off", ["once", "every time"])
def test_an_answer_cut_off_half_way_is_asked_again_then_said_in_a_sentence(
    bucket, s3_endpoint, tmp_path, monkeypatch, cut_off
):
    # botocore asks again for a request that fails, not for a body cut off part way: that
    # came out of a sync, a restore and a prune as a bare ResponseStreamingError.
    monkeypatch.setattr(bucket_objects, "_ATTEMPTS", 3)
    url = f"s3://{bucket}/team"
    a = EnvOpsService(tmp_path / "a")
    a.use_shared_store(url, PASSPHRASE, endpoint=s3_endpoint)
    a.close()
    cuts: list[str] = []
    connected = [False]

    def key_cut_off(method: str, path: str) -> bool:
        if not connected[0] or method != "GET" or "/keys/" not in path:
            return False
        if cut_off == "once" and cuts:
            return False
        cuts.append(path)
        return True

    with forwarding_proxy(s3_endpoint, cut=key_cut_off) as endpoint:
        b = EnvOpsService(tmp_path / "b")
        try:
            b.use_shared_store(url, PASSPHRASE, endpoint=endpoint)
            connected[0] = True
            if cut_off == "once":
                assert b.sync_shared_store(PASSPHRASE).pulled == []
            else:
                with pytest.raises(OperationFailedError) as refused:
                    b.sync_shared_store(PASSPHRASE)
        finally:
            b.close()

    if cut_off == "once":
        assert len(cuts) == 1
    else:
        assert len(cuts) == 3  # each attempt cut off
        assert str(refused.value).startswith(f"Could not reach {url}/ at {endpoint}: ")
