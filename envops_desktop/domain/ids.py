"""Short, sortable identifiers: milliseconds since the epoch plus randomness, in base 32."""

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's: no i, l, o, u to misread


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id() -> str:
    """Return a 12-character id that sorts by creation time."""
    return _encode(time.time_ns() // 1_000_000, 9) + _encode(int.from_bytes(os.urandom(2)) >> 1, 3)
