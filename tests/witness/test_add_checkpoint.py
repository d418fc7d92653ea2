"""``POST /add-checkpoint`` on a real witness over loopback: every answer C2SP tlog-witness
names, the state kept across a restart, and concurrent requests serialised per origin."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from pathlib import Path

import httpx
import pytest

from prereview.audit import merkle
from prereview.audit.checkpoint import NoteSigner, sign_checkpoint
from prereview.audit.cosignature import note_cosignatures
from prereview.audit.witnessing import parse_size, request_body
from prereview.witness.app import MAX_BODY_BYTES
from prereview.witness.local import LocalWitness
from support.witnesses import ORIGIN, MemoryLog


def post(witness: LocalWitness, old: int, proof: list[bytes], note: str) -> httpx.Response:
    return httpx.post(f"{witness.url}/add-checkpoint", content=request_body(old, proof, note))


def add(witness: LocalWitness, log: MemoryLog, old: int) -> httpx.Response:
    return post(witness, old, log.proof(old), log.checkpoint())


def problem_type(answer: httpx.Response) -> str:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return str(answer.json()["type"])


def test_cosigns_a_consistent_history(witness: LocalWitness, memory_log: MemoryLog) -> None:
    memory_log.grow(5)
    first = add(witness, memory_log, 0)
    assert first.status_code == 200, first.text
    note = memory_log.checkpoint() + first.text
    (cosignature,) = note_cosignatures(note, [witness.witness.cosigner.verifier])
    assert cosignature.witness == "witness.example/w1" and cosignature.timestamp > 0

    memory_log.grow(12)
    second = add(witness, memory_log, 5)
    assert second.status_code == 200, second.text
    assert note_cosignatures(
        memory_log.checkpoint() + second.text, [witness.witness.cosigner.verifier]
    )
    # The same checkpoint again, from its own size: cosigned again.
    assert add(witness, memory_log, 17).status_code == 200
    # Monitors read the latest cosigned checkpoint by the origin's hash.

    served = httpx.get(f"{witness.url}/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint")
    assert served.status_code == 200 and served.text.startswith(f"{ORIGIN}\n17\n")
    assert httpx.get(f"{witness.url}/{'0' * 64}/checkpoint").status_code == 404


def test_a_wrong_old_size_gets_409_with_the_latest_size(
    witness: LocalWitness, memory_log: MemoryLog
) -> None:
    memory_log.grow(4)
    assert add(witness, memory_log, 0).status_code == 200
    memory_log.grow(3)
    for old in (0, 2, 6):
        answer = add(witness, memory_log, old)
        assert answer.status_code == 409
        assert answer.headers["content-type"].split(";")[0] == "text/x.tlog.size"
        assert answer.content == b"4\n" and parse_size(answer.content) == 4


def test_forks_are_refused(
    witness: LocalWitness, memory_log: MemoryLog, log_signer: NoteSigner
) -> None:
    memory_log.grow(8)
    assert add(witness, memory_log, 0).status_code == 200
    # Another checkpoint of the same size, validly signed by the log: a split view.
    fork = sign_checkpoint(ORIGIN, 8, b"\x07" * 32, log_signer)
    refused = post(witness, 8, [], fork)
    assert refused.status_code == 422
    assert problem_type(refused).endswith("witness-inconsistent")
    # A rebuilt history (entry 3 changed) at a larger size: no proof from 8 can verify.
    rebuilt = MemoryLog(log_signer).grow(3).grow(1, tag="forged").grow(10)
    assert rebuilt.root(8) != memory_log.root(8)
    assert post(witness, 8, rebuilt.proof(8), rebuilt.checkpoint()).status_code == 422
    # The honest proof with the forged root does not verify either.
    memory_log.grow(6)
    forged_root = sign_checkpoint(ORIGIN, 14, rebuilt.root(14), log_signer)
    assert post(witness, 8, memory_log.proof(8), forged_root).status_code == 422
    # The refusals are kept as evidence; the honest log goes on.
    assert len(witness.witness.state.refusals(ORIGIN)) == 3
    assert add(witness, memory_log, 8).status_code == 200


def test_bad_proofs(witness: LocalWitness, memory_log: MemoryLog) -> None:
    memory_log.grow(5)
    assert add(witness, memory_log, 0).status_code == 200
    memory_log.grow(6)
    proof = memory_log.proof(5)
    for bad in ([], proof[:-1], [*proof, proof[0]], [bytes(32), *proof[1:]]):
        answer = post(witness, 5, bad, memory_log.checkpoint())
        assert answer.status_code == 422, (bad, answer.text)
    # From size 0 the proof must be empty.
    empty_log = MemoryLog(memory_log.signer, "log.example/other")
    assert post(witness, 0, [bytes(32)], memory_log.checkpoint()).status_code == 409
    del empty_log


def test_an_empty_tree_needs_the_empty_root(tmp_path: Path, log_signer: NoteSigner) -> None:
    with LocalWitness("witness.example/w1", tmp_path / "w", {ORIGIN: [log_signer.verifier]}) as w:
        wrong = sign_checkpoint(ORIGIN, 0, b"\x01" * 32, log_signer)
        assert post(w, 0, [], wrong).status_code == 422
        right = sign_checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT, log_signer)
        assert post(w, 0, [], right).status_code == 200
        grown = MemoryLog(log_signer).grow(3)
        assert post(w, 0, [bytes(32)], grown.checkpoint()).status_code == 422


def test_signatures_and_origins(witness: LocalWitness, memory_log: MemoryLog) -> None:
    memory_log.grow(3)
    note = memory_log.checkpoint()
    # Unknown origin: 404.
    stranger = NoteSigner.generate("other.example/log")
    other = sign_checkpoint("other.example/log", 3, memory_log.root(), stranger)
    answer = post(witness, 0, [], other)
    assert answer.status_code == 404 and problem_type(answer).endswith("witness-unknown-log")
    # Signed only by another key under the log's name: 403.
    impostor = sign_checkpoint(ORIGIN, 3, memory_log.root(), NoteSigner.generate(ORIGIN))
    assert post(witness, 0, [], impostor).status_code == 403
    # The trusted key's signature, corrupted: 403, even next to another valid signature.
    text, signature = note.split("\n\n")
    name, sig64 = signature[len("\u2014 ") :].rstrip("\n").split(" ")
    blob = bytearray(base64.b64decode(sig64))
    blob[-1] ^= 1
    corrupt = f"{text}\n\n\u2014 {name} {base64.b64encode(bytes(blob)).decode()}\n"
    answer = post(witness, 0, [], corrupt)
    assert answer.status_code == 403, answer.text
    # The body changed after signing: 403.
    changed = note.replace("\n3\n", "\n2\n", 1)
    assert post(witness, 0, [], changed).status_code == 403
    # Signatures by unknown keys are ignored.
    extra = NoteSigner.generate("someone.example")
    cosigned = note + sign_checkpoint(ORIGIN, 3, memory_log.root(), extra).split("\n\n")[1]
    assert post(witness, 0, [], cosigned).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 0\n",
        b"old 00\n\nx\n",
        b"old -1\n\n",
        b"new 0\n\n",
        b"old 0\nnot base64!\n\n",
        b"old 0\nAAAA\n\n",
        b"old 0\n" + b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64 + b"\n",
        b"\xff\xfe\n\n",
    ],
)
def test_malformed_requests_get_400(
    witness: LocalWitness, memory_log: MemoryLog, body: bytes
) -> None:
    memory_log.grow(2)
    note = memory_log.checkpoint().encode()
    answer = httpx.post(
        f"{witness.url}/add-checkpoint", content=body + (note if body.endswith(b"\n\n") else b"")
    )
    assert answer.status_code in (400, 404), answer.text
    assert problem_type(answer).startswith("urn:prereview:problem:witness-")


def test_an_old_size_beyond_the_checkpoint_is_400(
    witness: LocalWitness, memory_log: MemoryLog
) -> None:
    memory_log.grow(2)
    assert post(witness, 3, [], memory_log.checkpoint()).status_code == 400


def test_oversized_bodies_are_refused_while_reading(witness: LocalWitness) -> None:
    huge = b"old 0\n" + b"A" * (MAX_BODY_BYTES + 1)
    answer = httpx.post(f"{witness.url}/add-checkpoint", content=huge)
    assert answer.status_code == 413
    # Without a Content-Length (chunked), the count stops it as it passes the limit: the
    # witness answers 413 while the body is still unfinished.
    with socket.create_connection(("127.0.0.1", witness.port), timeout=10) as connection:
        connection.sendall(
            b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"A" * 8192
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        # No final chunk: the body never ends, yet the answer comes.
        assert connection.recv(100).startswith(b"HTTP/1.1 413 ")


def test_a_restarted_witness_keeps_its_state(tmp_path: Path, log_signer: NoteSigner) -> None:
    folder = tmp_path / "w"
    log = MemoryLog(log_signer).grow(9)
    with LocalWitness("witness.example/w1", folder, {ORIGIN: [log_signer.verifier]}) as first:
        key = first.verifier_key
        assert add(first, log, 0).status_code == 200
    with LocalWitness("witness.example/w1", folder, {ORIGIN: [log_signer.verifier]}) as again:
        assert again.verifier_key == key  # the same key, read from its file
        answer = add(again, log, 0)
        assert answer.status_code == 409 and answer.content == b"9\n"
        fork = sign_checkpoint(ORIGIN, 9, b"\x09" * 32, log_signer)
        assert post(again, 9, [], fork).status_code == 422
        log.grow(2)
        assert add(again, log, 9).status_code == 200


def test_concurrent_requests_from_one_old_size_cannot_both_win(
    witness: LocalWitness, memory_log: MemoryLog
) -> None:
    memory_log.grow(4)
    assert add(witness, memory_log, 0).status_code == 200
    bodies = []
    for grow in (1, 2, 3, 4, 5, 6):
        memory_log.grow(grow)
        bodies.append(request_body(4, memory_log.proof(4), memory_log.checkpoint()))
    start = threading.Barrier(len(bodies))
    codes: list[int] = []

    def send(body: bytes) -> None:
        start.wait()
        codes.append(httpx.post(f"{witness.url}/add-checkpoint", content=body).status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] + [409] * (len(bodies) - 1), codes
