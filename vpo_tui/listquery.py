"""What the jobs list asks the daemon for: filters, search, sort and page.

Pure and immutable, so "did the query change while the request was out?" is an equality test,
and every poll re-sends the user's choices (they survive polls because they live here, not in
the table).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from vpo.jobs import SCAN, STATUSES
from vpo_tui.jobview import SORT_FIELDS, SORT_LABELS

PAGE_SIZE = 50  # the API's default page; 100 is its maximum
STATUS_CHOICES: tuple[str | None, ...] = (None, *STATUSES)
KNOWN_TYPES: tuple[str, ...] = (SCAN,)


def _next_choice(choices: tuple, current: object) -> object:
    try:
        return choices[(choices.index(current) + 1) % len(choices)]
    except ValueError:
        return choices[0]


@dataclass(frozen=True)
class ListQuery:
    status: str | None = None
    job_type: str | None = None
    search: str = ""
    sort: str = "created_at"
    order: str = "desc"
    page: int = 0

    def api_params(self) -> dict[str, Any]:
        """The fields of `vpo.client.JobListParams` for this query (a plain dict keeps this
        module free of the HTTP client)."""
        return {
            "status": self.status,
            "job_type": self.job_type,
            "search": self.search or None,
            "sort": self.sort,
            "order": self.order,
            "limit": PAGE_SIZE,
            "offset": self.page * PAGE_SIZE,
        }

    def next_status(self) -> ListQuery:
        return replace(self, status=_next_choice(STATUS_CHOICES, self.status), page=0)

    def next_type(self, seen_types: Iterable[str]) -> ListQuery:
        """Cycle all → known types → types seen in answers (a newer daemon's types too)."""
        types = list(KNOWN_TYPES)
        types += sorted(t for t in set(seen_types) if t and t not in types)
        choices = (None, *types)
        return replace(self, job_type=_next_choice(choices, self.job_type), page=0)

    def with_search(self, text: str) -> ListQuery:
        return replace(self, search=text.strip(), page=0)

    def next_sort(self) -> ListQuery:
        return replace(self, sort=_next_choice(SORT_FIELDS, self.sort), page=0)

    def toggle_order(self) -> ListQuery:
        return replace(self, order="asc" if self.order == "desc" else "desc", page=0)

    def sorted_by(self, sort_field: str) -> ListQuery:
        """A header click: the same column flips the order, another column sorts descending."""
        if sort_field == self.sort:
            return self.toggle_order()
        return replace(self, sort=sort_field, order="desc", page=0)

    def with_page(self, page: int, total: int) -> ListQuery:
        return replace(self, page=min(max(page, 0), last_page(total)))

    def describe(self, total: int | None, shown: int) -> str:
        """The filter bar: every choice in words, so the user knows why rows are (not) there."""
        arrow = "↓" if self.order == "desc" else "↑"
        parts = [
            f"status: {self.status or 'all'}",
            f"type: {self.job_type or 'all'}",
            f"search: {self.search or '-'}",
            f"sort: {SORT_LABELS.get(self.sort, self.sort).lower()} {arrow}",
        ]
        if total is not None:
            if shown:
                first = self.page * PAGE_SIZE + 1
                parts.append(f"{first}-{first + shown - 1} of {total}")
            else:
                parts.append(f"0 of {total}")
        return "  ".join(parts)


def last_page(total: int) -> int:
    return max(0, (max(total, 0) - 1) // PAGE_SIZE)
