"""The ledger's database engine: a SQLite file by default, PostgreSQL by URL, set up for its locking."""

from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["READ_ONLY_OPTION", "SQLITE_BUSY_TIMEOUT_S", "create_ledger_engine", "default_ledger_url"]

#: Seconds a SQLite writer waits for the write lock (and a caller for a pooled connection) before giving up.
SQLITE_BUSY_TIMEOUT_S: Final = 30.0
#: Execution option that makes a SQLite transaction start with a plain (deferred) ``BEGIN``.
READ_ONLY_OPTION: Final = "ledger_read_only"


def default_ledger_url(data_dir: Path) -> str:
    """The default database: ``sqlite:///<data_dir>/ledger.sqlite3``."""
    return f"sqlite:///{data_dir / 'ledger.sqlite3'}"


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 module; _sqlite_on_begin emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # Writers take the database write lock up front (no lock upgrade deadlocks, a linear chain); readers
    # start a deferred transaction, which in WAL mode reads one consistent snapshot.
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_ledger_engine(url: str) -> Engine:
    """An engine for a SQLite file or a PostgreSQL database, set up for the ledger's locking.

    ``postgresql://`` URLs use psycopg 3. SQLite: the file's folder is created; WAL; busy timeout; writers
    ``BEGIN IMMEDIATE``. An in-memory SQLite database is refused (each pooled connection would get its own).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
            raise ValueError("the ledger needs a SQLite file, not an in-memory database")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
            pool_size=5,
            max_overflow=10,
            pool_timeout=SQLITE_BUSY_TIMEOUT_S,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=1800)
    raise ValueError(f"unsupported ledger database {parsed.drivername!r}: use sqlite:/// or postgresql://")
