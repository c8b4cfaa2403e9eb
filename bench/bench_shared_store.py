"""EnvOps's shared store beside restic's S3 repository, on one local S3 server, same run.

The server is moto's (the tests' own) in a process of its own. Per round, each tool gets a
new bucket: a first backup of the tree into it, a second of the unchanged tree, and a
restore of the latest backup into an empty folder on a second workstation. For EnvOps the
second workstation is a new data folder connected to the store, with an environment of the
same name and an empty folder, and the restore is `envops restore bench latest`: it takes
in the team's backups of the environment first (their lists of files) and writes the files
straight from the bucket, as `restic restore latest` does. EnvOps's backup is `backup
create` followed by `store sync`, timed as one; everything is encrypted on both sides.
Rounds alternate which tool goes first; medians are reported. "restore, then on disk" adds
the `sync` after which the restored tree is on disk: both commands leave it to the kernel
(an EnvOps restore is settled, flushed while the previous tree is still kept, by a process
of its own after the command returns).

    .venv/bin/python -m bench.bench_shared_store [--quick] [--rounds 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

from bench.datasets import mixed_tree, tree_bytes
from bench.process_tree import measure
from bench.s3_server import start_s3_server

HERE = Path(__file__).resolve().parent
OPERATIONS = ("first backup", "unchanged backup", "restore", "restore, then on disk")


def _envops(data: Path, *args: str) -> list[str]:
    # The installed command, as operators and the other benches run it: under `python -m
    # envops_desktop.cli` each helper of a restore imports the whole command line (0.3 s).
    command = str(Path(sys.executable).with_name("envops"))
    return [command, "--data-dir", str(data), *args]


def _run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)


def _envops_round(tree: Path, work: Path, url: str, bucket: str, env: dict) -> dict[str, float]:
    a, b, there = work / "a", work / "b", work / "restored-envops"
    there.mkdir()
    store = ("store", "use", f"s3://{bucket}/team", "--endpoint", url)
    _run(_envops(a, *store), env)
    _run(_envops(a, "env", "add", "bench", "--path", str(tree), "--version", "1"), env)
    backup = " && ".join(
        " ".join(_envops(a, *step)) for step in (("backup", "create", "bench"), ("store", "sync"))
    )
    seconds = {
        "first backup": measure(["sh", "-c", backup], env=env).seconds,
        "unchanged backup": measure(["sh", "-c", backup], env=env).seconds,
    }
    _run(_envops(b, *store), env)
    _run(_envops(b, "env", "add", "bench", "--path", str(there), "--version", "1"), env)
    restore = _envops(b, "restore", "bench", "latest", "--yes", "--no-backup-first")
    seconds["restore"] = measure(restore, env=env).seconds
    seconds["restore, then on disk"] = seconds["restore"] + _sync()
    return seconds


def _restic_round(tree: Path, work: Path, url: str, bucket: str, env: dict) -> dict[str, float]:
    repository = ["restic", "-q", "-r", f"s3:{url}/{bucket}/restic"]
    _run([*repository, "init"], env)
    first = measure([*repository, "backup", "."], cwd=tree, env=env).seconds
    unchanged = measure([*repository, "backup", "."], cwd=tree, env=env).seconds
    there = work / "restored-restic"
    there.mkdir()
    restored = measure([*repository, "restore", "latest", "--target", str(there)], env=env)
    return {
        "first backup": first,
        "unchanged backup": unchanged,
        "restore": restored.seconds,
        "restore, then on disk": restored.seconds + _sync(),
    }


def _sync() -> float:
    """Seconds until what the last command wrote is on disk."""
    return measure(["sync"]).seconds


def _empty(client, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a 64 MiB tree, one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("restic") is None:
        raise SystemExit("restic is missing: apt-get install restic")
    data = HERE / "data"
    if args.quick:
        tree = mixed_tree(data / "tree-64m", total_bytes=64 << 20, files=2_000)
        rounds = 1
    else:
        tree = mixed_tree(data / "tree-1g")
        rounds = args.rounds
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ENVOPS_PASSPHRASE": "bench passphrase",
        "RESTIC_PASSWORD": "bench passphrase",
    }
    server, url = start_s3_server()
    client = boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    )
    seconds: dict[tuple[str, str], list[float]] = {}
    try:
        for round_ in range(rounds):
            tools = [("EnvOps", _envops_round), ("restic", _restic_round)]
            for name, run in tools if round_ % 2 == 0 else reversed(tools):
                bucket = f"bench-{name.lower()}-{round_}"
                client.create_bucket(Bucket=bucket)
                with tempfile.TemporaryDirectory(dir=data) as work:
                    for operation, value in run(tree, Path(work), url, bucket, env).items():
                        seconds.setdefault((name, operation), []).append(value)
                _empty(client, bucket)
    finally:
        server.kill()
        server.wait()
    mib = tree_bytes(tree) / (1 << 20)
    print(f"Tree: {mib:.0f} MiB; medians of {rounds} round(s), seconds.\n")
    print("| operation | EnvOps | restic | EnvOps / restic |")
    print("| --- | --- | --- | --- |")
    for operation in OPERATIONS:
        ours = statistics.median(seconds[("EnvOps", operation)])
        theirs = statistics.median(seconds[("restic", operation)])
        print(f"| {operation} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f}× |")


if __name__ == "__main__":
    main()
