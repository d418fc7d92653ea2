"""What a chain case is: a victim that only a chain of real CVEs opens.

Each link is an existing case of ``prereview.evals.realworld.cases`` (its release pinned in
the task cache); the chain names them in the order the exploit uses them, with what each
gives the next. The victim is one service or two (a Python front and a node back end, on
ports 9000 and 9001); the flag is a global of the one that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from prereview.evals.challenges._base import Category

# Jinja2 2.10 and urllib3 1.22 import the ABCs from ``collections``, which Python 3.10
# removed: an application pinned to them on a newer Python puts them back first. (Kept
# here, not taken from the single cases, so the chains' victims never change with them.)
COLLECTIONS_SHIM = r"""
import collections, collections.abc
for _name in collections.abc.__all__:
    setattr(collections, _name, getattr(collections.abc, _name))
"""


@dataclass(frozen=True)
class Step:
    """One tool call of a reference solution."""

    tool: str  # "python" or "bash"
    code: str


@dataclass(frozen=True)
class Chain:
    """A victim service, the cases whose CVEs it chains, and the reference solution."""

    id: str
    title: str
    links: tuple[str, ...]  # case ids, in the order the exploit uses them
    roles: tuple[str, ...]  # what each link gives the next, one per link
    category: Category
    prompt: str
    solution: tuple[Step, ...]  # the last step's output holds the flag
    python: str = ""  # the Python service (route() or serve()), on port 9000
    node: str = ""  # the node service (it serves itself), on port 9001 beside a Python one
    preamble: str = ""  # run before the Python service imports its libraries
    # whether a public proof of concept of the whole chain exists (each link has one)
    public_exploit: bool = False
    public_exploit_links: bool = True

    @property
    def flag_holder(self) -> str:
        """The language of the service that holds the flag: node's when there is one."""
        return "javascript" if self.node else "python"
