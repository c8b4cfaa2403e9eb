"""Objects in an S3-compatible bucket: conditional writes, the server's clock, retries.

boto3 was chosen over obstore (bench/bench_s3_clients.py): it moves large objects faster on
the same server, every response carries the server's `Date` (leases are timed by the
server's clock, never by comparing two workstations'), and its standard retry mode backs off
on dropped connections, throttling and 5xx responses. Credentials come from boto3's chain
(environment, shared credentials file, profile); nothing secret passes through here.
"""

import email.utils
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from envops_desktop.domain.errors import OperationFailedError

# Attempts per request, backing off between them (botocore's "standard" mode: up to 20 s).
_ATTEMPTS = 5
# Requests a transfer keeps in flight, as restic keeps several.
REQUESTS_IN_FLIGHT = 3


class ObjectExistsError(OperationFailedError):
    """A create-only write found the object there already."""


class StaleObjectError(OperationFailedError):
    """A write conditional on an object's ETag found another version of it."""


class ObjectMissingError(OperationFailedError):
    """The object asked for is not in the bucket."""


class StoreUnreachableError(OperationFailedError):
    """The server could not be reached, or kept failing, after every retry."""


@dataclass(frozen=True)
class Written:
    """What a write left: the object's new ETag and the server's time when it answered."""

    etag: str
    server_time: datetime


@dataclass(frozen=True)
class Fetched:
    """An object as read (`data` is None for a head), with the server's time."""

    key: str
    data: bytes | None
    etag: str
    last_modified: datetime
    server_time: datetime


class BucketAddress(NamedTuple):
    """Where a store's objects are: enough for another process to reach them."""

    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None


# An access key, its secret and a session token: what boto3's chain resolved.
Credentials = tuple[str, str, str | None]

# This process's clients, by address, with the credentials they were given (None: their own
# from boto3's chain). A client takes 50 ms to make, and one serves every thread (boto3's
# clients are thread-safe).
_clients: dict[BucketAddress, tuple["BucketObjects", Credentials | None]] = {}


def objects_at(address: BucketAddress, credentials: Credentials | None) -> "BucketObjects":
    """The objects at `address`, through this process's client for them.

    A helper process makes its own client, signing with the `credentials` its parent
    resolved: its environment is the fork server's, which may be older than the parent's
    (a helper that looked for credentials itself found none there, and said the store could
    not be reached).
    """
    found = _clients.get(address)
    if found is not None and found[1] in (None, credentials):
        return found[0]
    return BucketObjects(*address, credentials=credentials)


class BucketObjects:
    """The objects under one prefix of one bucket, addressed by keys relative to it."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint: str | None = None,
        region: str | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        """`credentials`, when given, instead of boto3's chain (see `objects_at`)."""
        import boto3  # 0.3 s: only commands that use a shared store pay it
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._credentials = credentials
        access_key, secret_key, token = credentials or (None, None, None)
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=token,
            config=Config(
                retries={"mode": "standard", "max_attempts": _ATTEMPTS},
                connect_timeout=10,
                read_timeout=60,
                # Path-style addressing works with MinIO and Ceph RGW as well as AWS. Every
                # object is sealed (AES-GCM) and checked when opened, so hashing each body
                # again to sign it, or to check what came back, only costs time (0.4 s of a
                # 1 GiB push, on plain HTTP where botocore signs every body). Uploads keep
                # their CRC32, which the server checks: a body damaged on the way is refused
                # there, not found by a teammate's restore.
                s3={"addressing_style": "path", "payload_signing_enabled": False},
                response_checksum_validation="when_required",
            ),
        )
        self.where = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint}" if endpoint else "")
        self.address = BucketAddress(bucket, self.prefix, endpoint, region)
        _clients[self.address] = (self, credentials)

    def credentials(self) -> Credentials | None:
        """What this client signs with now, for a helper process to sign with too; None
        when boto3's chain found none (the helper then looks for its own, and fails as
        this process's requests do)."""
        if self._credentials is not None:
            return self._credentials
        import boto3

        session = boto3.DEFAULT_SESSION  # the one `boto3.client` made this client with
        resolved = session.get_credentials() if session is not None else None
        if resolved is None:
            return None
        frozen = resolved.get_frozen_credentials()
        return frozen.access_key, frozen.secret_key, frozen.token

    def put(
        self, key: str, data: bytes, create_only: bool = False, if_match: str | None = None
    ) -> Written:
        """Write `key`; with `create_only`, only if it does not exist (If-None-Match: *);
        with `if_match`, only if its ETag is still that one."""
        extra: dict[str, str] = {}
        if create_only:
            extra["IfNoneMatch"] = "*"
        if if_match is not None:
            extra["IfMatch"] = if_match
        response = self._call("put_object", key, Body=data, **extra)
        return Written(response["ETag"], _server_time(response))

    def get(self, key: str) -> Fetched:
        """Read `key` whole."""
        response, data = self._read("get_object", key)
        return _fetched(key, data, response)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes of `key` from `offset`: one part of a pack."""
        _, data = self._read("get_object", key, Range=f"bytes={offset}-{offset + length - 1}")
        if len(data) != length:
            raise StoreUnreachableError(
                f"{key} in {self.where} is shorter than its index says ({len(data)} of "
                f"{length} bytes from {offset})."
            )
        return data

    def head(self, key: str) -> Fetched | None:
        """`key`'s ETag and dates without its content; None when it does not exist."""
        try:
            return _fetched(key, None, self._call("head_object", key))
        except ObjectMissingError:
            return None

    def keys(self, under: str = "") -> Iterator[str]:
        """Every key that starts with `under`, in the server's (lexical) order."""
        return (key for key, _written in self.listing(under))

    def listing(self, under: str = "") -> Iterator[tuple[str, datetime]]:
        """Every key that starts with `under`, with when the server wrote it."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + under
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :], item["LastModified"]
        except Exception as error:  # botocore's errors, turned into one sentence
            raise self._sentence(error, under) from error

    def delete(self, key: str) -> None:
        """Remove `key` (nothing when it is gone already)."""
        self._call("delete_object", key)

    def server_time(self) -> datetime:
        """The server's clock now, from the `Date` of a cheap request."""
        try:
            response = self._client.list_objects_v2(
                Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1
            )
        except Exception as error:  # botocore's errors, turned into one sentence
            raise self._sentence(error, "") from error
        return _server_time(response)

    def _call(self, operation: str, key: str, **arguments: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, operation)(
                Bucket=self.bucket, Key=self.prefix + key, **arguments
            )
        except Exception as error:  # botocore's errors, turned into one sentence
            raise self._sentence(error, key, if_match="IfMatch" in arguments) from error

    def _read(self, operation: str, key: str, **arguments: Any) -> tuple[dict[str, Any], bytes]:
        """`_call`, and its body read whole. botocore retries a request that fails, not a
        body cut off part way (a connection reset, a proxy timing out): that was a bare
        ResponseStreamingError. It is asked again, as often as a request is."""
        from botocore.exceptions import ResponseStreamingError

        attempts = 1
        while True:
            response = self._call(operation, key, **arguments)
            body = response["Body"]
            try:
                return response, body.read()
            except ResponseStreamingError as error:
                if attempts == _ATTEMPTS:
                    raise self._sentence(error, key) from error
                attempts += 1
            finally:
                body.close()

    def _sentence(self, error: Exception, key: str, if_match: bool = False) -> Exception:
        from botocore.exceptions import ClientError

        if isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                return ObjectMissingError(f"{key} is not in {self.where}.")
            # 409 ConditionalRequestConflict: AWS's answer to a conditional write racing
            # another one on the same key; the other won.
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
                if if_match:
                    return StaleObjectError(f"{key} in {self.where} was changed by someone else.")
                return ObjectExistsError(f"{key} exists in {self.where} already.")
            if code == "NoSuchBucket":
                return StoreUnreachableError(f"The bucket {self.bucket} does not exist.")
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return StoreUnreachableError(
                    f"{self.where} refused access ({code}); check the credentials."
                )
            what = key or "the list of what it holds"
            return StoreUnreachableError(f"{self.where} answered {code or status} for {what}.")
        return StoreUnreachableError(f"Could not reach {self.where}: {error}.")


def _server_time(response: dict[str, Any]) -> datetime:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    date = headers.get("date")
    if not date:  # a server that sends no Date: no lease can be timed by it
        raise StoreUnreachableError("The object store sends no Date header; leases need it.")
    return email.utils.parsedate_to_datetime(date).astimezone(UTC)


def _fetched(key: str, data: bytes | None, response: dict[str, Any]) -> Fetched:
    return Fetched(
        key,
        data,
        response["ETag"],
        response["LastModified"].astimezone(UTC),
        _server_time(response),
    )
