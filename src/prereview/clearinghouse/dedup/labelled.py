"""A labelled set for measuring the duplicate finder: which reports are the same bug.

Built from the seed corpus (invented OSV advisories shipped in ``prereview/clearinghouse/data``),
each seed advisory becomes a cluster: the original plus variants a second reporter might have
written about the same bug (synonym swaps from a table only this module knows, the finder
never sees it; sentences reordered, the text truncated, boilerplate added; the title reworded;
sometimes the structured code locations left out). Hard negatives, which must *not* be
proposed, are the corpus's own different bugs in the same product and CWE, and for every seed
two "template twins": the same text about a different function and file, each with a
paraphrased variant of its own.

It lives here, beside the finder, so that the test suite and ``benchmarks/dedup.py`` measure
the same thing: the test checks precision and F1, the benchmark reports throughput as well.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from itertools import combinations

from prereview.clearinghouse.dedup.finder import DedupConfig, DuplicateFinder
from prereview.vulnerability.report import Report

SYNONYMS: dict[str, list[str]] = {
    "attacker": ["adversary", "malicious actor", "threat actor"],
    "remote": ["network-based", "remote unauthenticated"],
    "allows": ["permits", "lets", "enables"],
    "allowing": ["permitting", "enabling"],
    "arbitrary": ["any", "attacker-chosen"],
    "crafted": ["specially crafted", "malicious", "hostile"],
    "request": ["HTTP request", "call"],
    "server": ["service", "host"],
    "application": ["app", "program"],
    "applications": ["apps", "programs"],
    "upgrade": ["update", "move"],
    "fixed": ["resolved", "patched", "addressed"],
    "because": ["since", "as"],
    "memory": ["RAM", "heap memory"],
    "execute": ["run"],
    "version": ["release"],
    "user": ["account holder", "person"],
    "users": ["account holders", "people"],
    "file": ["document"],
    "files": ["documents"],
    "does": ["do"],
    "makes": ["causes", "forces"],
    "checks": ["verifies", "validates"],
    "check": ["verification", "validation"],
    "without": ["with no"],
    "any": ["every"],
    "uses": ["relies on", "employs"],
    "now": ["from then on"],
    "process": ["program instance", "running process"],
    "data": ["content", "bytes"],
    "value": ["input"],
    "function": ["routine", "method"],
    "exploit": ["abuse", "leverage"],
    "unauthenticated": ["anonymous", "not logged in"],
    "single": ["one"],
    "large": ["big", "huge"],
    "small": ["tiny", "short"],
}
BOILERPLATE_BEFORE = [
    "This report was received from a trusted partner through the clearinghouse.",
    "Summary of an issue found during a pre-release model review.",
    "The following vulnerability was reported under coordinated disclosure.",
    "Reported by a sector partner; details below are as submitted.",
]
BOILERPLATE_AFTER = [
    "Users are advised to apply the update as soon as possible. No workaround is known.",
    "This advisory will be updated as more information becomes available.",
    "The maintainers thank the reporter for following coordinated disclosure.",
    "Please contact the vendor's security team with any questions about this issue.",
]
FUNCTION_POOL = [
    "handle_frame",
    "parse_options",
    "load_settings",
    "copy_payload",
    "decode_record",
    "render_node",
    "validate_token",
    "flush_queue",
    "read_entry",
    "open_session",
    "resolve_path",
    "merge_fields",
    "encode_reply",
    "scan_block",
    "apply_patch",
]
FILE_POOL = [
    "frames",
    "options",
    "settings",
    "payload",
    "records",
    "nodes",
    "tokens",
    "queue",
    "entries",
    "session",
    "paths",
    "fields",
    "reply",
    "blocks",
    "patches",
]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass
class Item:
    report_id: str
    cluster: str
    text: str
    package: str
    cwes: list[str]
    code_locations: list[str]


def _swap_synonyms(text: str, rng: random.Random, rate: float) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        options = SYNONYMS.get(word.lower())
        if not options or rng.random() > rate:
            return word
        choice = rng.choice(options)
        return choice.capitalize() if word[0].isupper() else choice

    # Whole words of prose only: a paraphrase does not rename code (server.py, check_mac).
    return re.sub(r"(?<![\w/.-])[A-Za-z]+(?![\w/-]|\.\w)", swap, text)


def paraphrase(title: str, details: str, rng: random.Random) -> tuple[str, str]:
    """A rewrite of a report as another reporter might send it."""
    sentences = _SENTENCE_END.split(details.strip())
    if len(sentences) > 2 and rng.random() < 0.6:  # reorder: move a couple of sentences
        for _ in range(rng.randint(1, 2)):
            i, j = rng.sample(range(len(sentences)), 2)
            sentences[i], sentences[j] = sentences[j], sentences[i]
    if len(sentences) > 2 and rng.random() < 0.5:  # truncate to 40-80 % of the sentences
        keep = max(2, round(len(sentences) * rng.uniform(0.4, 0.8)))
        sentences = sentences[:keep]
    text = " ".join(sentences)
    text = _swap_synonyms(text, rng, rate=rng.uniform(0.3, 0.8))
    if rng.random() < 0.5:
        text = f"{rng.choice(BOILERPLATE_BEFORE)} {text}"
    if rng.random() < 0.5:
        text = f"{text} {rng.choice(BOILERPLATE_AFTER)}"
    new_title = _swap_synonyms(title, rng, rate=0.7) if rng.random() < 0.7 else title
    return new_title, text


def template_twin(report: Report, function_name: str, file_stem: str) -> tuple[str, str, list[str]]:
    """The same text about a different function in a different file (a different bug)."""
    title, details = report.title, report.description
    locations: list[str] = []
    for location in report.code_locations:
        path, _, function = location.partition(":")
        base = path.rsplit("/", 1)[-1]
        stem, dot, ext = base.partition(".")
        new_base = f"{file_stem}{dot}{ext}"
        last = re.split(r"::|\.", function)[-1]
        new_function = function_name
        if "_" not in last and any(c.isupper() for c in last[1:]):  # keep the naming style
            head, *tail = new_function.split("_")
            new_function = head + "".join(part.capitalize() for part in tail)
        # The function first: its name may contain the file's stem (serve_static in static.py).
        for old, new in (
            (last, new_function),
            (base, new_base),
            (stem, new_base.partition(".")[0]),
        ):
            if old:
                word = re.compile(rf"(?<![\w-]){re.escape(old)}(?![\w-])")
                title, details = word.sub(new, title), word.sub(new, details)
        locations.append(f"{path.replace(base, new_base)}:{function.replace(last, new_function)}")
    return title, details, locations


def build_labelled_set(
    seeds: list[Report], rng: random.Random, shard: int, variants: int
) -> list[Item]:
    """Originals, paraphrases, template twins and their paraphrases, with cluster labels."""
    items: list[Item] = []

    def emit(cluster: str, title: str, text: str, report: Report, locations: list[str]) -> None:
        package = report.package_keys[0] + (f"-shard{shard}" if shard else "")
        # A reporter leaves out the structured code location about a third of the time.
        kept = locations if rng.random() < 0.7 else []
        items.append(
            Item(
                f"{cluster}/{len(items)}",
                cluster,
                f"{title}\n{text}",
                package,
                list(report.cwes),
                kept,
            )
        )

    for seed in seeds:
        cluster = f"s{shard}:{seed.id}"
        emit(cluster, seed.title, seed.description, seed, list(seed.code_locations))
        for _ in range(rng.randint(1, variants)):
            title, text = paraphrase(seed.title, seed.description, rng)
            emit(cluster, title, text, seed, list(seed.code_locations))
        # Each twin gets names no other twin of the same seed gets.
        functions, files = rng.sample(FUNCTION_POOL, 2), rng.sample(FILE_POOL, 2)
        for twin_number in range(2):
            title, text, locations = template_twin(seed, functions[twin_number], files[twin_number])
            twin_cluster = f"{cluster}:twin{twin_number}"
            emit(twin_cluster, title, text, seed, locations)
            variant_title, variant_text = paraphrase(title, text, rng)
            emit(twin_cluster, variant_title, variant_text, seed, locations)
    return items


def evaluate(items: list[Item], config: DedupConfig) -> dict[str, float | int]:
    finder = DuplicateFinder(config)
    predicted: set[tuple[str, str]] = set()
    started, started_cpu = time.perf_counter(), time.process_time()
    for item in items:
        for candidate in finder.add(
            item.report_id, item.text, [item.package], item.cwes, item.code_locations
        ):
            predicted.add(tuple(sorted((item.report_id, candidate.report_id))))  # type: ignore[arg-type]
    elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    by_cluster: dict[str, list[str]] = {}
    for item in items:
        by_cluster.setdefault(item.cluster, []).append(item.report_id)
    truth = {tuple(sorted(pair)) for ids in by_cluster.values() for pair in combinations(ids, 2)}
    true_positives = len(predicted & truth)
    # Hard negatives: pairs in the same product and CWE that are different bugs.
    by_product_cwe: dict[tuple[str, str], list[str]] = {}
    for item in items:
        by_product_cwe.setdefault((item.package, ",".join(item.cwes)), []).append(item.report_id)
    hard_negatives = {
        tuple(sorted(pair))
        for ids in by_product_cwe.values()
        for pair in combinations(ids, 2)
        if tuple(sorted(pair)) not in truth
    }
    precision = true_positives / len(predicted) if predicted else 1.0
    recall = true_positives / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "reports": len(items),
        # CPU time of this one-threaded process: the rate on one core, whatever else the
        # machine is doing; the wall-clock rate is printed beside it.
        "reports_per_s": round(len(items) / elapsed_cpu, 1),
        "wall_reports_per_s": round(len(items) / elapsed, 1),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": len(truth),
        "predicted_pairs": len(predicted),
        "hard_negative_pairs": len(hard_negatives),
        "hard_negatives_proposed": len(predicted & hard_negatives),
    }
