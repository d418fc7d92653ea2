"""The generated multi-file discovery programs (:mod:`prereview.evals.discovery`): twins of
the same tokens that no surface regex can tell apart."""

from __future__ import annotations

import io
import tokenize
from collections import Counter

from prereview.evals import discovery
from prereview.evals.baselines import regex_finding
from prereview.evals.generator import generate_pair


def _tokens(files: dict[str, str]) -> Counter[str]:
    return Counter(
        t.string
        for text in files.values()
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
    )


def test_discovery_programs_are_multi_file_and_twins_share_every_token():
    sources = set()
    for seed in range(200):
        vulnerable, safe = discovery.generate_twins(seed)
        assert vulnerable.vulnerable and not safe.vulnerable and vulnerable.pair == safe.pair
        assert vulnerable.files.keys() == safe.files.keys() and len(vulnerable.files) >= 4
        assert vulnerable.files != safe.files
        assert _tokens(vulnerable.files) == _tokens(safe.files), seed  # same tokens, other meaning
        assert vulnerable.file in vulnerable.files
        assert f"def {vulnerable.function}(" in vulnerable.files[vulnerable.file]
        for path, text in vulnerable.files.items():
            compile(text, path, "exec")
        sources.add(vulnerable.files[vulnerable.file])
    assert len(sources) == 200
    assert {discovery.generate_twins(s)[0].kind for s in range(5)} == set(discovery.KINDS)
    assert discovery.generate_twins(9) == discovery.generate_twins(9)


def test_surface_regexes_cannot_tell_the_twins_apart():
    def dump(program: discovery.Program) -> str:
        return "".join(f"=== {path}\n{text}" for path, text in program.files.items())

    for seed in [*range(100), *range(5000, 5050)]:  # the default seeds and fresh ones
        vulnerable, safe = discovery.generate_twins(seed)
        assert regex_finding(dump(vulnerable)) == regex_finding(dump(safe))
    # on the old single-file programs the same matcher found every weakness
    old = generate_pair(0)[0]
    assert regex_finding(f"=== {old.path}\n{old.source}")["cwe"] == old.cwe
