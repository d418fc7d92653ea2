"""What a running platform holds: settings, the database, the clock. Built once, passed down."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from prereview.core.clock import Clock, SystemClock
from prereview.core.db import make_engine, session_factory
from prereview.core.settings import Settings


@dataclass
class AppContext:
    """The running platform, built once by the app factory (or a command) and held on
    ``app.state.context``; requests read it through :func:`get_context`."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def create(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        engine = make_engine(settings.database_url)
        return cls(settings, engine, session_factory(engine), clock or SystemClock())


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def get_db(request: Request) -> Iterator[Session]:
    """A session per request. Services commit their own unit of work; anything left is undone."""
    session = get_context(request).sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
