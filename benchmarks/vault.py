"""Throughput and memory of the vault's streaming encryption against plain AES-GCM.

Usage: ``.venv/bin/python benchmarks/vault.py [--bytes N] [--chunk-size C] [--rounds R]``
(default 2 GiB, 1 MiB chunks, 3 rounds).

Writes a file of N pseudo-random bytes (1 MiB of ``os.urandom`` repeated) in a temporary
folder, then times three passes over it, each reading C bytes at a time:

* baseline: one-shot ``AESGCM.encrypt`` per chunk with a counter nonce: AES-GCM without the
  vault's format (header, per-stream key, STREAM nonces, length rules);
* encrypt: :func:`prereview.vault.stream.encrypt_stream`;
* decrypt: :func:`prereview.vault.stream.decrypt_stream` of the encrypted file.

The top-level figures read from the file and discard the output, so they compare the crypto
and the format, not the disk. ``file_to_file`` has the same three writing their output to
files (the decrypted file is checked equal to the original, untimed): on a small shared
machine the disk bounds those. Every figure is the best of ``--rounds`` rounds, vault and
baseline alike; dirty pages are flushed (untimed) between passes so that no pass pays for
another's writeback, and each input is read once before it is timed, so that all find it
equally cached. Prints one JSON line; peak RSS is the process's ``ru_maxrss``.
Temporary files are removed, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from prereview.vault.keys import DataKey
from prereview.vault.stream import CHUNK_SIZE, decrypt_stream, encrypt_stream

PATTERN_SIZE = 1 << 20


def write_source(path: Path, size: int) -> bytes:
    """Write ``size`` bytes of a repeated random pattern to ``path``; returns the pattern."""
    pattern = os.urandom(PATTERN_SIZE)
    with path.open("wb") as out:
        for _ in range(size // PATTERN_SIZE):
            out.write(pattern)
        out.write(pattern[: size % PATTERN_SIZE])
    return pattern


class NullSink:
    """Discards what it is given: isolates the crypto from the disk."""

    def write(self, data: bytes) -> int:
        return len(data)

    def close(self) -> None:
        pass


def baseline(source: Path, target: Path | None, chunk_size: int) -> float:
    """Seconds for plain one-shot AES-GCM per chunk, from ``source`` to ``target`` (a file, or
    nothing when None)."""
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    prefix = os.urandom(4)
    sink: BinaryIO | NullSink = target.open("wb") if target else NullSink()
    started = time.perf_counter()
    with source.open("rb") as src:
        index = 0
        while block := src.read(chunk_size):
            sink.write(aead.encrypt(prefix + index.to_bytes(8, "big"), block, None))
            index += 1
    elapsed = time.perf_counter() - started
    if target:
        sink.close()
        settle()
        target.unlink()
    return elapsed


def vault_encrypt(dek: bytes, source: Path, target: Path | None, chunk_size: int) -> float:
    sink: BinaryIO | NullSink = target.open("wb") if target else NullSink()
    started = time.perf_counter()
    with source.open("rb") as src:
        encrypt_stream(dek, src, sink, chunk_size=chunk_size)
    elapsed = time.perf_counter() - started
    if target:
        sink.close()
        settle()
    return elapsed


def vault_decrypt(dek: bytes, source: Path, target: Path | None, size: int) -> float:
    sink: BinaryIO | NullSink = target.open("wb") if target else NullSink()
    started = time.perf_counter()
    with source.open("rb") as src:
        decrypted = decrypt_stream(dek, src, sink)
    elapsed = time.perf_counter() - started
    if target:
        sink.close()
        settle()
    if decrypted != size:
        raise SystemExit("vault benchmark: decrypted length differs from the original")
    return elapsed


def settle() -> None:
    """Flush dirty pages between passes, untimed, so no pass pays for the previous one's
    writeback."""
    os.sync()


def warm(path: Path) -> None:
    """Read ``path`` once, untimed, so every pass finds its input equally cached."""
    with path.open("rb", buffering=0) as f:
        while f.read(PATTERN_SIZE):
            pass


def is_source(path: Path, pattern: bytes) -> bool:
    """Whether ``path`` holds what :func:`write_source` wrote with ``pattern``."""
    with path.open("rb") as f:
        while block := f.read(PATTERN_SIZE):
            if block != pattern[: len(block)]:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=2 * 1024**3, help="plaintext size")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="bytes per chunk")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one counts")
    args = parser.parse_args()
    size: int = args.bytes
    chunk_size: int = args.chunk_size
    rounds: int = args.rounds

    # Each figure is the best of several rounds, vault and baseline alike: on a shared machine
    # the slow runs measure the neighbours, not the code.
    timings: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        timings.setdefault(name, []).append(seconds)

    with tempfile.TemporaryDirectory(prefix="prereview-bench-vault-") as folder:
        plain, sealed, opened, scratch = (
            Path(folder, name) for name in ("plain", "sealed", "opened", "baseline")
        )
        pattern = write_source(plain, size)
        settle()
        dek = DataKey.generate()
        for _ in range(rounds):
            warm(plain)
            record("file_baseline", baseline(plain, scratch, chunk_size))
            warm(plain)
            record("file_encrypt", vault_encrypt(dek, plain, sealed, chunk_size))
            warm(sealed)
            record("file_decrypt", vault_decrypt(dek, sealed, opened, size))
            if not is_source(opened, pattern):
                raise SystemExit("vault benchmark: decrypted data differs from the original")
            opened.unlink()
            settle()
            warm(plain)
            record("baseline", baseline(plain, None, chunk_size))
            warm(plain)
            record("encrypt", vault_encrypt(dek, plain, None, chunk_size))
            warm(sealed)
            record("decrypt", vault_decrypt(dek, sealed, None, size))
            sealed.unlink()
            settle()
    best = {name: min(runs) for name, runs in timings.items()}

    def mbps(seconds: float) -> float:
        return size / seconds / 1e6

    def figures(prefix: str) -> dict[str, float]:
        base, enc, dec = (best[prefix + name] for name in ("baseline", "encrypt", "decrypt"))
        return {
            "encrypt_MBps": round(mbps(enc), 1),
            "decrypt_MBps": round(mbps(dec), 1),
            "baseline_MBps": round(mbps(base), 1),
            "encrypt_ratio": round(base / enc, 3),
            "decrypt_ratio": round(base / dec, 3),
        }

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    line = {
        "bench": "vault",
        "bytes": size,
        **figures(""),
        "peak_rss_MB": round(peak_rss_mb, 1),
        "chunk_bytes": chunk_size,
        "rounds": rounds,
        "file_to_file": figures("file_"),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
