"""Alembic migrations of the ledger schema, run from code: there is no ``alembic.ini``.

:func:`migrate` (or :meth:`workers.ledger.Ledger.migrate`) upgrades a database to the newest revision. The
alembic configuration is built in code with ``script_location`` pointing at this folder; ``env.py`` runs on
the connection handed over in ``config.attributes``. The version is kept in ``ledger_alembic_version``, so
the ledger can share a PostgreSQL database with other schemas that use alembic.

To add a revision, ``alembic.command.revision(alembic_config(), message=..., rev_id="0002")`` writes a
file from ``script.py.mako`` into ``versions/``; fill in its ``upgrade`` and ``downgrade``.
"""

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from workers.ledger.database import create_ledger_engine

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "alembic_config", "migrate", "upgrade"]

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent
VERSION_TABLE: Final = "ledger_alembic_version"
#: Key of the PostgreSQL advisory lock that serializes concurrent upgrades (e.g. several workers starting).
_LOCK_KEY: Final = 0x5353_4C44  # "SSLD"


def alembic_config() -> Config:
    """The alembic configuration of the ledger, built in code."""
    config = Config()
    # Config values go through configparser interpolation: a literal % must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def migrate(url: str) -> None:
    """Upgrade the ledger database at ``url`` to the newest revision."""
    engine = create_ledger_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
