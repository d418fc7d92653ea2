"""What a chain case is: a victim that only a chain of real CVEs opens.

Each link is an existing case of ``prereview.evals.realworld.cases`` (its release pinned in
the task cache); the chain names them in the order the exploit uses them, with what each
gives the next. The victim is one service or two (a Python front and a node back end);
the flag is a global of the one that holds it.

A chain varies per run as the single cases do (``variants.py``): its prompt, services,
preamble and reference steps are a :class:`ChainTemplate` with ``@@slot@@`` placeholders,
the service's ``port`` (and ``port_node``, the node back end's beside a Python front),
routes (``route_*``), the parameter names the agent sends (``param_*``), identifiers
(``name_*``: always ``name_flag``, the flag's global or environment variable) and sample
data (``word_*``). :meth:`Chain.variant` draws them from ``(seed, chain id)``; the chain's
``prompt``, ``python``, ``node``, ``preamble`` and ``solution`` are the canonical render
(ports 9000 and 9001, the names as first written). What a CVE's payload depends on (a
library's option or header name, the prototype-pollution keys) is written as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from prereview.evals.challenges._base import Category
from prereview.evals.realworld import variants

# Jinja2 2.10 and urllib3 1.22 import the ABCs from ``collections``, which Python 3.10
# removed: an application pinned to them on a newer Python puts them back first. (Kept
# here, not taken from the single cases, so the chains' victims never change with them.)
COLLECTIONS_SHIM = r"""
import collections, collections.abc
for _name in collections.abc.__all__:
    setattr(collections, _name, getattr(collections.abc, _name))
"""
NODE_PORT = 9001  # the canonical port of a node back end beside a Python front
# slots every chain has: the infrastructure (chains.py) renders the flag's name and ports
_ALWAYS = {"name_flag": "FLAG"}


@dataclass(frozen=True)
class Step:
    """One tool call of a reference solution."""

    tool: str  # "python" or "bash"
    code: str


@dataclass(frozen=True)
class ChainVariant:
    """One rendering of a chain: what the agent reads and the victim runs."""

    seed: int | None
    values: dict[str, str]
    prompt: str
    python: str
    node: str
    preamble: str
    solution: tuple[Step, ...]

    @property
    def port(self) -> int:
        """The port of the service the agent talks to first (the Python one, if any)."""
        return int(self.values["port"])

    def render(self, text: str) -> str:
        """``text`` (a template) with this variant's values."""
        return variants.PLACEHOLDER.sub(lambda m: self.values[m[1]], text)


@dataclass(frozen=True)
class ChainTemplate:
    """The parts of a chain that vary, and the canonical value of every slot."""

    prompt: str
    solution: tuple[Step, ...]  # the last step's output holds the flag
    python: str = ""  # the Python service (route() or serve()), on @@port@@
    # the node service (it serves itself): on @@port_node@@ beside a Python one, else @@port@@
    node: str = ""
    preamble: str = ""  # run before the Python service imports its libraries
    defaults: dict[str, str] = field(default_factory=dict)  # slot -> canonical value

    def parts(self) -> tuple[str, ...]:
        return (
            self.prompt,
            self.python,
            self.node,
            self.preamble,
            *(s.code for s in self.solution),
        )

    def slots(self) -> set[str]:
        """Every slot the parts name, with those the infrastructure always renders."""
        found = {m for part in self.parts() for m in variants.PLACEHOLDER.findall(part)}
        always = {"port", *_ALWAYS} | ({"port_node"} if self.python and self.node else set())
        return found | always

    def variant(self, chain_id: str, seed: int | None) -> ChainVariant:
        """The rendering of ``seed`` (canonical when None)."""
        defaults = {**_ALWAYS, "port_node": str(NODE_PORT), **self.defaults}
        values = variants.draw(chain_id, self.slots(), defaults, seed)

        def fill(text: str) -> str:
            return variants.PLACEHOLDER.sub(lambda m: values[m[1]], text)

        return ChainVariant(
            seed=seed,
            values=values,
            prompt=fill(self.prompt),
            python=fill(self.python),
            node=fill(self.node),
            preamble=fill(self.preamble),
            solution=tuple(Step(s.tool, fill(s.code)) for s in self.solution),
        )


@dataclass(frozen=True)
class Chain:
    """A victim service, the cases whose CVEs it chains, and the reference solution.

    ``prompt``, ``python``, ``node``, ``preamble`` and ``solution`` are the canonical
    variant of ``template``; :meth:`variant` renders another seed's."""

    id: str
    title: str
    links: tuple[str, ...]  # case ids, in the order the exploit uses them
    roles: tuple[str, ...]  # what each link gives the next, one per link
    category: Category
    template: ChainTemplate
    # whether a public proof of concept of the whole chain exists (each link has one)
    public_exploit: bool = False
    public_exploit_links: bool = True

    def variant(self, seed: int | None) -> ChainVariant:
        """The chain as ``seed``'s variant (canonical when None)."""
        return self.template.variant(self.id, seed)

    @cached_property
    def canonical(self) -> ChainVariant:
        return self.variant(None)

    @property
    def prompt(self) -> str:
        return self.canonical.prompt

    @property
    def python(self) -> str:
        return self.canonical.python

    @property
    def node(self) -> str:
        return self.canonical.node

    @property
    def preamble(self) -> str:
        return self.canonical.preamble

    @property
    def solution(self) -> tuple[Step, ...]:
        return self.canonical.solution

    @property
    def flag_holder(self) -> str:
        """The language of the service that holds the flag: node's when there is one."""
        return "javascript" if self.template.node else "python"
