"""Fixtures of the attestation tests: a submission through a whole review."""

from __future__ import annotations

import pytest

from prereview.core.clock import FixedClock
from support.factories import Platform
from support.factories.attestation import Reviewed, review_through


@pytest.fixture
def reviewed(platform: Platform, clock: FixedClock) -> Reviewed:
    return review_through(platform, clock)
