"""What central's code sees of a database connection, whichever database it is.

Both backends hand out a :class:`Connection`: ``execute(sql, params)`` with ``?`` (or
``:name``) placeholders, returning a cursor with ``fetchall()``, ``fetchone()``,
``description`` and ``rowcount``. ``dialect`` says which database it is, for the few
places that must differ (advisory locks, sequences).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | dict[str, Any]


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class Connection(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    def execute(self, sql: str, params: Params = ()) -> Cursor: ...
