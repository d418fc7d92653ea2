"""Streaming authenticated encryption of materials: the vault stream format, version 1.

A material (a model card, an eval report, a weights file of many GB) is encrypted under its
submission's data key in fixed-size chunks, so memory stays flat whatever the size, and each
chunk is authenticated on its own, so decryption can hand out verified plaintext chunk by chunk.
The construction is the STREAM online AEAD of Hoang, Reyhanitabar, Rogaway and Vizár (2015),
with a per-stream key as in Tink's AES-GCM-HKDF streaming AEAD.

Byte layout (all integers big-endian)::

    header, 49 bytes
      0   4  magic             b"PRVS"
      4   1  format version    0x01
      5   1  algorithm         0x01 = AES-256-GCM, key derived with HKDF-SHA256
      6   4  chunk size C      plaintext bytes per chunk, 1 .. 64 MiB (default 1 MiB)
      10  32 salt              random per stream
      42  7  nonce prefix P    random per stream
    chunk 0 .. n-1, each      AES-256-GCM(K, nonce_i, plaintext_i, aad) = ciphertext_i || tag (16)

    K       = HKDF-SHA256(ikm=data key, salt=salt, info=b"prereview/vault/stream/v1", L=32)
    nonce_i = P (7) || i as u32 (4) || last (1: 0x01 for the final chunk, else 0x00)
    aad     = the 49 header bytes || the caller's associated data

Every chunk but the last holds exactly C plaintext bytes; the last holds 0 .. C-1 bytes (an
empty last chunk follows when the length is a multiple of C, and the empty plaintext is one
empty last chunk). So a reader knows without look-ahead which chunk claims to be last: the one
shorter than ``C + 16``. What that buys:

* reordering or dropping a chunk changes its index in the nonce: the tag fails;
* truncating at a chunk boundary leaves no chunk with the last flag: detected at the end;
* truncating mid-chunk or appending bytes makes a chunk be read with the wrong flag or length;
* altering the header changes the associated data of every chunk (and the salt, the key);
* the random salt gives every stream its own key, so GCM's random-nonce limits never apply
  across the many files that share one data key, and the 32-bit counter allows 2**32 chunks.

Associated data given by the caller (for example the material's id) must be given again to
decrypt; it is not stored.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from prereview.vault.errors import UnsupportedVaultFormat, VaultIntegrityError
from prereview.vault.keys import DATA_KEY_SIZE

MAGIC = b"PRVS"
FORMAT_VERSION = 1
ALGORITHM_AES256GCM_HKDF_SHA256 = 1
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 1 << 26
TAG_SIZE = 16
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
MAX_CHUNKS = 1 << 32
_HEADER = struct.Struct(">4sBBI32s7s")
HEADER_SIZE = _HEADER.size
_HKDF_INFO = b"prereview/vault/stream/v1"
_COUNTER = struct.Struct(">IB")


@runtime_checkable
class Readable(Protocol):
    """Anything with ``read(n)``: an open binary file, ``UploadFile.file``, a socket file."""

    def read(self, size: int, /) -> bytes: ...


class Writable(Protocol):
    """Anything with ``write(data)``: an open binary file, a ``SpooledTemporaryFile``."""

    def write(self, data: bytes, /) -> object: ...


Source = Readable | Iterable[bytes] | bytes
"""What the stream functions read: a binary readable, an iterable of byte strings, or bytes."""


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """The parsed header of a vault stream."""

    chunk_size: int
    salt: bytes
    nonce_prefix: bytes
    version: int = FORMAT_VERSION
    algorithm: int = ALGORITHM_AES256GCM_HKDF_SHA256

    @classmethod
    def new(cls, chunk_size: int = CHUNK_SIZE) -> StreamHeader:
        """A header with a fresh random salt and nonce prefix."""
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk size must be between 1 and {MAX_CHUNK_SIZE} bytes")
        return cls(chunk_size, os.urandom(SALT_SIZE), os.urandom(NONCE_PREFIX_SIZE))

    def pack(self) -> bytes:
        """The header's bytes."""
        return _HEADER.pack(
            MAGIC, self.version, self.algorithm, self.chunk_size, self.salt, self.nonce_prefix
        )

    @classmethod
    def parse(cls, raw: bytes) -> StreamHeader:
        """Parse a header; raises :class:`UnsupportedVaultFormat` or
        :class:`VaultIntegrityError` (an altered header fails later anyway, at chunk 0)."""
        if len(raw) < HEADER_SIZE:
            raise VaultIntegrityError("The encrypted data is shorter than its header.")
        magic, version, algorithm, chunk_size, salt, prefix = _HEADER.unpack(raw[:HEADER_SIZE])
        if magic != MAGIC:
            raise UnsupportedVaultFormat("The data is not a prereview vault stream.")
        if version != FORMAT_VERSION or algorithm != ALGORITHM_AES256GCM_HKDF_SHA256:
            raise UnsupportedVaultFormat(
                f"Vault stream format {version}, algorithm {algorithm} is not supported."
            )
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise VaultIntegrityError("The vault stream header has an invalid chunk size.")
        return cls(chunk_size, salt, prefix, version, algorithm)


class _ChunkCipher:
    """The per-stream key and nonce schedule shared by encryption and decryption."""

    __slots__ = ("_aad", "_aead", "_prefix")

    def __init__(self, dek: bytes, header: StreamHeader, associated_data: bytes) -> None:
        if len(dek) != DATA_KEY_SIZE:
            raise ValueError(f"a data key is {DATA_KEY_SIZE} bytes")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=header.salt, info=_HKDF_INFO)
        self._aead = AESGCM(hkdf.derive(dek))
        self._prefix = header.nonce_prefix
        self._aad = header.pack() + associated_data

    def _nonce(self, index: int, last: bool) -> bytes:
        if index >= MAX_CHUNKS:
            raise ValueError("a vault stream holds at most 2**32 chunks")
        return self._prefix + _COUNTER.pack(index, last)

    def seal(self, index: int, plaintext: bytes, last: bool) -> bytes:
        return self._aead.encrypt(self._nonce(index, last), plaintext, self._aad)

    def open(self, index: int, ciphertext: bytes, last: bool) -> bytes:
        try:
            return self._aead.decrypt(self._nonce(index, last), ciphertext, self._aad)
        except InvalidTag:
            raise VaultIntegrityError(
                f"Chunk {index} of the encrypted data failed authentication: "
                "wrong data key, or the data was altered, reordered, truncated or extended."
            ) from None


class _ExactReader:
    """Reads exactly ``n`` bytes at a time (fewer only at the end) from any :data:`Source`."""

    __slots__ = ("_buffer", "_pieces", "_read")

    def __init__(self, source: Source) -> None:
        self._buffer = bytearray()
        self._read: Readable | None = None
        self._pieces: Iterator[bytes] | None = None
        if isinstance(source, bytes | bytearray | memoryview):
            self._pieces = iter((bytes(source),))
        elif isinstance(source, Readable):
            # Checked before Iterable: a binary file is also an iterable of *lines*.
            self._read = source
        else:
            self._pieces = iter(source)

    def _next_piece(self, want: int) -> bytes | None:
        """The next non-empty piece of the source, or None at its end."""
        if self._read is not None:
            return self._read.read(want) or None
        assert self._pieces is not None
        # An iterator may yield b"" mid-stream; only its exhaustion ends the source.
        for piece in self._pieces:
            if piece:
                return piece
        return None

    def read_exact(self, n: int) -> bytes:
        if not self._buffer:
            # Fast path, the common case: the source hands over whole chunks, no copying.
            piece = self._next_piece(n)
            if piece is None:
                return b""
            if len(piece) == n:
                return bytes(piece)
            self._buffer += piece
        while len(self._buffer) < n:
            piece = self._next_piece(n - len(self._buffer))
            if piece is None:
                break
            self._buffer += piece
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


def encrypt_iter(
    dek: bytes,
    source: Source,
    *,
    associated_data: bytes = b"",
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[bytes]:
    """Encrypt ``source`` under ``dek``, yielding the header and then one encrypted chunk at a
    time (for an upload to object storage, say). Memory use is about two chunks."""
    header = StreamHeader.new(chunk_size)
    cipher = _ChunkCipher(dek, header, associated_data)
    reader = _ExactReader(source)
    yield header.pack()
    index = 0
    while True:
        block = reader.read_exact(chunk_size)
        if len(block) < chunk_size:
            yield cipher.seal(index, block, last=True)
            return
        yield cipher.seal(index, block, last=False)
        index += 1


def encrypt_stream(
    dek: bytes,
    source: Source,
    sink: Writable,
    *,
    associated_data: bytes = b"",
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Encrypt ``source`` under ``dek`` into ``sink``; returns the plaintext length.

    ``associated_data`` (for example the material id) is authenticated, not stored: decryption
    must be given the same bytes.
    """
    written = 0
    for piece in encrypt_iter(dek, source, associated_data=associated_data, chunk_size=chunk_size):
        sink.write(piece)
        written += len(piece)
    return plaintext_size(written, chunk_size)


def decrypt_iter(dek: bytes, source: Source, *, associated_data: bytes = b"") -> Iterator[bytes]:
    """Decrypt a vault stream, yielding plaintext one verified chunk at a time.

    Nothing is yielded before its chunk is authenticated. A stream cut off at a chunk boundary
    yields its verified chunks and then raises :class:`VaultIntegrityError` at the end; an HTTP
    response fed by this iterator must then be aborted (not completed) so the client sees an
    incomplete transfer. Memory use is about two chunks.
    """
    reader = _ExactReader(source)
    header = StreamHeader.parse(reader.read_exact(HEADER_SIZE))
    cipher = _ChunkCipher(dek, header, associated_data)
    segment = header.chunk_size + TAG_SIZE
    index = 0
    while True:
        block = reader.read_exact(segment)
        if len(block) == segment:
            yield cipher.open(index, block, last=False)
            index += 1
            continue
        if len(block) < TAG_SIZE:
            raise VaultIntegrityError(
                f"The encrypted data ends before its final chunk (after {index} chunk(s)): "
                "it was truncated."
            )
        # Shorter than a full segment: this must be the final chunk, and the reader is at the
        # end of the source, so any appended bytes would have been read into this block.
        yield cipher.open(index, block, last=True)
        return


def decrypt_stream(
    dek: bytes, source: Source, sink: Writable, *, associated_data: bytes = b""
) -> int:
    """Decrypt a vault stream into ``sink``; returns the plaintext length.

    On :class:`VaultIntegrityError` the sink has already received the verified chunks before
    the bad one: write to a temporary file and keep it only if this returns.
    """
    written = 0
    for piece in decrypt_iter(dek, source, associated_data=associated_data):
        sink.write(piece)
        written += len(piece)
    return written


def ciphertext_size(plaintext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """The length of the vault stream of ``plaintext_size`` bytes."""
    return HEADER_SIZE + plaintext_size + TAG_SIZE * (plaintext_size // chunk_size + 1)


def plaintext_size(ciphertext_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """The plaintext length of a well-formed vault stream of ``ciphertext_size`` bytes (for a
    ``Content-Length`` before decrypting); raises :class:`VaultIntegrityError` for a length no
    stream can have. The chunk size is in the stream's header."""
    body = ciphertext_size - HEADER_SIZE
    full, last = divmod(body, chunk_size + TAG_SIZE)
    if body < TAG_SIZE or last < TAG_SIZE:
        raise VaultIntegrityError("The encrypted data has a length no vault stream can have.")
    return full * chunk_size + last - TAG_SIZE
