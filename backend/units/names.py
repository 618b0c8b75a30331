"""Units named in the reader's language: a unit has its Chinese name and, mostly, an English one
(`name_en`); English pages, pushes and messages use the English one where there is one.

Pages get unit names from many queries, most of them as a bare `grid_name` string, so templates
translate through one filter (`{{ row.grid_name|unit_name }}`, or `{{ unit|unit_name }}` for a
Unit) backed by `UnitNames`, a per-process table of Chinese name → English name."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from backend.models import Unit

# A renamed unit shows its new English name on every process within this many seconds.
REFRESH_SECONDS = 60.0


def unit_label(name: str, name_en: str | None, locale: str) -> str:
    """The name to show a reader of `locale`: the English one in English, when the unit has it."""
    if locale == "en" and name_en:
        return name_en
    return name


class UnitNames:
    """Chinese name → English name for every unit that has one, read at most every
    REFRESH_SECONDS. A Chinese name two units share with different English names is left out
    (shown in Chinese): a wrong English name would be worse than the right Chinese one."""

    def __init__(
        self, open_session: Callable[[], Session], refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        self._open_session = open_session
        self._refresh_seconds = refresh_seconds
        self._english: dict[str, str] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def english(self, name: str) -> str:
        """`name`'s English name, or `name` itself when it has none."""
        return self._table().get(name, name)

    def forget(self) -> None:
        """Read the names again on the next use (a unit was just added or renamed here)."""
        with self._lock:
            self._read_at = None

    def _table(self) -> dict[str, str]:
        now = time.monotonic()
        with self._lock:
            if self._read_at is not None and now - self._read_at < self._refresh_seconds:
                return self._english
        with self._open_session() as session:
            rows = session.execute(
                select(col(Unit.name), col(Unit.name_en)).where(col(Unit.name_en) != "")
            ).all()
        english: dict[str, str] = {}
        shared: set[str] = set()
        for name, name_en in rows:
            if english.setdefault(name, name_en) != name_en:
                shared.add(name)
        for name in shared:
            del english[name]
        with self._lock:
            self._english, self._read_at = english, now
            return english

    def label(self, value: Any, locale: str) -> str:
        """What the `unit_name` filter shows: `value` is a unit's Chinese name, or a unit or row
        with a `name` (and maybe `name_en`)."""
        if value is None:
            return ""
        if hasattr(value, "name_en"):
            return unit_label(str(value.name), value.name_en, locale)
        name = str(getattr(value, "name", value))
        if locale != "en" or not name:
            return name
        return self.english(name)
