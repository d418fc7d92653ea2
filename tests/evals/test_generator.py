"""The generator of single-file vulnerable programs and their safe twins
(:mod:`prereview.evals.generator`): hundreds of distinct variants, deterministic per seed."""

from __future__ import annotations

from prereview.evals.generator import KINDS, generate_pair

WEAK_MARKERS = {
    "sql-injection": "'%s'\" %",
    "command-injection": "shell=True",
    "path-traversal": "os.path.join(BASE",
    "eval-injection": "return eval(",
    "stack-overflow": "strcpy(",
    "format-string": "printf(",
    "off-by-one": "<=",
}


def test_generator_makes_hundreds_of_distinct_variants_with_safe_twins():
    sources = set()
    for seed in range(300):
        vulnerable, safe = generate_pair(seed)
        assert vulnerable.vulnerable and not safe.vulnerable
        assert vulnerable.source != safe.source
        assert vulnerable.path == safe.path and safe.line is None
        assert vulnerable.line is not None
        weak_line = vulnerable.source.splitlines()[vulnerable.line - 1]
        assert WEAK_MARKERS[vulnerable.kind] in weak_line, (seed, weak_line)
        assert vulnerable.cwe in vulnerable.accepted_cwes
        sources.add(vulnerable.source)
    assert len(sources) == 300
    assert {generate_pair(s)[0].kind for s in range(len(KINDS))} == set(KINDS)
    assert len({generate_pair(s)[0].line for s in range(300)}) > 10  # the weakness moves


def test_generator_is_deterministic_per_seed():
    assert generate_pair(17) == generate_pair(17)
    assert generate_pair(17)[0].source != generate_pair(24)[0].source
