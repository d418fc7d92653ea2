"""Alembic, driven from code: upgrade a database, and refuse to run on one that is behind."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from prereview.core.db import make_engine
from prereview.core.errors import ServiceUnavailable


class DatabaseNotMigrated(ServiceUnavailable):
    slug = "database-not-migrated"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "prereview:migrations")
    # ConfigParser interpolates '%': URLs with escaped characters must survive it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def check_migrated(engine: Engine) -> None:
    """Raise :class:`DatabaseNotMigrated`, naming the fix, unless the schema is at head."""
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    head = head_revision(url)
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseNotMigrated(
            f"the database {where} is at revision {current or 'none'}, the code needs {head}: "
            "run `prereview db upgrade` (with the same PREREVIEW_DATABASE_URL) and start again"
        )
