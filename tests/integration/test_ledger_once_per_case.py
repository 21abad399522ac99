"""``Ledger.record_event(once_per_case=True)`` on SQLite and PostgreSQL: one such event per case, even when
writers race, and a redelivered job is still idempotent."""

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import libpq_url
from tests.integration.test_ledger import in_threads, make_event
from workers.ledger import DuplicateEventError, Ledger, RecordedEvent, default_ledger_url


@pytest.fixture(params=["sqlite", "postgresql"])
def once_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger: a SQLite file, or the session's PostgreSQL database with a fresh schema."""
    if request.param == "sqlite":
        url = default_ledger_url(tmp_path / "data")
    else:
        url = request.getfixturevalue("postgres_url")
        with psycopg.connect(libpq_url(url), autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
    with Ledger(url) as ledger:
        ledger.migrate()
        yield ledger


def test_a_second_once_per_case_event_is_refused_and_nothing_written(once_ledger: Ledger) -> None:
    """The second `rated` of a case raises DuplicateEventError; other cases and other events are unaffected."""
    once_ledger.record_event(make_event("XJ-1", "registered"))
    first = once_ledger.record_event(
        make_event("XJ-1", "rated", payload={"score": 4}), 11, once_per_case=True
    )
    with pytest.raises(
        DuplicateEventError, match=rf"case XJ-1 already has a 'rated' event \(ledger row {first.id}\)"
    ):
        once_ledger.record_event(make_event("XJ-1", "rated", payload={"score": 1}), 12, once_per_case=True)
    again = once_ledger.record_event(
        make_event("XJ-1", "rated", payload={"score": 4}), 11, once_per_case=True
    )
    assert (again.id, again.duplicate) == (first.id, True)
    once_ledger.record_event(make_event("XJ-2", "rated", payload={"score": 1}), 13, once_per_case=True)
    once_ledger.record_event(make_event("XJ-1", "alert-red"), 14, once_per_case=True)
    report = once_ledger.verify()
    assert (report.ok, report.checked) == (True, 4)


def test_racing_once_per_case_writers_leave_one_event(once_ledger: Ledger) -> None:
    """Eight threads record `rated` for one case at once: exactly one is written, the chain stays intact."""
    once_ledger.record_event(make_event("XJ-1", "registered"))

    def rate(index: int) -> RecordedEvent | DuplicateEventError:
        try:
            return once_ledger.record_event(
                make_event("XJ-1", "rated", payload={"score": index % 5 + 1}), 100 + index, once_per_case=True
            )
        except DuplicateEventError as exc:
            return exc

    results = in_threads(8, rate)
    written = [r for r in results if isinstance(r, RecordedEvent)]
    assert len(written) == 1
    assert sum(isinstance(r, DuplicateEventError) for r in results) == 7
    view = once_ledger.case("XJ-1")
    assert view is not None
    assert [e.event for e in view.events] == ["registered", "rated"]
    assert once_ledger.verify().ok
