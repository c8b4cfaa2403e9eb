"""The S3 server and buckets of `tests/s3_server.py`, for every test here."""

from tests.s3_server import bucket, s3_credentials, s3_endpoint

__all__ = ["bucket", "s3_credentials", "s3_endpoint"]
