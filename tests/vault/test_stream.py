"""The vault stream format: round trips, and every way of altering a stream is detected."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prereview.vault import stream
from prereview.vault.errors import UnsupportedVaultFormat, VaultIntegrityError
from prereview.vault.keys import DataKey
from prereview.vault.stream import (
    CHUNK_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    StreamHeader,
    ciphertext_size,
    decrypt_iter,
    decrypt_stream,
    encrypt_iter,
    encrypt_stream,
    plaintext_size,
)

C = 64  # a small chunk size, so that many-chunk streams stay tiny
SEG = C + TAG_SIZE


@pytest.fixture
def dek() -> DataKey:
    return DataKey.generate()


def encrypt(dek: bytes, data: bytes, chunk_size: int = C, ad: bytes = b"") -> bytes:
    return b"".join(encrypt_iter(dek, data, chunk_size=chunk_size, associated_data=ad))


def decrypt(dek: bytes, blob: bytes, ad: bytes = b"") -> bytes:
    return b"".join(decrypt_iter(dek, blob, associated_data=ad))


def chunks_of(blob: bytes) -> tuple[bytes, list[bytes]]:
    """Split a stream of chunk size C into its header and its encrypted chunks."""
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + SEG] for i in range(0, len(body), SEG)]


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, C - 1, C, C + 1, 2 * C, 5 * C + 7])
def test_round_trip_small_chunks(dek: DataKey, size: int) -> None:
    data = os.urandom(size)
    blob = encrypt(dek, data)
    assert len(blob) == ciphertext_size(size, C)
    assert plaintext_size(len(blob), C) == size
    assert decrypt(dek, blob) == data


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE])
def test_round_trip_default_chunk_size_through_files(dek: DataKey, size: int) -> None:
    data = os.urandom(size)
    encrypted = io.BytesIO()
    assert encrypt_stream(dek, io.BytesIO(data), encrypted) == size
    assert StreamHeader.parse(encrypted.getvalue()).chunk_size == CHUNK_SIZE
    assert len(encrypted.getvalue()) == ciphertext_size(size)
    encrypted.seek(0)
    decrypted = io.BytesIO()
    assert decrypt_stream(dek, encrypted, decrypted) == size
    assert decrypted.getvalue() == data


def test_last_chunk_is_always_short(dek: DataKey) -> None:
    # A length that is a multiple of C ends with an empty final chunk (tag only).
    _, chunks = chunks_of(encrypt(dek, b"x" * (3 * C)))
    assert [len(c) for c in chunks] == [SEG, SEG, SEG, TAG_SIZE]


def irregular(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``data`` in pieces at the given cut points, with empty pieces thrown in."""
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        yield data[start:cut]
        yield b""
        start = cut
    yield data[start:]


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=1500),
    chunk_size=st.integers(min_value=1, max_value=97),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
    ad=st.binary(max_size=20),
)
def test_round_trip_any_size_any_pieces(
    data: bytes, chunk_size: int, cuts: list[int], ad: bytes
) -> None:
    dek = DataKey.generate()
    blob = b"".join(
        encrypt_iter(dek, irregular(data, cuts), chunk_size=chunk_size, associated_data=ad)
    )
    assert len(blob) == ciphertext_size(len(data), chunk_size)
    assert plaintext_size(len(blob), chunk_size) == len(data)
    assert b"".join(decrypt_iter(dek, irregular(blob, cuts), associated_data=ad)) == data


def test_pieces_larger_than_a_chunk(dek: DataKey) -> None:
    data = os.urandom(10 * C + 3)
    blob = b"".join(encrypt_iter(dek, [data[:500], data[500:]], chunk_size=C))
    assert b"".join(decrypt_iter(dek, [blob])) == data


def test_same_plaintext_encrypts_differently(dek: DataKey) -> None:
    data = b"same" * 100
    assert encrypt(dek, data) != encrypt(dek, data)


# -- alterations ----------------------------------------------------------------------------


@pytest.fixture
def plaintext() -> bytes:
    return os.urandom(4 * C + 10)  # chunks 0-3 full, chunk 4 final with 10 bytes


@pytest.fixture
def blob(dek: DataKey, plaintext: bytes) -> bytes:
    return encrypt(dek, plaintext)


def flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1 :]


@pytest.mark.parametrize("at", range(HEADER_SIZE))
def test_any_altered_header_byte_is_detected(dek: DataKey, blob: bytes, at: int) -> None:
    with pytest.raises(VaultIntegrityError):
        decrypt(dek, flip(blob, at))


@pytest.mark.parametrize("chunk", [0, 2, 4])
@pytest.mark.parametrize("where", ["first", "middle", "tag"])
def test_altered_chunk_or_tag_is_detected(
    dek: DataKey, blob: bytes, chunk: int, where: str
) -> None:
    start = HEADER_SIZE + chunk * SEG
    length = SEG if chunk < 4 else 10 + TAG_SIZE
    at = {"first": start, "middle": start + (length - TAG_SIZE) // 2, "tag": start + length - 3}
    with pytest.raises(VaultIntegrityError, match=f"Chunk {chunk} "):
        decrypt(dek, flip(blob, at[where]))


def test_swapped_chunks_are_detected(dek: DataKey, blob: bytes) -> None:
    header, chunks = chunks_of(blob)
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(VaultIntegrityError, match="Chunk 1 "):
        decrypt(dek, header + b"".join(chunks))


@pytest.mark.parametrize("drop", [0, 1, 3, 4])
def test_dropped_chunk_is_detected(dek: DataKey, blob: bytes, drop: int) -> None:
    header, chunks = chunks_of(blob)
    del chunks[drop]
    with pytest.raises(VaultIntegrityError):
        decrypt(dek, header + b"".join(chunks))


def test_chunk_from_another_stream_under_the_same_key_is_detected(
    dek: DataKey, blob: bytes, plaintext: bytes
) -> None:
    header, chunks = chunks_of(blob)
    _, other = chunks_of(encrypt(dek, plaintext))
    chunks[1] = other[1]
    with pytest.raises(VaultIntegrityError, match="Chunk 1 "):
        decrypt(dek, header + b"".join(chunks))


def test_every_truncation_is_detected(dek: DataKey, blob: bytes) -> None:
    for length in range(len(blob)):
        with pytest.raises(VaultIntegrityError):
            decrypt(dek, blob[:length])


@pytest.mark.parametrize("boundary", [0, 1, 4])
def test_truncation_at_a_chunk_boundary_says_so(dek: DataKey, blob: bytes, boundary: int) -> None:
    with pytest.raises(VaultIntegrityError, match="ends before its final chunk"):
        decrypt(dek, blob[: HEADER_SIZE + boundary * SEG])


# Sizes, not the bytes themselves, as parameters: random bytes would be test ids that differ
# between the parallel workers' collections (pytest-xdist refuses to run them).
@pytest.mark.parametrize("size", [1, TAG_SIZE, SEG, 3 * SEG + 1])
def test_appended_bytes_are_detected(dek: DataKey, blob: bytes, size: int) -> None:
    garbage = b"\x00" if size == 1 else os.urandom(size)
    with pytest.raises(VaultIntegrityError):
        decrypt(dek, blob + garbage)


def test_repeated_final_chunk_is_detected(dek: DataKey) -> None:
    blob = encrypt(dek, b"y" * (2 * C))  # final chunk is the empty one
    _, chunks = chunks_of(blob)
    with pytest.raises(VaultIntegrityError):
        decrypt(dek, blob + chunks[-1])


def test_a_chunk_sealed_as_not_last_cannot_end_the_stream(dek: DataKey) -> None:
    # Forge the stream a writer that forgot the last flag would produce: one short chunk sealed
    # as "not last". The length rule alone would accept it as the final chunk; the flag may not.
    header = StreamHeader.new(C)
    cipher = stream._ChunkCipher(dek, header, b"")
    assert decrypt(dek, header.pack() + cipher.seal(0, b"short", last=True)) == b"short"
    with pytest.raises(VaultIntegrityError, match="Chunk 0 "):
        decrypt(dek, header.pack() + cipher.seal(0, b"short", last=False))


def test_header_fields_are_bound_even_where_the_key_ignores_them(dek: DataKey) -> None:
    # Same salt and prefix (so the same key and nonces), another chunk size: only the header
    # in the associated data tells the two streams apart.
    header = StreamHeader.new(C)
    other = StreamHeader(2 * C, header.salt, header.nonce_prefix)
    sealed = stream._ChunkCipher(dek, header, b"").seal(0, b"short", last=True)
    assert decrypt(dek, header.pack() + sealed) == b"short"
    with pytest.raises(VaultIntegrityError, match="Chunk 0 "):
        decrypt(dek, other.pack() + sealed)


def test_wrong_data_key_is_detected(blob: bytes) -> None:
    with pytest.raises(VaultIntegrityError, match="Chunk 0 "):
        decrypt(DataKey.generate(), blob)


def test_wrong_associated_data_is_detected(dek: DataKey, plaintext: bytes) -> None:
    blob = encrypt(dek, plaintext, ad=b"material:1")
    assert decrypt(dek, blob, ad=b"material:1") == plaintext
    with pytest.raises(VaultIntegrityError):
        decrypt(dek, blob, ad=b"material:2")


def test_empty_stream_cannot_be_faked(dek: DataKey, blob: bytes) -> None:
    with pytest.raises(VaultIntegrityError):
        decrypt(dek, blob[:HEADER_SIZE] + b"\x00" * TAG_SIZE)


def test_future_version_is_unsupported(dek: DataKey, blob: bytes) -> None:
    with pytest.raises(UnsupportedVaultFormat, match="format 2"):
        decrypt(dek, blob[:4] + b"\x02" + blob[5:])
    with pytest.raises(UnsupportedVaultFormat, match="not a prereview vault stream"):
        decrypt(dek, b"PK\x03\x04" + blob[4:])


def test_absurd_chunk_size_in_header_is_refused_before_reading(dek: DataKey, blob: bytes) -> None:
    forged = blob[:6] + (2**32 - 1).to_bytes(4, "big") + blob[10:]
    with pytest.raises(VaultIntegrityError, match="chunk size"):
        decrypt(dek, forged)


# -- streaming behaviour --------------------------------------------------------------------


def test_decrypt_iter_yields_only_verified_chunks(
    dek: DataKey, blob: bytes, plaintext: bytes
) -> None:
    header, chunks = chunks_of(blob)
    chunks[2] = flip(chunks[2], 5)
    received: list[bytes] = []
    with pytest.raises(VaultIntegrityError, match="Chunk 2 "):
        received.extend(decrypt_iter(dek, header + b"".join(chunks)))
    assert received == [plaintext[:C], plaintext[C : 2 * C]]


def test_missing_final_chunk_raises_after_the_verified_ones(
    dek: DataKey, blob: bytes, plaintext: bytes
) -> None:
    received: list[bytes] = []
    with pytest.raises(VaultIntegrityError, match="truncated"):
        received.extend(decrypt_iter(dek, blob[: HEADER_SIZE + 3 * SEG]))
    assert b"".join(received) == plaintext[: 3 * C]


def test_encrypt_iter_is_lazy(dek: DataKey) -> None:
    pulled: list[int] = []

    def source() -> Iterator[bytes]:
        for i in range(100):
            pulled.append(i)
            yield b"z" * C

    pieces = encrypt_iter(dek, source(), chunk_size=C)
    next(pieces)  # the header
    next(pieces)  # chunk 0
    assert len(pulled) <= 2


def test_counter_limit_is_enforced(dek: DataKey, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "MAX_CHUNKS", 3)
    with pytest.raises(ValueError, match="at most"):
        encrypt(dek, b"w" * (3 * C))


@pytest.mark.parametrize("chunk_size", [0, -1, stream.MAX_CHUNK_SIZE + 1])
def test_invalid_chunk_size_is_refused(dek: DataKey, chunk_size: int) -> None:
    with pytest.raises(ValueError, match="chunk size"):
        encrypt(dek, b"", chunk_size=chunk_size)


@pytest.mark.parametrize("length", [0, HEADER_SIZE, HEADER_SIZE + 15, HEADER_SIZE + SEG + 3])
def test_plaintext_size_refuses_impossible_lengths(length: int) -> None:
    with pytest.raises(VaultIntegrityError):
        plaintext_size(length, C)


def test_memory_stays_flat_for_64_mib(dek: DataKey) -> None:
    total = 64 << 20
    block = os.urandom(1 << 20)

    def source() -> Iterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    digest = hashlib.sha256()
    expected = hashlib.sha256()
    for _ in range(total // len(block)):
        expected.update(block)
    tracemalloc.start()
    try:
        for piece in decrypt_iter(dek, encrypt_iter(dek, source())):
            digest.update(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.digest() == expected.digest()
    # Encrypting and decrypting at once holds a few chunks of 1 MiB; 64 MiB went through.
    assert peak < 8 << 20, f"peak {peak} bytes"
