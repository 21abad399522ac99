"""The engine clock: one object that the processor and the timer scheduler both read.

``SystemClock`` follows the wall clock. ``ControlledClock`` only moves when told (``pin``/``add``),
which is how tests and the REST clock API make timers due without waiting.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def datetime_to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class Clock:
    """Epoch milliseconds; listeners hear about every jump of a controlled clock."""

    controlled = False

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def now(self) -> datetime:
        return ms_to_datetime(self.now_ms())

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


class SystemClock(Clock):
    """The wall clock (the default)."""


class ControlledClock(Clock):
    """Starts pinned at the current time and moves only through ``pin``, ``add`` or ``reset``."""

    controlled = True

    def __init__(self, start_ms: int | None = None) -> None:
        super().__init__()
        self._pinned: int | None = start_ms if start_ms is not None else int(time.time() * 1000)

    def now_ms(self) -> int:
        if self._pinned is None:
            return int(time.time() * 1000)
        return self._pinned

    @property
    def pinned(self) -> bool:
        return self._pinned is not None

    def pin(self, epoch_ms: int) -> None:
        self._pinned = epoch_ms
        self._changed()

    def add(self, millis: int) -> None:
        self.pin(self.now_ms() + millis)

    def reset(self) -> None:
        """Back to the system time (unpinned), as Camunda's ``POST /v2/clock/reset`` does."""
        self._pinned = None
        self._changed()
