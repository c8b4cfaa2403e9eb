"""An S3-compatible server for the tests of the shared store: moto's, started here on
127.0.0.1, or any server named in ENVOPS_TEST_S3_URL (MinIO, Ceph RGW) with credentials
from the usual AWS variables."""

import logging
import os
import uuid
from collections.abc import Iterator

import pytest

TEST_S3_URL = "ENVOPS_TEST_S3_URL"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of an S3 server for the whole session."""
    if os.environ.get(TEST_S3_URL):
        yield os.environ[TEST_S3_URL]
        return
    from moto.server import ThreadedMotoServer

    # Its request log would go to whatever stderr was when the server started, which a test
    # capturing output may have closed since.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials from the standard chain: moto takes any, another server its own."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    if not os.environ.get(TEST_S3_URL):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "envops-test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envops-test-secret")
        # No shared credentials file or profile of the machine's may leak into a test.
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)


@pytest.fixture
def bucket(s3_endpoint: str, s3_credentials: None) -> Iterator[str]:
    """A new, empty bucket for one test, removed with its objects afterwards."""
    import boto3

    name = f"envops-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)
