"""The fast paths of bulk intake keep every guard and every answer of the slow ones.

libyaml composes YAML (the alias, depth and encoding guards are redone on what it composes),
a compiled Rust validator screens OSV records (the Python validator still names every fault),
and ``prereview vuln import`` packs one-record files into one request (each item still told
against its file). Figures: ``benchmarks/ingest_real.py``."""

from __future__ import annotations

import copy
import json
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.clearinghouse.intake import files as packing
from prereview.clearinghouse.intake.formats import OSV_KEYS, IntakeFormat, detect_format
from prereview.cli import app as cli
from prereview.core import parsing
from prereview.core.errors import RefusedYamlFeature, TooDeeplyNested
from prereview.exchange.documents import load_documents
from prereview.exchange.validation import Standard, schema_set
from support.factories import Platform
from support.live import serve

DATA = Path(__file__).resolve().parents[1] / "data" / "osv-pypa"
RECORDS = sorted((DATA / "vulns").rglob("*.yaml")) + sorted((DATA / "history").rglob("*.yaml"))


def test_libyaml_is_used_and_bounds_nesting_itself() -> None:
    assert parsing._C_COMPOSER, "PyYAML here has libyaml: the fast path must be on"


def test_a_billion_laughs_is_refused_quickly_without_expanding() -> None:
    # Twelve levels of ten aliases: 10**12 strings if anything expanded it.
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 12)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    with pytest.raises(RefusedYamlFeature) as refused:
        parsing.load_yaml_all("\n".join(lines))
    assert time.process_time() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    assert "line 1, column 5" in refused.value.detail  # the first anchor, as a person reads


def test_aliases_anywhere_are_refused_and_an_unused_anchor_is_harmless() -> None:
    for text in ("a: &x 1\nb: *x\n", "- &x [1]\n- *x\n", "a: &a {b: *a}\n", "<<: &m {a: 1}\nb: *m"):
        with pytest.raises(RefusedYamlFeature):
            parsing.load_yaml_all(text)
    assert parsing.load_yaml_all("a: &x 1\n") == [{"a": 1}]


@pytest.mark.parametrize(
    "deep",
    [
        "[" * 65 + "]" * 65,  # past our 64, within libyaml's own 1,000
        "[" * 5000,  # past libyaml's bound: its refusal is ours too
        "- " * 65 + "x",
        "".join("  " * n + "a:\n" for n in range(70)) + "  " * 70 + "x",
        "{a: " * 65 + "1" + "}" * 65,
    ],
)
def test_deep_yaml_is_refused_as_too_deeply_nested(deep: str) -> None:
    with pytest.raises(TooDeeplyNested):
        parsing.load_yaml_all(deep)
    assert parsing.load_yaml_all("[" * 64 + "]" * 64) is not None


def test_the_fast_builder_builds_what_the_safe_loader_builds() -> None:
    texts = [path.read_text() for path in RECORDS]
    texts += [
        "x: 2026-01-01\ny: 2026-01-01 10:00:00\nz: 0x1F\nw: 1_000\nv: .inf\nu: ~\nt: yes\n",
        "s: 0o17\nr: 1:20\nq: '3'\np: !!str 4\no: !!int '5'\nn: -.5e3\nm: null\n",
        "<<: {a: 1}\nb: 2\n",  # a merge key: left to the safe constructor
        "? [a, b]\n: 1\n",  # a sequence as a key: the safe constructor refuses it
        "!!set {a, b}\n",
        "a: !!binary aGVsbG8=\n",
        "a: 1\na: 2\n",  # a repeated key: the last one wins, as before
        "=: 1\n",
        "a: 1\n---\nb: [1, 2]\n---\n",
    ]
    for text in texts:
        try:
            expected: Any = list(yaml.load_all(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError:
            with pytest.raises(yaml.YAMLError):
                parsing.load_yaml_all(text)
            continue
        assert parsing.load_yaml_all(text) == expected, text


def test_yaml_and_json_of_the_same_records_give_the_same_documents() -> None:
    stream = b"".join(path.read_bytes().rstrip(b"\n") + b"\n---\n" for path in RECORDS)
    from_yaml = load_documents(stream)
    assert len(from_yaml) == len(RECORDS)
    assert load_documents(json.dumps(from_yaml)) == from_yaml


def _mutations(record: dict[str, Any]) -> list[Any]:
    """Ways to break a real record, each near one of the schema's rules."""
    broken: list[Any] = []
    for key in ("id", "modified"):
        without = copy.deepcopy(record)
        without.pop(key, None)
        broken.append(without)
    for key, value in (("id", 7), ("aliases", "CVE-1"), ("modified", "yesterday"), ("x", 1)):
        changed = copy.deepcopy(record)
        changed[key] = value
        broken.append(changed)
    for affected in record.get("affected") or []:
        for number, ranged in enumerate(affected.get("ranges") or []):
            for event in ranged.get("events") or []:
                for name in list(event):
                    changed = copy.deepcopy(record)
                    target = changed["affected"][record["affected"].index(affected)]
                    events = target["ranges"][number]["events"]
                    events[ranged["events"].index(event)] = {name: "cb35df940a\n"}
                    broken.append(changed)
                    break
    return broken


def test_the_rust_screen_never_passes_what_the_python_validator_refuses() -> None:
    schemas = schema_set()
    screen = schemas.screens[Standard.OSV]
    python = schemas.validators[Standard.OSV]
    records = load_documents(b"".join(p.read_bytes() + b"\n---\n" for p in RECORDS))
    checked = 0
    for record in records:
        for document in [record, *_mutations(record)]:
            if screen(document):
                assert python.is_valid(document), document.get("id")
            checked += 1
    assert checked > 1000
    assert sum(screen(record) for record in records) == sum(map(python.is_valid, records))


def test_a_schema_fault_is_still_named_with_its_path() -> None:
    record = load_documents(
        (DATA / "vulns").joinpath("aiohttp").glob("*.yaml").__next__().read_bytes()
    )[0]
    record["affected"][0]["ranges"][0]["events"].append({"fixed": 7})
    problems = schema_set().problems(record, Standard.OSV)
    assert problems and problems[0]["path"].startswith("$.affected[0].ranges[0].events")


def test_json_osv_whose_modified_follows_a_long_details_is_read_as_osv() -> None:
    record = {"id": "PYSEC-0000-1", "details": "x" * 5000, "modified": "2024-01-01T00:00:00Z"}
    assert detect_format(json.dumps(record)) is IntakeFormat.OSV
    assert detect_format(json.dumps({"id": "R-1", "title": "t" * 5000})) is IntakeFormat.REPORT
    assert packing.OSV_KEYS == OSV_KEYS  # the command line's copy of the server's rule


# -- packing files for `prereview vuln import` ----------------------------------------------


def _write(folder: Path, name: str, body: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def test_one_record_files_are_packed_in_order_and_others_go_alone(tmp_path: Path) -> None:
    one = _write(tmp_path, "a.yaml", "id: A-1\nmodified: 2024-01-01T00:00:00Z\n")
    marked = _write(tmp_path, "b.yaml", "# comment\n---\nid: B-1\ndetails: |\n  --- x\n")
    stream = _write(tmp_path, "c.yaml", "id: C-1\n---\nid: C-2\n")
    listed = _write(tmp_path, "d.yaml", "- id: D-1\n- id: D-2\n")
    record = _write(tmp_path, "e.json", json.dumps({"id": "E-1", "modified": "2024"}))
    report = _write(tmp_path, "f.json", json.dumps({"id": "F-1", "title": "a report"}))
    lines = _write(tmp_path, "g.jsonl", '{"id": "G-1"}\n{"id": "G-2"}\n')
    last = _write(tmp_path, "h.yml", "\ufeffid: H-1\n".encode())
    plan = packing.plan_requests(
        [one, marked, stream, listed, record, report, lines, last], None, 5000
    )
    assert [(r.files, r.packed) for r in plan] == [
        ((one, marked), True),
        ((stream,), False),
        ((listed,), False),
        ((record,), False),
        ((report,), False),
        ((lines,), False),
        ((last,), False),
    ]
    assert load_documents(plan[0].body) == [
        {"id": "A-1", "modified": "2024-01-01T00:00:00Z"},
        {"id": "B-1", "details": "--- x\n"},
    ]
    assert plan[0].params == {"format": "osv"}
    assert plan[1].params == {"filename": "c.yaml"}
    assert plan[5].params == {"filename": "g.jsonl", "format": "jsonl"}


def test_packs_are_cut_by_count_and_size(tmp_path: Path) -> None:
    paths = [
        _write(tmp_path, f"{n}.json", json.dumps({"id": f"J-{n}", "modified": "x"}))
        for n in range(7)
    ]
    plan = packing.plan_requests(paths, "osv", 10, files_per_request=3)
    assert [len(r.files) for r in plan] == [3, 3, 1]
    assert json.loads(plan[0].body) == [json.loads(p.read_bytes()) for p in paths[:3]]
    by_size = packing.plan_requests(paths, "osv", 10, bytes_per_request=80)
    assert all(len(r.body) <= 80 or len(r.files) == 1 for r in by_size)


def test_packed_items_are_told_against_their_own_files(tmp_path: Path) -> None:
    paths = [_write(tmp_path, f"{n}.yaml", f"id: Y-{n}\n") for n in range(3)]
    (request,) = packing.plan_requests(paths, None, 10)
    items = [{"index": n, "location": f"document {n + 1}", "status": "accepted"} for n in range(3)]
    assert (
        packing.unpack_items(request, items)
        == [{"index": 0, "location": "document 1", "status": "accepted"}] * 3
    )
    with pytest.raises(ValueError, match="2 items for 3"):
        packing.unpack_items(request, items[:2])


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def test_a_pack_refused_as_a_whole_is_sent_again_file_by_file(
    platform: Platform, server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "vulns"
    folder.mkdir()
    real = sorted((DATA / "vulns").rglob("*.yaml"))[:2]
    for name, path in zip("ab", real, strict=True):
        _write(folder, f"{name}.yaml", path.read_bytes())
    _write(folder, "c.yaml", b"id: PYSEC-0000-c\nsummary: \xff\n")  # not UTF-8: refuses the pack
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": platform["clearinghouse"].token}
    result = CliRunner().invoke(cli, ["vuln", "import", str(folder), "--json"], env=env)
    # As when every file was sent alone: a and b stored, c refused with its own problem type.
    assert result.exit_code == 1
    assert "invalid-encoding" in result.output or "UTF-8" in result.output
    listed = platform.call("clearinghouse", "GET", "/clearinghouse/reports", 200).json()
    assert {r["id"] for r in listed["items"]} == {path.stem for path in real}
