"""Encryption of everything that leaves the workstation, as restic's repositories do it.

A store has one master key: 32 bytes that encrypt and authenticate every object
(AES-256-GCM, a fresh 96-bit nonce each time) and 32 more that make content addresses
(HMAC-SHA256 of the content), so that the same file in two stores has two unrelated names
and whoever reads the bucket cannot tell which well-known files it holds. The master key is
kept in the bucket only wrapped by a key derived from a passphrase (scrypt), so whoever has
the bucket but not the passphrase reads nothing.
"""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from pydantic import BaseModel, Field

from envops_desktop.domain.errors import OperationFailedError, WrongPassphraseError

# The first byte of every sealed object: the layout below, so that a later one can differ.
_SEALED_V1 = b"\x01"
_NONCE_BYTES = 12
# scrypt at 2**15 × 8: 32 MiB and about 0.1 s per unlock here, restic's choice too.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 1 << 15, 8, 1


class DamagedObjectError(OperationFailedError):
    """A sealed object failed its authentication: damaged, or not made with this key."""


@dataclass(frozen=True)
class MasterKey:
    """The two secrets of a store: one encrypts, one names content."""

    encryption: bytes
    addressing: bytes

    @classmethod
    def new(cls) -> "MasterKey":
        return cls(os.urandom(32), os.urandom(32))

    def address(self, content: bytes) -> str:
        """The name of `content` in this store: a keyed hash, not its plain SHA-256."""
        return hmac.new(self.addressing, content, hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        """`plaintext` encrypted and authenticated; `context` (the object's role, say) is
        authenticated too, so an object moved to another role fails to open."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(_NONCE_BYTES)
        return _SEALED_V1 + nonce + AESGCM(self.encryption).encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes | memoryview, context: bytes = b"") -> bytes:
        """The plaintext of `seal`'s output; refuses anything altered or sealed elsewhere."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if sealed[:1] != _SEALED_V1 or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise DamagedObjectError("An object of the store is not in a form EnvOps knows.")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return AESGCM(self.encryption).decrypt(nonce, body, context)
        except InvalidTag:
            raise DamagedObjectError(
                "An object of the store failed its check: it was damaged or altered."
            ) from None


class WrappedKey(BaseModel):
    """The master key as the bucket keeps it: sealed with a key derived from a passphrase."""

    kdf: str = "scrypt"
    n: int = Field(_SCRYPT_N, ge=1 << 14, le=1 << 20)
    r: int = Field(_SCRYPT_R, ge=1, le=32)
    p: int = Field(_SCRYPT_P, ge=1, le=16)
    salt: str  # base64
    sealed: str  # base64 of the sealed 64 bytes of the master key
    created_by: str = ""  # user@host, to tell keys apart when several are listed


def wrap(master: MasterKey, passphrase: str, created_by: str = "") -> WrappedKey:
    """`master` wrapped for the bucket, to be unwrapped only with `passphrase`."""
    salt = os.urandom(16)
    kek = _derive(passphrase, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    sealed = MasterKey(kek, b"").seal(master.encryption + master.addressing, b"master key")
    return WrappedKey(
        salt=base64.b64encode(salt).decode(),
        sealed=base64.b64encode(sealed).decode(),
        created_by=created_by,
    )


def unwrap(wrapped: WrappedKey, passphrase: str) -> MasterKey:
    """The master key inside `wrapped`; WrongPassphraseError when `passphrase` is not its."""
    kek = _derive(passphrase, base64.b64decode(wrapped.salt), wrapped.n, wrapped.r, wrapped.p)
    try:
        plain = MasterKey(kek, b"").open(base64.b64decode(wrapped.sealed), b"master key")
    except DamagedObjectError:
        raise WrongPassphraseError("The passphrase does not unlock this store.") from None
    return MasterKey(plain[:32], plain[32:])


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        # Its bytes as typed or read, UTF-8 or not (surrogateescape: what Python holds of
        # a byte of the environment or a file that is not UTF-8); UTF-8 text is unchanged.
        passphrase.encode("utf-8", "surrogateescape"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 << 20,
        dklen=32,
    )
