"""Where a team's shared store lives: what a data folder keeps of it (nothing secret)."""

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, field_validator

# S3's rules for bucket names: 3 to 63 lowercase letters, digits, dots and hyphens, starting
# and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class SharedStoreSettings(BaseModel):
    """A data folder's shared store: its URL, the endpoint and region to reach it, and the
    id of the store found there once connected. Credentials and the passphrase are never
    kept here: they come from the standard chain and from the user."""

    url: str
    endpoint: str | None = None
    region: str | None = None
    store_id: str | None = None

    @field_validator("url")
    @classmethod
    def _is_s3_url(cls, url: str) -> str:
        if not url.startswith("s3://"):
            raise ValueError("a shared store's address starts with s3:// (s3://BUCKET/PREFIX)")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(
                f"{bucket!r} is not a bucket name: 3 to 63 lowercase letters, digits, dots and "
                "hyphens"
            )
        if any(part in (".", "..") for part in prefix.split("/")):
            raise ValueError("the prefix may not hold . or .. parts")
        return url.rstrip("/")

    @field_validator("endpoint")
    @classmethod
    def _is_web_address(cls, endpoint: str | None) -> str | None:
        if endpoint is None:
            return None
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{endpoint!r} is not an endpoint: give its address with http:// or https://, "
                "such as https://s3.example.com"
            )
        return endpoint

    @property
    def bucket(self) -> str:
        return self.url[len("s3://") :].partition("/")[0]

    @property
    def prefix(self) -> str:
        return self.url[len("s3://") :].partition("/")[2]
