"""Settings refuse values outside what the policy allows (:mod:`prereview.core.settings`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from prereview.core.settings import Settings


def test_window_maximum_is_bounded_by_policy() -> None:
    for days in (13, 91):
        with pytest.raises(ValidationError):
            Settings(max_window_days=days)
    assert Settings(max_window_days=14).max_window_days == 14
    assert Settings(max_window_days=90).max_window_days == 90
