"""A small fixed ledger for the report tests: 15 cases of 西集镇 and 桑村镇 around the 2025 National Day holiday.

Calendar (chinese_calendar): Sat 2025-09-27 off, Sun 09-28 a make-up working day, 10-01 … 10-08 off,
Sat 10-11 a make-up working day, 10-12 off. Counters close at 17:30. All times are China time.

Item A = 3700000117086 (3 working days), item B = 3700002036017 (即办). The report tests compute their
expected figures by hand from the comments below, never with the code under test.
"""

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import JsonValue

from workers.catalog.loader import load_catalog
from workers.ledger import CHINA_TZ, CaseEvent, Counter, Ledger

ITEM_A = "3700000117086"
ITEM_B = "3700002036017"
#: The period of the report tests and the moment it is made.
SINCE = date(2025, 9, 22)
UNTIL = date(2025, 10, 19)
NOW = datetime(2025, 10, 20, 10, 0, tzinfo=CHINA_TZ)


def cn(text: str) -> datetime:
    """``"09-22 10:00"`` → that moment of 2025 in China time."""
    return datetime.fromisoformat(f"2025-{text.replace(' ', 'T')}:00+08:00")


@dataclass(frozen=True)
class FixtureCase:
    number: str
    town: str
    item: str
    counter: Counter
    registered: str
    due: str
    #: (event name, time, payload) recorded after registered and sla.scheduled.
    later: tuple[tuple[str, str, dict[str, JsonValue]], ...] = ()


CASES: tuple[FixtureCase, ...] = (
    # 西集镇 × A
    # accepted Mon 09-22, decided Wed 09-24: 2 working days (23, 24); due 09-25: on time.
    FixtureCase(
        "XJ-20250922-0001", "xiji", ITEM_A, "town", "09-22 10:00", "09-25 17:30",
        (("accepted", "09-22 10:05", {}), ("decided", "09-24 15:00", {"outcome": "approved"})),
    ),
    # district counter, accepted Fri 09-26 16:00, decided Mon 10-13: 7 (28, 29, 30, 10-09, 10, 11, 13);
    # due 09-30: overdue.
    FixtureCase(
        "SP-20250926-0001", "xiji", ITEM_A, "district", "09-26 16:00", "09-30 17:30",
        (("decided", "10-13 10:00", {"outcome": "approved"}),),
    ),
    # registered Sat 09-27 (counts as Sun 09-28, a working day); 补正; rejected Fri 10-10: 4 (29, 30, 10-09,
    # 10-10); due moved to 10-14 on resume: on time.
    FixtureCase(
        "XJ-20250927-0001", "xiji", ITEM_A, "town", "09-27 11:00", "09-30 17:30",
        (
            ("sla.paused", "09-29 10:00", {}),
            ("materials-requested", "09-29 10:00", {"missing": ["location_plan"]}),
            ("sla.scheduled", "10-09 09:00", {"dueAt": "2025-10-14T17:30:00+08:00"}),
            ("supplemented", "10-09 09:00", {}),
            ("decided", "10-10 16:00", {"outcome": "rejected"}),
        ),
    ),
    # registered Tue 09-30 18:00, after closing: counts as Thu 10-09; decided 10-09 11:00: 0; on time.
    FixtureCase(
        "XJ-20250930-0001", "xiji", ITEM_A, "town", "09-30 18:00", "10-13 17:30",
        (("decided", "10-09 11:00", {"outcome": "approved"}),),
    ),
    # open, due Thu 10-16: overdue at NOW by 2 working days (Fri 10-17, Mon 10-20).
    FixtureCase("XJ-20251013-0001", "xiji", ITEM_A, "town", "10-13 09:00", "10-16 17:30"),
    # registered after the period (10-20), open, not yet due.
    FixtureCase("XJ-20251020-0001", "xiji", ITEM_A, "town", "10-20 09:30", "10-23 17:30"),
    # 西集镇 × B (即办)
    # same day: 0; on time.
    FixtureCase(
        "XJ-20250922-0002", "xiji", ITEM_B, "town", "09-22 09:30", "09-22 17:30",
        (("decided", "09-22 10:00", {"outcome": "approved"}),),
    ),
    # district counter; 补正 requested, the deadline passed: 不予受理 on 10-10.
    FixtureCase(
        "YB-20250925-0001", "xiji", ITEM_B, "district", "09-25 09:00", "09-25 17:30",
        (
            ("sla.paused", "09-25 09:05", {}),
            ("materials-requested", "09-25 09:05", {"missing": ["identity_document"]}),
            ("not-accepted", "10-10 17:30", {"reason": "supplement-deadline-passed"}),
        ),
    ),
    # registered Wed 09-24 17:40, after closing: counts as Thu 09-25; decided 09-25 09:10: 0; on time.
    FixtureCase(
        "XJ-20250924-0001", "xiji", ITEM_B, "town", "09-24 17:40", "09-25 17:30",
        (("decided", "09-25 09:10", {"outcome": "approved"}),),
    ),
    # 桑村镇 × A
    # accepted Mon 09-29, decided Fri 10-10 17:45 (after closing: counts as Sat 10-11): 4 (30, 10-09, 10,
    # 11); due 10-10 17:30: overdue.
    FixtureCase(
        "SC-20250929-0001", "sangcun", ITEM_A, "town", "09-29 09:00", "10-10 17:30",
        (("decided", "10-10 17:45", {"outcome": "approved"}),),
    ),
    # district counter, accepted Thu 10-09, rejected Mon 10-13: 3 (10, 11, 13); on time.
    FixtureCase(
        "SP-20251009-0001", "sangcun", ITEM_A, "district", "10-09 14:00", "10-13 17:30",
        (("decided", "10-13 09:00", {"outcome": "rejected"}),),
    ),
    # open, due 10-22: not overdue at NOW.
    FixtureCase("SC-20251017-0001", "sangcun", ITEM_A, "town", "10-17 10:00", "10-22 17:30"),
    # 桑村镇 × B
    # registered Fri 09-19, before the period, with 补正; decided Mon 09-22, in the period: 1 (22); on time.
    FixtureCase(
        "SC-20250919-0001", "sangcun", ITEM_B, "town", "09-19 09:00", "09-22 17:30",
        (
            ("materials-requested", "09-19 09:10", {"missing": ["identity_document"]}),
            ("decided", "09-22 10:00", {"outcome": "approved"}),
        ),
    ),
    # same day: 0; on time.
    FixtureCase(
        "SC-20250923-0001", "sangcun", ITEM_B, "town", "09-23 09:00", "09-23 17:30",
        (("decided", "09-23 09:20", {"outcome": "approved"}),),
    ),
    # district counter, registered Mon 09-15 before the period, still open: due 09-15, overdue at NOW by 21
    # working days (09-16 … 09-19: 4, 09-22 … 09-26: 5, 09-28 … 09-30: 3, 10-09 … 10-11: 3,
    # 10-13 … 10-17: 5, 10-20: 1).
    FixtureCase("YB-20250915-0001", "sangcun", ITEM_B, "district", "09-15 09:00", "09-15 17:30"),
)  # fmt: skip


def build_fixture_ledger(ledger: Ledger) -> None:
    """Record every case's events with the real :meth:`Ledger.record_event`, in time order."""
    catalog = load_catalog()
    events: list[tuple[datetime, int, CaseEvent]] = []
    for case in CASES:
        item = catalog.item(case.item)
        steps: list[tuple[str, str, dict[str, JsonValue]]] = [
            ("registered", case.registered, {}),
            ("sla.scheduled", case.registered, {"dueAt": cn(case.due).isoformat()}),
            *case.later,
        ]
        for name, when, payload in steps:
            event = CaseEvent(
                case_number=case.number,
                item_code=case.item,
                town_code=case.town,
                department_code=item.department_code,
                mode=item.mode,
                counter=case.counter,
                event=name,
                actor="test",
                occurred_at=cn(when),
                payload=payload,
            )
            events.append((event.occurred_at, len(events), event))
    for _, _, event in sorted(events, key=lambda entry: (entry[0], entry[1])):
        ledger.record_event(event)
