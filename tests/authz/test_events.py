"""The "access changed" signal: heard after the commit, never after a rollback, and a use case
that forgets it is caught by the oracle every test runs under."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from prereview.authz import events
from prereview.core.context import AppContext
from prereview.review.models import Grant
from support import access_oracle
from support.factories import Platform


def test_the_signal_is_heard_after_the_commit_and_not_after_a_rollback(
    context: AppContext,
) -> None:
    heard: list[bool] = []

    def listener() -> None:
        heard.append(True)

    events.subscribe(listener)
    try:
        with Session(context.engine) as db:
            events.access_changed(db)
            assert events.raised(db) and heard == []
            db.rollback()
            assert not events.raised(db)
            db.commit()
            assert heard == []
            events.access_changed(db)
            db.commit()
            assert heard == [True]
            db.commit()
            assert heard == [True]
    finally:
        events.unsubscribe(listener)


def test_an_access_write_without_the_signal_is_caught(
    platform: Platform, context: AppContext
) -> None:
    submission = platform.submit()
    grant = platform.grant(submission["id"])
    with Session(context.engine) as db:
        row = db.get(Grant, grant["id"])
        assert row is not None
        row.revoked_at = row.granted_at + timedelta(days=1)
        db.commit()
    assert len(access_oracle.violations) == 1
    assert "without access_changed" in access_oracle.violations[0]
    access_oracle.violations.clear()  # caught: the test's own fixture must not fail on it
