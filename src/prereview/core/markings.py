"""Handling markings shared by every capability: TLP 2.0 and confidentiality markings.

TLP 2.0 (FIRST) is written two ways in the documents we exchange, and both live here so that
no code compares label strings of its own: as a handling marking, ``TLP:AMBER``
(:class:`TLP`, on developers' materials and findings), and bare, ``AMBER`` (:class:`Tlp`, as
CSAF, OSV's ``database_specific`` and STIX's TLP 2.0 marking names write it, and as the
clearinghouse stores and the policy reads it). :attr:`Tlp.marking` and :meth:`Tlp.of_marking`
go between the two.
"""

from __future__ import annotations

from enum import StrEnum


class TLP(StrEnum):
    """Traffic Light Protocol 2.0 (FIRST), the labels as written in the standard."""

    CLEAR = "TLP:CLEAR"
    GREEN = "TLP:GREEN"
    AMBER = "TLP:AMBER"
    AMBER_STRICT = "TLP:AMBER+STRICT"
    RED = "TLP:RED"

    @property
    def shareable_with_partners(self) -> bool:
        """Whether a developer's material so labelled may reach its consented partners.

        AMBER allows sharing with the recipient's clients and partners on a need-to-know basis;
        AMBER+STRICT keeps it inside the recipient organisation and RED with the named
        recipients only (the granted agencies)."""
        return self in (TLP.CLEAR, TLP.GREEN, TLP.AMBER)


class Marking(StrEnum):
    """Confidentiality markings a developer puts on its materials."""

    PROPRIETARY = "PROPRIETARY"
    CUI = "CUI"
    EXPORT_CONTROLLED = "EXPORT-CONTROLLED"
    TRADE_SECRET = "TRADE-SECRET"  # noqa: S105 - a marking, not a secret


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 labels (FIRST), from least to most restricted."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @property
    def rank(self) -> int:
        """Its place from the loosest (0, CLEAR) to the strictest (4, RED)."""
        return list(Tlp).index(self)

    @property
    def confidential(self) -> bool:
        """AMBER and stricter: not for the whole community, so every read of it is audited."""
        return self.rank >= Tlp.AMBER.rank

    @property
    def marking(self) -> TLP:
        """The same label as a handling marking (``TLP:AMBER``)."""
        return TLP(f"TLP:{self.value}")

    @classmethod
    def of_marking(cls, marking: TLP) -> Tlp:
        """The label of a handling marking (``TLP:AMBER`` is ``AMBER``)."""
        return cls(marking.value.removeprefix("TLP:"))


def loosens(new: str, current: str) -> bool:
    """Whether relabelling from ``current`` to ``new`` shares more widely."""
    return Tlp(new).rank < Tlp(current).rank


CONFIDENTIAL: tuple[Tlp, ...] = tuple(label for label in Tlp if label.confidential)
"""The labels whose material is read only by those it names: AMBER, AMBER+STRICT and RED."""
