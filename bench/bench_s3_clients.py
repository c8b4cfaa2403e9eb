"""boto3 against obstore, the two candidate S3 clients, on the same local S3 server.

The server (moto's, the one the tests use) runs in a process of its own, so neither client
shares its interpreter with it. Each client puts and then gets the same objects: 16 of
8 MiB (a pack's size) and 400 of 16 KiB (the small objects: backups, events, locks), five
rounds interleaved, medians reported. Installed sizes come from the virtual environment.

    .venv/bin/pip install -e '.[test,bench]' && .venv/bin/python -m bench.bench_s3_clients
"""

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import obstore
from obstore.store import S3Store

from bench.s3_server import start_s3_server

ROUNDS = 5
SHAPES = {"16 × 8 MiB": (16, 8 << 20), "400 × 16 KiB": (400, 16 << 10)}


def _size_mib(*packages: str) -> float:
    site = Path(boto3.__file__).parents[1]
    total = 0
    for package in packages:
        for path in (site / package).rglob("*"):
            if path.is_file():
                total += path.stat().st_size
    return total / (1 << 20)


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    server, url = start_s3_server()
    try:
        s3 = boto3.client("s3", endpoint_url=url)
        s3.create_bucket(Bucket="bench")
        store = S3Store(
            "bench", endpoint=url, region="us-east-1", client_options={"allow_http": True}
        )
        clients: dict[str, tuple[Callable[[str, bytes], object], Callable[[str], bytes]]] = {
            "boto3": (
                lambda key, data: s3.put_object(Bucket="bench", Key=key, Body=data),
                lambda key: s3.get_object(Bucket="bench", Key=key)["Body"].read(),
            ),
            "obstore": (
                lambda key, data: obstore.put(store, key, data),
                lambda key: bytes(obstore.get(store, key).bytes()),
            ),
        }
        seconds: dict[tuple[str, str, str], list[float]] = {}
        for round_ in range(ROUNDS):
            for shape, (count, size) in SHAPES.items():
                data = os.urandom(size)
                for name, (put, get) in clients.items():
                    keys = [f"{name}/{round_}/{shape[:3]}/{i}" for i in range(count)]
                    started = time.perf_counter()
                    for key in keys:
                        put(key, data)
                    seconds.setdefault((name, shape, "put"), []).append(
                        time.perf_counter() - started
                    )
                    started = time.perf_counter()
                    for key in keys:
                        get(key)
                    seconds.setdefault((name, shape, "get"), []).append(
                        time.perf_counter() - started
                    )
    finally:
        server.kill()
        server.wait()

    print("| client | objects | put MiB/s | get MiB/s | installed |")
    print("| --- | --- | --- | --- | --- |")
    sizes = {"boto3": _size_mib("boto3", "botocore", "s3transfer"), "obstore": _size_mib("obstore")}
    for name in clients:
        for shape, (count, size) in SHAPES.items():
            mib = count * size / (1 << 20)
            put = mib / statistics.median(seconds[(name, shape, "put")])
            get = mib / statistics.median(seconds[(name, shape, "get")])
            print(f"| {name} | {shape} | {put:.0f} | {get:.0f} | {sizes[name]:.0f} MiB |")


if __name__ == "__main__":
    main()
