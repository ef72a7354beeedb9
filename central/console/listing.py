"""A job's candidate list as asked for in the URL: filters (state, site, a date range) and
the sort column and direction. The CSV export and the JSON API take the same parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from central.console.layout import query
from central.console.queries import Candidate

SORTABLE = ("name", "candidate_id", "state", "site", "date", "overall")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def sort_key(column: str) -> Any:
    def key(c: Candidate) -> tuple[int, Any]:
        value = c.scores.get(column[5:]) if column.startswith("comp:") \
            else getattr(c, column, None)
        return (1, "") if value is None else (0, value)
    return key


@dataclass(frozen=True)
class Listing:
    state: str | None = None
    site: str | None = None
    since: str | None = None  # a day, YYYY-MM-DD, inclusive
    until: str | None = None
    sort: str = "date"
    direction: str = "asc"

    @classmethod
    def parse(cls, q: Mapping[str, str]) -> Listing:
        sort = q.get("sort") or "date"
        if sort not in SORTABLE and not sort.startswith("comp:"):
            sort = "date"
        since, until = (q.get(k) or None for k in ("since", "until"))
        return cls(q.get("state") or None, q.get("site") or None,
                   since if since and _DAY.match(since) else None,
                   until if until and _DAY.match(until) else None,
                   sort, "desc" if q.get("dir") == "desc" else "asc")

    def keeps(self, c: Candidate) -> bool:
        day = (c.date or "")[:10]
        return ((self.state is None or c.state == self.state)
                and (self.site is None or c.site == self.site)
                and (self.since is None or (bool(day) and day >= self.since))
                and (self.until is None or (bool(day) and day <= self.until)))

    def apply(self, every: list[Candidate]) -> list[Candidate]:
        """The candidates kept, in order; those without a value in the sort column last."""
        shown = sorted((c for c in every if self.keeps(c)), key=sort_key(self.sort),
                       reverse=self.direction == "desc")
        return sorted(shown, key=lambda c: sort_key(self.sort)(c)[0])

    def href(self, sort: str | None = None, direction: str | None = None) -> str:
        """This listing's query string, sorted by ``sort`` in ``direction`` if given."""
        chosen = replace(self, sort=sort or self.sort, direction=direction or self.direction)
        return query(state=chosen.state, site=chosen.site, since=chosen.since,
                     until=chosen.until, sort=chosen.sort, dir=chosen.direction)
