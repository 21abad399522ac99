"""Fixtures shared by all test folders: a real PostgreSQL database for the ledger.

``postgres_url`` creates a fresh PostgreSQL database (``ledger_test_<random>``) once per test session and
drops it at the end. The server is the one CI starts, ``postgresql://postgres@127.0.0.1:5432/test``, or
the maintenance database named by ``SHUANGSHI_TEST_POSTGRES_URL``. An unreachable server fails the tests
that need it, with a message saying so: they are never skipped silently.
"""

import os
import secrets
from collections.abc import Iterator
from typing import Final

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

POSTGRES_URL_ENV: Final = "SHUANGSHI_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) as a libpq URI that ``psycopg.connect`` takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a database created for this test session (dropped afterwards)."""
    admin_url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    try:
        admin = psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        unreachable = str(error)
    else:
        unreachable = ""
    if unreachable:
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(admin_url)!r}: {unreachable}\n"
            f"Start PostgreSQL 15 there (CI does) or point {POSTGRES_URL_ENV} at a server where the user may "
            "CREATE DATABASE.",
            pytrace=False,
        )
    name = f"ledger_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield (
                make_url(admin_url)
                .set(drivername="postgresql+psycopg", database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
