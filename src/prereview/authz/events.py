"""The explicit "access changed" signal: who may reach a submission's model has changed.

The use cases that change access (a release, a withdrawal, a grant or its revocation, a
nomination's decision, a window change, a gateway key, limit or upstream, a data key shredded
or rotated) call :func:`access_changed` inside their transaction. Subscribers (the gateway's
access cache) hear it only after that transaction commits, so a cache that re-reads on hearing
it cannot read the old rows; a rollback cancels it. No subscriber watches other capabilities'
tables: the capabilities that own the rows say when access changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_FLAG = "prereview.access_changed"
_subscribers: list[Callable[[], None]] = []
_lock = threading.Lock()


def access_changed(session: Session) -> None:
    """Announce, once the current transaction of ``session`` commits, that access changed."""
    _install()
    if session.get_transaction() is None:
        # Begin now (what the next statement would do anyway) so that a rollback, even one
        # before any statement ran, is seen and cancels the signal.
        session.begin()
    session.info[_FLAG] = True


def raised(session: Session) -> bool:
    """Whether the current transaction of ``session`` has announced an access change."""
    return bool(session.info.get(_FLAG))


def subscribe(listener: Callable[[], None]) -> None:
    """Call ``listener`` after every commit that changed access (idempotent)."""
    with _lock:
        if listener not in _subscribers:
            _subscribers.append(listener)


def unsubscribe(listener: Callable[[], None]) -> None:
    with _lock:
        if listener in _subscribers:
            _subscribers.remove(listener)


def _after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        for listener in tuple(_subscribers):
            listener()


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_FLAG, None)


def _install() -> None:
    # Session-wide hooks that deliver only what was raised explicitly; they inspect no rows.
    for name, hook in (("after_commit", _after_commit), ("after_soft_rollback", _after_rollback)):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)
