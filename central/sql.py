"""Central's SQL in one spelling for both databases: ``?`` and ``:name`` placeholders.

Central's queries are written the way SQLite takes them (``?`` positional, ``:name``
named). psycopg takes ``%s`` and ``%(name)s`` and reads every other ``%`` as the start of
a placeholder, so :func:`to_pyformat` rewrites a query once (cached) for PostgreSQL:
placeholders outside string literals, quoted identifiers and comments are translated,
and literal ``%`` signs are doubled. ``::`` casts are left alone.
"""

from __future__ import annotations

from functools import lru_cache

_IDENT_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT = _IDENT_START | set("0123456789")


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` → ``%s``, ``:name`` → ``%(name)s``, ``%`` → ``%%``, outside quotes."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in ("'", '"'):  # a string literal or a quoted identifier, copied as is
            end = sql.find(c, i + 1)
            while end != -1 and sql[end + 1:end + 2] == c:  # '' or "" inside
                end = sql.find(c, end + 2)
            end = n - 1 if end == -1 else end
            out.append(sql[i:end + 1].replace("%", "%%"))
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        elif c == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif c == ":" and i + 1 < n and sql[i + 1] in _IDENT_START:
            j = i + 1
            while j < n and sql[j] in _IDENT:
                j += 1
            out.append(f"%({sql[i + 1:j]})s")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)
