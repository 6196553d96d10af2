"""Row diffing for the jobs table: from the rows shown and the rows wanted, the fewest changes.

Pure: rows are (key, cells) with `cells` a tuple of display values compared by equality, so this
module knows nothing about Textual. The widget (`vpo_tui.widgets.job_table`) applies a `RowPatch`
with `update_cell` only for cells that really changed (an unchanged write still repaints), which is
what keeps a poll from flickering the table or moving the user's cursor.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

Row = tuple[Hashable, tuple]

# Removing one row from Textual's DataTable re-indexes every row after it (O(n)); past this many
# removals, clearing and re-adding the rows (O(n) once) is cheaper. The ratio keeps small tables
# on the incremental path where a rebuild would gain nothing.
REBUILD_MIN_REMOVALS = 16
REBUILD_REMOVED_FRACTION = 0.25


@dataclass(frozen=True)
class CellUpdate:
    key: Hashable
    column: int
    value: object


@dataclass(frozen=True)
class RowInsert:
    """Insert `key` so that it ends up at `index` in the final order."""

    index: int
    key: Hashable
    cells: tuple


@dataclass
class RowPatch:
    """What to do to the table. Apply in this order: removals, updates, inserts, then `order`.

    `order` is the complete final key order, given only when appending the inserts would not
    already produce it (an insert in the middle, or a job that moved because its sort key changed).
    `rebuild` (the full rows) replaces everything else when many rows vanished at once.
    """

    removals: list[Hashable] = field(default_factory=list)
    updates: list[CellUpdate] = field(default_factory=list)
    inserts: list[RowInsert] = field(default_factory=list)
    order: list[Hashable] | None = None
    rebuild: list[Row] | None = None

    @property
    def is_empty(self) -> bool:
        return (
            not self.removals
            and not self.updates
            and not self.inserts
            and self.order is None
            and self.rebuild is None
        )


def should_rebuild(removed: int, current_count: int) -> bool:
    """Whether removing `removed` rows one by one costs more than rebuilding the table."""
    return removed >= REBUILD_MIN_REMOVALS and removed >= current_count * REBUILD_REMOVED_FRACTION


def diff_rows(current: Sequence[Row], new: Sequence[Row]) -> RowPatch:
    """The minimal patch turning `current` into `new` (keys unique in each)."""
    # Runs on every poll over every row (1,000 on a page), so the common case (few cells
    # changed, nothing added or removed) is kept to C-level loops: dicts, a list comparison.
    new_keys = [key for key, _ in new]
    new_key_set = set(new_keys)
    if len(new_key_set) != len(new_keys):
        raise ValueError("duplicate row keys in the new rows")
    current_keys = [key for key, _ in current]
    current_cells = dict(current)

    removals = [key for key in current_keys if key not in new_key_set]
    if removals and should_rebuild(len(removals), len(current)):
        return RowPatch(rebuild=list(new))

    patch = RowPatch(removals=removals)
    updates = patch.updates
    for index, (key, cells) in enumerate(new):
        old_cells = current_cells.get(key)
        if old_cells is None:
            patch.inserts.append(RowInsert(index=index, key=key, cells=tuple(cells)))
            continue
        if old_cells == cells:
            continue  # most rows of a poll: one comparison, not one per cell
        if len(old_cells) != len(cells):
            raise ValueError(f"row {key!r} changed its number of cells")
        for column, (old, value) in enumerate(zip(old_cells, cells, strict=True)):
            if old != value:
                updates.append(CellUpdate(key=key, column=column, value=value))

    # After removals, survivors keep their relative order and inserts are appended; only when that
    # differs from the wanted order does the widget need to reorder (one pass, not per row).
    if removals or patch.inserts:
        kept = [key for key in current_keys if key in new_key_set]
        appended = kept + [insert.key for insert in patch.inserts]
    else:
        appended = current_keys
    if appended != new_keys:
        patch.order = new_keys
    return patch


def apply_patch(current: Sequence[Row], patch: RowPatch) -> list[Row]:
    """Apply a patch to plain rows: the semantics the widget must match (tests use it)."""
    if patch.rebuild is not None:
        return list(patch.rebuild)
    removed = set(patch.removals)
    rows: dict[Hashable, list] = {key: list(cells) for key, cells in current if key not in removed}
    order = [key for key, _ in current if key not in removed]
    for update in patch.updates:
        rows[update.key][update.column] = update.value
    for insert in patch.inserts:
        rows[insert.key] = list(insert.cells)
        order.append(insert.key)
    if patch.order is not None:
        order = list(patch.order)
    return [(key, tuple(rows[key])) for key in order]
