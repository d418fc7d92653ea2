"""The platform and two witnesses on loopback: each new checkpoint is cosigned, served with its
cosignatures, and required by the client; a forked log is refused by the witnesses and caught
by the client; a witness that is down is caught up later."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from prereview.audit import commands, merkle, service, signing
from prereview.audit.checkpoint import sign_checkpoint
from prereview.audit.cosignature import CosignatureVerifier, note_cosignatures
from prereview.audit.errors import CosignatureInvalid, WitnessQuorumUnmet
from prereview.audit.trust import LogTrust
from prereview.core.client import ApiClient
from prereview.core.settings import WitnessEndpoint
from prereview.witness.local import LocalWitness
from support.factories import Platform

cli = typer.Typer()
commands.register(cli)


class Witnesses:
    """Two witnesses of the platform's log, and the platform configured to use them."""

    def __init__(self, platform: Platform, folder: Path) -> None:
        self.platform = platform
        self.folder = folder
        settings = platform.context.settings
        self.logs = {settings.audit_origin: [signing.load_signer(settings).verifier]}
        self.running = {
            name: LocalWitness(f"witness.example/{name}", folder / name, self.logs).start()
            for name in ("w1", "w2")
        }
        self.keys = {name: w.verifier_key for name, w in self.running.items()}
        self.configure()

    def configure(self) -> None:
        self.platform.context.settings.audit_witnesses = [
            WitnessEndpoint(url=w.url, key=w.verifier_key) for w in self.running.values()
        ]

    def restart(self, name: str) -> None:
        self.running[name].stop()
        self.running[name] = LocalWitness(
            f"witness.example/{name}", self.folder / name, self.logs
        ).start()
        self.configure()

    def verifiers(self) -> list[CosignatureVerifier]:
        return [CosignatureVerifier.from_string(k) for k in self.keys.values()]

    def stop(self) -> None:
        for witness in self.running.values():
            witness.stop()


@pytest.fixture
def witnesses(platform: Platform, tmp_path: Path) -> Iterator[Witnesses]:
    pair = Witnesses(platform, tmp_path / "witnesses")
    yield pair
    pair.stop()


def checkpoint(platform: Platform) -> dict[str, str]:
    served: dict[str, str] = platform.call("agency", "GET", "/audit/checkpoint", 200).json()
    return served


def as_member(platform: Platform, who: str) -> Callable[..., ApiClient]:
    from fastapi.testclient import TestClient

    def make(server: str, token: str | None = None, timeout: float = 30.0) -> ApiClient:
        client = ApiClient(server, token="unused")
        client.http = TestClient(platform.client.app, headers=platform[who].headers)  # type: ignore[assignment]
        return client

    return make


def run(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, trust: Path, *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(commands, "ApiClient", as_member(platform, "agency"))
    result = CliRunner().invoke(
        cli, ["audit", *args], env={"PREREVIEW_AUDIT_TRUST_DIR": str(trust)}
    )
    return result.exit_code, " ".join(result.output.split())


def rebuild_with_entry_changed(platform: Platform, seq: int) -> None:
    """The operator's forgery: entry ``seq`` rewritten, every hash and the head rebuilt, the
    checkpoint rows and cosignatures deleted, so that the server signs the forged log."""
    with platform.context.engine.begin() as c:
        leaf = c.execute(
            text("SELECT leaf FROM audit_entries WHERE seq = :s"), {"s": seq}
        ).scalar_one()
        forged = service.canonical_leaf(json.loads(leaf) | {"object_id": "nothing_here"})
        c.execute(
            text("UPDATE audit_entries SET leaf = :l, leaf_hash = :h WHERE seq = :s"),
            {"l": forged, "h": service.leaf_hash(forged), "s": seq},
        )
        leaves = [
            bytes(r[0]) for r in c.execute(text("SELECT leaf_hash FROM audit_entries ORDER BY seq"))
        ]
        tree = merkle.TreeAppender()
        nodes = tree.extend(leaves)
        c.execute(text("DELETE FROM audit_nodes"))
        c.execute(
            text('INSERT INTO audit_nodes (level, "index", hash) VALUES (:l, :i, :h)'),
            [{"l": lv, "i": ix, "h": h} for lv, ix, h in nodes],
        )
        c.execute(
            text("UPDATE audit_head SET size = :s, right_edge = :e"),
            {"s": tree.size, "e": tree.packed_right_edge},
        )
        c.execute(text("DELETE FROM audit_checkpoints"))
        c.execute(text("DELETE FROM audit_cosignatures"))


def test_each_new_checkpoint_is_cosigned_by_both_witnesses(
    platform: Platform, witnesses: Witnesses, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sub = platform.submit()
    first = checkpoint(platform)
    found = note_cosignatures(first["note"], witnesses.verifiers())
    assert sorted(c.witness for c in found) == ["witness.example/w1", "witness.example/w2"]

    platform.grant(sub["id"])  # the log grows: the next checkpoint needs a consistency proof
    second = checkpoint(platform)
    assert int(second["size"]) > int(first["size"])
    assert len(note_cosignatures(second["note"], witnesses.verifiers())) == 2

    keys = [arg for key in witnesses.keys.values() for arg in ("--witness-key", key)]
    code, out = run(
        platform, monkeypatch, tmp_path / "trust", "checkpoint", *keys, "--min-witnesses", "2"
    )
    assert code == 0, out
    code, out = run(
        platform,
        monkeypatch,
        tmp_path / "trust",
        "proof",
        "inclusion",
        "1",
        *keys,
        "--min-witnesses",
        "2",
    )
    assert code == 0 and "inclusion proof verified" in out, out
    # Settings work as well as options: the witnesses' keys come from audit_witnesses.
    monkeypatch.setenv("PREREVIEW_AUDIT_MIN_WITNESSES", "2")
    monkeypatch.setenv(
        "PREREVIEW_AUDIT_WITNESSES",
        json.dumps([{"url": w.url, "key": w.verifier_key} for w in witnesses.running.values()]),
    )
    code, out = run(platform, monkeypatch, tmp_path / "trust", "checkpoint")
    assert code == 0, out
    # Three required of two configured: refused, naming the configuration.
    code, out = run(platform, monkeypatch, tmp_path / "trust", "checkpoint", "--min-witnesses", "3")
    assert code == 1 and "only 2 witness keys are configured" in out, out


def test_the_public_tiles_checkpoint_is_sent_to_the_witnesses_too(
    platform: Platform, witnesses: Witnesses
) -> None:
    """The tlog-tiles checkpoint, read before anyone asked the API for one, already carries
    both witnesses' cosignatures: every place that signs a checkpoint hands it to them."""
    platform.submit()
    answer = platform.client.get("/audit/log/checkpoint")  # no token: public
    assert answer.status_code == 200, answer.text
    found = note_cosignatures(answer.text, witnesses.verifiers())
    assert sorted(c.witness for c in found) == ["witness.example/w1", "witness.example/w2"]
    size = int(answer.text.splitlines()[1])
    api = checkpoint(platform)  # the API serves the same checkpoint, same cosignatures
    assert int(api["size"]) >= size


def test_a_rebuilt_history_is_refused_by_the_witnesses_and_caught_by_the_client(
    platform: Platform, witnesses: Witnesses, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sub = platform.submit()
    honest = checkpoint(platform)
    assert len(note_cosignatures(honest["note"], witnesses.verifiers())) == 2

    rebuild_with_entry_changed(platform, 1)
    platform.grant(sub["id"])
    forged = checkpoint(platform)
    assert int(forged["size"]) > int(honest["size"])
    # Neither witness cosigned: the rebuilt tree does not extend what they cosigned.
    assert note_cosignatures(forged["note"], witnesses.verifiers()) == []
    for witness in witnesses.running.values():
        refusals = witness.witness.state.refusals(platform.context.settings.audit_origin)
        assert refusals and "not consistent" in refusals[-1][1]
    # A client that never saw this log before (so no saved checkpoint to catch it) is
    # stopped by the witnesses' absence, and told which.
    keys = [arg for key in witnesses.keys.values() for arg in ("--witness-key", key)]
    code, out = run(
        platform, monkeypatch, tmp_path / "fresh", "checkpoint", *keys, "--min-witnesses", "1"
    )
    assert code == 1, out
    assert "0 valid witness cosignatures, 1 are required" in out, out
    assert "witness.example/w1" in out and "witness.example/w2" in out, out


def test_two_checkpoints_of_one_size(platform: Platform, witnesses: Witnesses) -> None:
    platform.submit()
    honest = checkpoint(platform)
    settings = platform.context.settings
    signer = signing.load_signer(settings)
    size = int(honest["size"])
    fork = sign_checkpoint(settings.audit_origin, size, b"\x05" * 32, signer)
    import httpx

    from prereview.audit.witnessing import request_body

    for witness in witnesses.running.values():
        answer = httpx.post(f"{witness.url}/add-checkpoint", content=request_body(size, [], fork))
        assert answer.status_code == 422, answer.text
    # The honest cosignatures copied onto the fork do not verify over it: the client says whose.
    lines = honest["note"][honest["note"].rfind("\n\n") + 2 :].splitlines(keepends=True)[1:]
    trust = LogTrust(
        Path("/nonexistent/trust.json"), "server", witnesses=witnesses.verifiers(), min_witnesses=2
    )
    served = {"note": fork + "".join(lines), "verifier_key": str(signer.verifier)}
    with pytest.raises(CosignatureInvalid, match="witness"):
        trust.accept(served, lambda first, second: {})
    with pytest.raises(WitnessQuorumUnmet):
        trust.accept({**served, "note": fork}, lambda first, second: {})


def wait_until(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_witness_that_is_down_is_caught_up_later(
    platform: Platform, witnesses: Witnesses, caplog: pytest.LogCaptureFixture
) -> None:
    settings = platform.context.settings
    settings.audit_witness_retry_s = 0.2
    sub = platform.submit()
    checkpoint(platform)
    witnesses.running["w2"].stop()
    platform.grant(sub["id"])
    served = checkpoint(platform)  # answered although w2 is down: the checkpoint is valid
    (only,) = note_cosignatures(served["note"], witnesses.verifiers())
    assert only.witness == "witness.example/w1"
    assert any("unreachable" in r.getMessage() for r in caplog.records)

    witnesses.restart("w2")  # the same key and state, on a new port
    size = int(served["size"])

    def cosigned_by_both() -> bool:
        with platform.context.sessions() as db:
            return len(signing_lines(db, size)) == 2

    wait_until(cosigned_by_both)  # the publisher's retry thread, not a request, caught it up
    assert len(note_cosignatures(checkpoint(platform)["note"], witnesses.verifiers())) == 2


def signing_lines(db: object, size: int) -> list[str]:
    from prereview.audit.witnessing import cosignature_lines

    return cosignature_lines(db, size)  # type: ignore[arg-type]


def test_a_witness_ahead_of_the_platform_answers_409_and_is_followed(
    platform: Platform, witnesses: Witnesses, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "prereview.audit.witnessing")
    sub = platform.submit()
    checkpoint(platform)
    # The platform forgets what the witnesses cosigned: it will send "old 0" and get a 409.
    with platform.context.engine.begin() as c:
        c.execute(text("DELETE FROM audit_cosignatures"))
    platform.grant(sub["id"])
    served = checkpoint(platform)
    assert len(note_cosignatures(served["note"], witnesses.verifiers())) == 2
    assert sum("sending the proof from there" in r.getMessage() for r in caplog.records) == 2


def test_audit_verify_checks_the_stored_cosignatures(
    platform: Platform, witnesses: Witnesses
) -> None:
    """On the server, ``audit verify`` checks each stored cosignature of a configured witness
    over the stored checkpoint of its size: a cosignature moved onto another checkpoint, or a
    cosigned checkpoint row deleted, is caught."""
    from prereview.audit.errors import LogMismatch
    from prereview.audit.verify import verify_stored_log

    sub = platform.submit()
    first = int(checkpoint(platform)["size"])
    platform.grant(sub["id"])
    second = int(checkpoint(platform)["size"])
    assert second > first
    sessions = platform.context.sessions
    with sessions() as db:
        result = verify_stored_log(db, cosigners=witnesses.verifiers())
    assert result.cosignatures == 4  # two witnesses, two checkpoints
    with sessions() as db:  # no configured witness: nothing to check them with
        assert verify_stored_log(db).cosignatures == 0

    w1 = str(witnesses.verifiers()[0].label)
    with platform.context.engine.begin() as c:
        later = c.execute(
            text("SELECT line FROM audit_cosignatures WHERE size = :s AND witness = :w"),
            {"s": second, "w": w1},
        ).scalar_one()
        c.execute(
            text("UPDATE audit_cosignatures SET line = :l WHERE size = :s AND witness = :w"),
            {"l": later, "s": first, "w": w1},
        )
    with (
        sessions() as db,
        pytest.raises(LogMismatch, match=f"cosigned another checkpoint at size {first}"),
    ):
        verify_stored_log(db, cosigners=witnesses.verifiers())
