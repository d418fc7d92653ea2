"""Precision, recall and F1 of the duplicate finder on synthetic rewrites, and its throughput.

What it measures: whether the finder tells a rewrite of a report from a template twin when
neither carries an identifier or version ranges, only text, product, CWE and the code it
points at (the ``code_and_text`` evidence of the finder: model-found reports). The texts are
invented and the rewrites generated, so it says nothing about real advisories; that figure
is ``benchmarks/dedup_real.py`` (real PyPA duplicates and templated siblings).

The labelled set (:mod:`prereview.clearinghouse.dedup.labelled`, which the test suite checks
too) is built from the seed corpus (invented OSV advisories shipped in
``prereview/clearinghouse/data``). Each seed advisory becomes a cluster: the original plus
variants a second reporter might have written about the same bug:

- paraphrase: synonym swaps (a table only that module knows, the finder never sees it),
- sentences reordered, the text truncated, boilerplate added before and after,
- the title reworded, and sometimes the structured code locations left out.

Hard negatives, which must *not* be proposed:

- the seed corpus's own different bugs in the same product and CWE, and
- for every seed, "template twins": the same text about a different function and file,
  each with a paraphrased variant of its own (so twins form clusters too).

Reports arrive one at a time in random order; each is queried against those before it and then
indexed, as ingest does. A predicted pair is (new report, proposed candidate); truth is "same
cluster". ``--shards`` repeats the whole set under renamed products for a larger stream.

Prints one JSON line: bench, db (null: in memory), reports, reports_per_s (insert + query, per
second of this process's CPU time, i.e. on one core), wall_reports_per_s, precision, recall, f1,
and the finder's parameters.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from importlib import resources

from prereview.clearinghouse.dedup.finder import DedupConfig
from prereview.clearinghouse.dedup.labelled import build_labelled_set, evaluate
from prereview.exchange.osv import load_osv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shards", type=int, default=10, help="copies of the set under renamed products"
    )
    parser.add_argument(
        "--variants", type=int, default=4, help="most paraphrases per seed advisory"
    )
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--threshold", type=float, default=DedupConfig.threshold)
    parser.add_argument("--lsh-threshold", type=float, default=DedupConfig.lsh_threshold)
    parser.add_argument("--num-perm", type=int, default=DedupConfig.num_perm)
    parser.add_argument("--shingle-size", type=int, default=DedupConfig.shingle_size)
    args = parser.parse_args(argv)

    corpus = resources.files("prereview.clearinghouse").joinpath("data", "seed_advisories.yaml")
    seeds = load_osv(corpus.read_text("utf-8"), reporter="benchmark")
    rng = random.Random(args.seed)
    items = [
        item
        for shard in range(args.shards)
        for item in build_labelled_set(seeds, rng, shard, args.variants)
    ]
    rng.shuffle(items)
    config = DedupConfig(
        num_perm=args.num_perm,
        shingle_size=args.shingle_size,
        lsh_threshold=args.lsh_threshold,
        threshold=args.threshold,
    )
    result = evaluate(items, config)
    bands, rows = config.lsh_params()
    line = {
        "bench": "dedup",
        "db": None,
        **result,
        "seed_advisories": len(seeds),
        "mean_text_chars": round(sum(len(item.text) for item in items) / len(items)),
        "num_perm": config.num_perm,
        "shingle_size": config.shingle_size,
        "lsh_threshold": config.lsh_threshold,
        "lsh_bands": bands,
        "lsh_rows": rows,
        "threshold": config.threshold,
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
