"""The oracle for the explicit "access changed" signal, installed around every test.

The gateway's access cache no longer watches other capabilities' tables: it trusts the use
cases that change access to say so (:mod:`prereview.authz.events`). This oracle watches those
tables the old way, for the tests only, and records every commit that wrote one of them
without raising the signal, so that a use case forgetting it fails the suite, whichever test
happens to exercise it.
"""

from __future__ import annotations

import itertools
import traceback
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from prereview.authz import events
from prereview.gateway.models import GatewayKey, GatewayLimit, GatewayUpstream
from prereview.review.models import Grant, Nomination, Submission
from prereview.vault.models import DataKeyRecord

WATCHED = (Submission, Grant, Nomination, GatewayKey, GatewayLimit, GatewayUpstream, DataKeyRecord)
_WROTE = "tests.access_oracle.wrote"

violations: list[str] = []


def _pending(session: Session) -> bool:
    return any(
        isinstance(obj, WATCHED)
        for obj in itertools.chain(session.new, session.dirty, session.deleted)
        if not (obj in session.dirty and not session.is_modified(obj))
    )


def _after_flush(session: Session, _context: Any) -> None:
    if _pending(session):
        session.info[_WROTE] = True


def _orm_execute(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ in WATCHED:
        state.session.info[_WROTE] = True


def _before_commit(session: Session) -> None:
    wrote = session.info.pop(_WROTE, False) or _pending(session)
    if wrote and not events.raised(session):
        stack = "".join(traceback.format_stack(limit=12)[:-2])
        violations.append(f"a commit wrote an access table without access_changed:\n{stack}")


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_WROTE, None)


HOOKS = (
    ("after_flush", _after_flush),
    ("do_orm_execute", _orm_execute),
    ("before_commit", _before_commit),
    ("after_soft_rollback", _after_rollback),
)


def install() -> None:
    for name, hook in HOOKS:
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)
