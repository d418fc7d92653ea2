"""The capture-the-flag challenges, one module per category.

They are the suite's *intro* tier: hand-written, introductory exercises. The
real-vulnerability tier (released libraries with documented CVEs) is
``prereview.evals.realworld``."""

from prereview.evals.challenges import crypto, forensics, memory, privesc, reversing, web
from prereview.evals.challenges._base import Category, Challenge, Step, Tier

CHALLENGES: tuple[Challenge, ...] = (
    *web.CHALLENGES,
    *memory.CHALLENGES,
    *crypto.CHALLENGES,
    *forensics.CHALLENGES,
    *reversing.CHALLENGES,
    *privesc.CHALLENGES,
)
_BY_ID = {c.id: c for c in CHALLENGES}
SUITE_TIER = "intro"  # beside prereview.evals.realworld.tasks.TIER, "realworld"


def by_id(challenge_id: str) -> Challenge:
    """The challenge with this id (KeyError if there is none)."""
    return _BY_ID[challenge_id]


__all__ = ["CHALLENGES", "SUITE_TIER", "Category", "Challenge", "Step", "Tier", "by_id"]
