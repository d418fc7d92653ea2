"""The chain tasks: ``realworld_chain``, one exploit sample per chain of real CVEs.

A chain's victim needs every link: the first CVE gives a credential or a privilege (an
auth bypass, a leaked token), which opens the feature where the next CVE runs code, and
the flag is a global of the service process, as in ``realworld_exploit``. The libraries
are the releases the single-CVE cases use (``cases/*.py``, pinned in ``cache.toml``),
loaded by the service from its own ``/tmp``. ``tests/evals/test_realworld_chains.py``
checks, for each link, that the victim built with that link's fixed release refuses the
reference solution.

Every sample records the chain (``chain``: one entry per link with its CVE, package,
versions and sha256s); the keys of a single case keep their meaning for the first link
(``cve``, ``package``, ``vulnerable_version``...). ``public_exploit`` says whether a public
proof of concept of the whole chain exists, ``public_exploit_links`` whether each link has
one. The tier is derived by rule ``tiers-1`` from the steps of the reference solution and
the lines of every link's tree.

Every run is a fresh variant of each chain (``chain_cases/base.py``): the services' ports,
routes, the parameter names the agent sends and the flag's global or environment
variable are drawn from ``(seed, chain id)``, so a transcript of one run names what the
next run's victim does not have. ``variant_seed`` renders a run again; the task's and
every sample's metadata record it (the evidence digest leaves it out, as the cases').
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import sandbox

from prereview.evals.baselines import FLOOR_MODELS, REFERENCE
from prereview.evals.challenges._base import SERVICE_LIB, WAIT_READY, Build, install, new_flag
from prereview.evals.realworld import cache, javascript, variants
from prereview.evals.realworld.archive import source_tree
from prereview.evals.realworld.case import Case
from prereview.evals.realworld.cases import case_by_id
from prereview.evals.realworld.chain_cases import (
    jinja2_handlebars,
    jinja2_pyjwt,
    jinja2_pyxdg,
    jinja2_pyyaml,
    jinja2_underscore,
    jwt_jinja2,
    jwt_pyxdg,
    jwt_pyyaml,
    jwt_underscore,
    lodash_handlebars,
    rsa_handlebars,
    rsa_jinja2,
    rsa_pyxdg,
    rsa_pyyaml,
    urllib3_lodash_ejs,
    urllib3_pyjwt,
    urllib3_pyyaml,
    urllib3_underscore,
)
from prereview.evals.realworld.chain_cases.base import Chain, ChainVariant, Step
from prereview.evals.realworld.floors import measure_real_floors
from prereview.evals.realworld.tasks import (
    _EXPLOIT_SYSTEM,
    TIER,
    _lines_of_code,
    _tree,
    sample_variant_seed,
)
from prereview.evals.sandbox import BwrapConfig
from prereview.evals.scoring import FLAG_KEY, flag_scorer
from prereview.evals.tasks import _task
from prereview.evals.tiers import reference_steps, with_derived_tier

CHAINS: tuple[Chain, ...] = (
    jwt_jinja2.CHAIN,
    urllib3_pyyaml.CHAIN,
    rsa_pyxdg.CHAIN,
    urllib3_lodash_ejs.CHAIN,
    jwt_underscore.CHAIN,
    rsa_handlebars.CHAIN,
    urllib3_pyjwt.CHAIN,
    rsa_jinja2.CHAIN,
    jinja2_handlebars.CHAIN,
    jwt_pyxdg.CHAIN,
    urllib3_underscore.CHAIN,
    rsa_pyyaml.CHAIN,
    jinja2_pyjwt.CHAIN,
    lodash_handlebars.CHAIN,
    jinja2_pyyaml.CHAIN,
    jinja2_pyxdg.CHAIN,
    jinja2_underscore.CHAIN,
    jwt_pyyaml.CHAIN,
)
_BY_ID = {c.id: c for c in CHAINS}

_PY_HEAD = """import sys
sys.path[:0] = ["/tmp/svc", "/tmp/lib"]
"""
_PY_FLAG = """
import _svc
@@name_flag@@ = _svc.take_flag()
"""
_PY_NO_FLAG = """
import _svc
"""
_PY_TAIL = """
serve() if "serve" in globals() else _svc.serve_http(route, @@port@@)
"""
_JS_HEAD = """"use strict";
const _svc = require("./_svc.js");
process.env.@@name_flag@@ = _svc.takeFlag();
"""
_COPY = "mkdir -p /tmp/svc && cp -r /work/svc/. /tmp/svc/ && "
_START_NODE = (
    "mkdir -p /tmp/node_modules && cp -r /work/vendor/. /tmp/node_modules/ && cd /tmp && "
    "setsid -f /usr/bin/node /tmp/svc/service.js >/tmp/node.log 2>&1 </dev/null; " + WAIT_READY
)
_START_PYTHON = (
    "rm -f /tmp/.ready && mkdir -p /tmp/lib && cp -r /work/vendor/. /tmp/lib/ && cd /tmp && "
    "setsid -f /usr/bin/python3 -I /tmp/svc/service.py >/tmp/service.log 2>&1 </dev/null; "
    + WAIT_READY
)


def chain_by_id(chain_id: str) -> Chain:
    """The chain with this id (KeyError if there is none)."""
    return _BY_ID[chain_id]


def link_cases(chain: Chain) -> list[Case]:
    """The cases a chain's links are, in order."""
    return [case_by_id(link) for link in chain.links]


def chain_vendor(chain: Chain, fixed: Collection[str] = ()) -> dict[str, str | bytes]:
    """Every link's library (and its dependencies) under ``vendor/``; the links named in
    ``fixed`` (case ids) at their fixed release instead."""
    files: dict[str, str | bytes] = {}
    for case in link_cases(chain):
        for path, data in _tree(case, fixed=case.id in fixed).items():
            files[f"vendor/{case.import_name}/{path}"] = data
        for dep in case.dependencies:
            name = dep.root.rstrip("/").rsplit("/", 1)[-1]
            for path, data in source_tree(dep.name, dep.version, dep.root).items():
                files[f"vendor/{name}/{path}"] = data
    return files


def chain_build(
    chain: Chain, flag: str, fixed: Collection[str] = (), variant_seed: int | None = None
) -> Build:
    """The victim of a chain holding ``flag`` (with the ``fixed`` links patched), as the
    variant of ``variant_seed`` (canonical when None)."""
    variant = chain.variant(variant_seed)
    files: dict[str, str | bytes] = dict(chain_vendor(chain, fixed))
    commands: list[str] = []
    if variant.node:
        files["svc/_svc.js"] = javascript.SERVICE_LIB
        files["svc/service.js"] = variant.render(_JS_HEAD) + variant.node
        commands.append(_COPY + _START_NODE)
    if variant.python:
        head = _PY_NO_FLAG if variant.node else _PY_FLAG
        service = _PY_HEAD + variant.preamble + variant.render(head) + variant.python
        files["svc/_svc.py"] = SERVICE_LIB
        files["svc/service.py"] = service + variant.render(_PY_TAIL)
        commands.append(("" if variant.node else _COPY) + _START_PYTHON)
    return Build(files=files, secret=flag, commands=tuple(commands))


def _solution(variant: ChainVariant) -> list[dict[str, str]]:
    return [{"tool": step.tool, "code": step.code} for step in variant.solution]


def chain_metadata(chain: Chain, variant: ChainVariant | None = None) -> dict[str, Any]:
    """What a chain sample records: each link's CVE and pinned releases, the first link's
    under the single-case keys, the measured properties the tier is derived from, and the
    reference solution of ``variant`` (the canonical one when None)."""
    cases = link_cases(chain)
    first = cases[0]
    links = [
        {
            "case": case.id,
            "cve": case.cve,
            "cwe": case.cwes[0],
            "package": case.package,
            "language": case.language,
            "vulnerable_version": case.vulnerable,
            "fixed_version": case.fixed,
            "source_sha256": cache.release(case.package, case.vulnerable).sha256,
            "fixed_sha256": cache.release(case.package, case.fixed).sha256,
            "public_exploit": case.public_exploit,
            "gives": role,
        }
        for case, role in zip(cases, chain.roles, strict=True)
    ]
    solution = _solution(chain.canonical if variant is None else variant)
    metadata: dict[str, Any] = {
        "suite_tier": TIER,
        "kind": "chain",
        "case": chain.id,
        "cve": first.cve,
        "cwe": first.cwes[0],
        "title": chain.title,
        "package": first.package,
        "vulnerable_version": first.vulnerable,
        "fixed_version": first.fixed,
        "source_sha256": links[0]["source_sha256"],
        "fixed_sha256": links[0]["fixed_sha256"],
        "language": chain.flag_holder,
        "languages": sorted({case.language for case in cases}),
        "category": chain.category.value,
        "chain": links,
        "public_exploit_links": chain.public_exploit_links,
        "measured": {
            "reference_steps": reference_steps(solution),
            "lines_of_code": sum(_lines_of_code(_tree(case)) for case in cases),
            "public_exploit": chain.public_exploit,
        },
    }
    # "challenge" marks a capture-the-flag sample for the floors (baselines.py)
    metadata.update(challenge=chain.id, solution=solution)
    return with_derived_tier(metadata)


def _selected(chains: Sequence[str] | str | None) -> list[Chain]:
    names = chains.split(",") if isinstance(chains, str) else list(chains or [])
    unknown = [n for n in names if n not in _BY_ID]
    if unknown:
        known = ", ".join(sorted(_BY_ID))
        raise ValueError(f"unknown chain {unknown[0]!r}: one of {known}")
    return [_BY_ID[n] for n in names] if names else list(CHAINS)


def chain_samples(
    chains: Sequence[str] | str | None = None, variant_seed: int | str | None = None
) -> list[Sample]:
    """One exploit sample per selected chain, each rendered as the variant of
    ``variant_seed`` (a fresh seed when None), which its metadata records."""
    seed = variants.seed_of(variant_seed)
    seed = variants.fresh_seed() if seed is None else seed
    samples = []
    for chain in _selected(chains):
        variant = chain.variant(seed)
        metadata = chain_metadata(chain, variant)
        metadata.update(variant_seed=seed)
        samples.append(
            Sample(
                id=f"{chain.id}-exploit",
                input=variant.prompt,
                target="the sample's flag (random per sample, kept in the store)",
                metadata=metadata,
            )
        )
    return samples


@solver
def chain_setup() -> Solver:
    """Start the sample's victim services in its sandbox with a fresh random flag, as the
    variant its ``variant_seed`` names."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        flag = new_flag()
        state.store.set(FLAG_KEY, flag)
        chain = chain_by_id(str(state.metadata["case"]))
        build = chain_build(chain, flag, variant_seed=sample_variant_seed(state.metadata))
        await install(build, sandbox())
        return state

    return solve


@task
def realworld_chain(
    chains: list[str] | str | None = None,
    epochs: int = 1,
    max_attempts: int = 1,
    message_limit: int = 60,
    token_limit: int | None = None,
    tool_timeout: int = 120,
    sandbox_name: str = "bwrap",
    sandbox_config: BwrapConfig | None = None,
    variant_seed: int | str | None = None,
) -> Task:
    """Exploit a service that only a chain of two or three released libraries' CVEs opens.
    Every run is a fresh variant (ports, routes, parameters, the flag's name) unless
    ``variant_seed`` names one; the seed is in the task's and each sample's metadata."""
    seed = variants.seed_of(variant_seed)
    seed = variants.fresh_seed() if seed is None else seed
    return _task(
        dataset=chain_samples(chains, seed),
        setup=chain_setup(),
        prompt=_EXPLOIT_SYSTEM,
        scorer=flag_scorer(),
        epochs=epochs,
        max_attempts=max_attempts,
        message_limit=message_limit,
        token_limit=token_limit,
        tool_timeout=tool_timeout,
        sandbox_name=sandbox_name,
        sandbox_config=sandbox_config,
        name="realworld_chain",
        metadata={"variant_seed": seed},
    )


def chain_rows(log_dir: str, chains: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run the reference and every floor on each chain (``floors.measure_real_floors``):
    one row per chain, as ``benchmarks/realworld.py`` prints them."""
    rows = []
    for chain in _selected(chains):

        def tasks(chain_id: str = chain.id) -> list[Task]:
            return [realworld_chain(chains=[chain_id])]

        table = measure_real_floors(tasks, log_dir)
        row = table["realworld_chain"]
        meta = chain_metadata(chain)
        rows.append(
            {
                "task": f"{chain.id}-exploit",
                "cve": meta["cve"],
                "chain": [link["cve"] for link in meta["chain"]],
                "kind": "chain",
                "tier": meta["tier"],  # derived (prereview.evals.tiers)
                "category": meta["category"],
                "languages": meta["languages"],
                "vulnerable": [f"{c.package}=={c.vulnerable}" for c in link_cases(chain)],
                "fixed": [f"{c.package}=={c.fixed}" for c in link_cases(chain)],
                "reference": row[REFERENCE],
                "floors": {m.split("/")[-1]: row[m] for m in FLOOR_MODELS},
                "measured": meta["measured"],
            }
        )
    return rows


__all__ = [
    "CHAINS",
    "Chain",
    "ChainVariant",
    "Step",
    "chain_build",
    "chain_by_id",
    "chain_metadata",
    "chain_rows",
    "chain_samples",
    "chain_setup",
    "chain_vendor",
    "link_cases",
    "realworld_chain",
]
