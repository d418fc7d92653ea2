"""Handling markings shared by every capability: TLP 2.0 and confidentiality markings."""

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
