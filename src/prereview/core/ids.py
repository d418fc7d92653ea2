"""Identifiers: a short type prefix and 128 random bits, so an id says what it names."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(prefix: str) -> str:
    """A new random identifier such as ``sub_5k2j...``: 26 base32 characters after the prefix."""
    value = secrets.randbits(130)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(chars)}"
