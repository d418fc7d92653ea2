"""Entry point for Inspect (``[project.entry-points.inspect_ai]``): registers the tasks,
the ``bwrap`` sandbox provider and the ``prereview-scripted`` / ``prereview-guesser`` /
``prereview-baseline`` model APIs."""

from prereview.evals.baselines import baseline_api
from prereview.evals.realworld.chains import realworld_chain
from prereview.evals.realworld.tasks import realworld_discovery, realworld_exploit, realworld_patch
from prereview.evals.sandbox import BwrapSandboxEnvironment
from prereview.evals.scripted import guesser_api, scripted_api
from prereview.evals.tasks import ctf, patch, vuln_discovery

__all__ = [
    "BwrapSandboxEnvironment",
    "baseline_api",
    "ctf",
    "guesser_api",
    "patch",
    "realworld_chain",
    "realworld_discovery",
    "realworld_exploit",
    "realworld_patch",
    "scripted_api",
    "vuln_discovery",
]
