"""The jobs DataTable, updated in place from row patches.

Rows are keyed by job id. A poll is applied as the minimal patch from `vpo_tui.rowdiff`:
`update_cell` only for values that changed (repainting only their rows), new rows added and
moved into their sorted place in one reorder, vanished rows removed (or, when many vanished,
one clear-and-refill). The cursor stays on the same job (not the same row index) and the scroll
offset is kept, so a poll never yanks the view away from what the user is reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from vpo_tui.jobview import COLUMNS, FIXED_WIDTHS, MIN_TARGET_WIDTH, Column, status_style
from vpo_tui.rowdiff import CellUpdate, Row, RowPatch, diff_rows


class JobIdText(Text):
    """The id cell; it carries the full job id so the table can be reordered by job."""

    def __init__(self, short: str, job_id: str) -> None:
        super().__init__(short, end="", no_wrap=True)
        self.job_id = job_id


def render_cell(job_id: str, column: int, value: str, columns: Sequence[Column] = COLUMNS) -> Text:
    """A cell as plain `Text` (never markup), styled only by its status word."""
    key = columns[column].key
    if key == "id":
        return JobIdText(value, job_id)
    if key == "status":
        word = value.split(" ", 1)[-1]
        return Text(value, style=status_style(word), end="", no_wrap=True)
    return Text(value, end="", no_wrap=True)


# DataTable internals behind `JobTable._update_cells` (Textual pinned in uv.lock): its cell data
# and the render caches keyed by row and column key. tests/tui/test_job_table.py
# (test_the_datatable_internals_the_cell_write_relies_on) fails loudly if Textual changes them;
# without them the table falls back to the public `update_cell`.
CELL_WRITE_INTERNALS = (
    "_data",
    "_cell_render_cache",
    "_row_render_cache",
    "_row_renderable_cache",
    "_line_cache",
)


def _has_cell_write_internals(table: DataTable) -> bool:
    return all(hasattr(table, name) for name in CELL_WRITE_INTERNALS)


class JobTable(DataTable):
    """DataTable of jobs with `apply_rows`; counts rebuilds so tests can prove there were none."""

    # DataTable binds Home/End to the leftmost/rightmost column, which a row cursor ignores: in
    # a list of jobs they mean the first and the last job. Enter is shown in the footer.
    BINDINGS = [
        Binding("enter", "select_cursor", "Open", key_display="⏎"),
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]

    # While cells are updated: the whole-table repaint `update_cell` asks for is held back and
    # counted, and only the rows that changed are repainted (see _update_cells). Class-level
    # defaults: DataTable's own __init__ already refreshes.
    _holding_full_refresh = False
    full_refreshes_held = 0

    def __init__(
        self,
        *,
        id: str | None = None,
        columns: Sequence[Column] = COLUMNS,
        widths: dict[str, int] | None = None,
    ) -> None:
        """`columns` and `widths`: the jobs of several daemons add a Daemon column."""
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.column_spec = tuple(columns)
        self.fixed_widths = {**FIXED_WIDTHS, **(widths or {})}
        self.shown_rows: list[Row] = []
        self.rebuild_count = 0
        self.patches_applied = 0

    def refresh(self, *regions: Region, **kwargs: Any) -> Self:
        if self._holding_full_refresh and not regions and not kwargs:
            self.full_refreshes_held += 1
            return self
        return super().refresh(*regions, **kwargs)

    def on_mount(self) -> None:
        for column in self.column_spec:
            width = self.fixed_widths.get(column.key, MIN_TARGET_WIDTH)
            self.add_column(Text(column.label), key=column.key, width=width)

    # -- reading -----------------------------------------------------------------------------

    @property
    def cursor_job_id(self) -> str | None:
        """The job under the cursor (None for an empty table)."""
        if not self.shown_rows or not self.is_valid_row_index(self.cursor_row):
            return None
        row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return row_key.value

    @property
    def job_ids(self) -> list[str]:
        return [key for key, _ in self.shown_rows]

    # -- writing -----------------------------------------------------------------------------

    def set_target_width(self, width: int) -> None:
        column = self.columns.get(self._column_key("target"))
        if column is not None and column.width != width:
            column.width = width
            self._remeasure()
            self.refresh(layout=True)

    def _remeasure(self) -> None:
        # The app's one use of DataTable internals. Textual 8 has no public call for "a
        # column's fixed width changed": without this flag the scrollable width stays at the old
        # width until a row is added. tests/tui/test_job_table.py
        # (test_target_width_change_resizes_the_scrollable_width) fails if Textual drops it.
        self._require_update_dimensions = True

    def set_column_label(self, key: str, label: str) -> None:
        column = self.columns.get(self._column_key(key))
        if column is not None and column.label.plain != label:
            column.label = Text(label)
            self.refresh()

    @staticmethod
    def _column_key(key: str) -> ColumnKey:
        return ColumnKey(key)

    def apply_rows(self, new_rows: Sequence[Row]) -> RowPatch:
        """Bring the table to `new_rows` with the fewest changes; returns the patch applied."""
        patch = diff_rows(self.shown_rows, new_rows)
        if patch.is_empty:
            return patch
        if patch.rebuild is None and not (patch.removals or patch.inserts or patch.order):
            # Only values changed (most polls): cells are written in place, no row moves, so
            # the cursor and the scroll offset stay where they are without being restored.
            self._update_cells(patch.updates)
            self.shown_rows = [(key, tuple(cells)) for key, cells in new_rows]
            self.patches_applied += 1
            return patch
        cursor_job = self.cursor_job_id
        cursor_index = self.cursor_row
        scroll_y = self.scroll_y

        if patch.rebuild is not None:
            self._rebuild(patch.rebuild)
        else:
            self._apply_incremental(patch)
        self.shown_rows = [(key, tuple(cells)) for key, cells in new_rows]
        self.patches_applied += 1
        self._restore_view(cursor_job, cursor_index, scroll_y)
        return patch

    def _rebuild(self, rows: Sequence[Row]) -> None:
        # One clear-and-refill instead of many O(n) removals; the view is restored afterwards.
        self.rebuild_count += 1
        self.clear()
        for key, cells in rows:
            self.add_row(*self._render_row(key, cells), key=key)

    def _apply_incremental(self, patch: RowPatch) -> None:
        for key in patch.removals:
            self.remove_row(key)
        self._update_cells(patch.updates)
        for insert in patch.inserts:
            self.add_row(*self._render_row(insert.key, insert.cells), key=insert.key)
        if patch.order is not None:
            position = {key: index for index, key in enumerate(patch.order)}
            self.sort("id", key=lambda cell: position[cell.job_id])

    def _update_cells(self, updates: Sequence[CellUpdate]) -> None:
        """Write changed cells and repaint only their rows, re-rendering only the changed cells.

        `update_cell` bumps DataTable's update counter, which is part of the key of every render
        cache: each poll then re-rendered every cell of the changed rows (5 of 7 unchanged) and
        recomputed the row order and line offsets of all 1,000 rows. The cells are written into
        the table's data instead and only the cached renders of the changed cells are dropped
        (`_forget_rendered_cells`), so unchanged cells come from the cache. A value never changes
        a row's height or a fixed column's width, so nothing else on screen moves and only the
        changed rows' regions are refreshed.
        """
        if not updates:
            return
        changed: dict[RowKey, set[ColumnKey]] = {}
        if _has_cell_write_internals(self):
            data = self._data
            for update in updates:
                row_key, column_key = RowKey(update.key), self._column_key_at(update.column)
                data[row_key][column_key] = self._cell_of(update)
                changed.setdefault(row_key, set()).add(column_key)
            self._forget_rendered_cells(changed)
        else:
            # Textual changed the internals above (a test fails loudly): the public, slower path.
            self._holding_full_refresh = True
            try:
                for update in updates:
                    self.update_cell(
                        update.key, self._column_key_at(update.column), self._cell_of(update)
                    )
                    changed.setdefault(RowKey(update.key), set())
            finally:
                self._holding_full_refresh = False
        # Each row is one line (rows are added with height 1), so a row's region is found from
        # its index; DataTable's refresh_row sums the heights of every row above it instead.
        # A row outside the viewport is not refreshed: its cached render is gone, so it is
        # rendered with its new value when it is scrolled to.
        width = self.virtual_size.width
        first = int(self.scroll_y)
        visible = max(1, self.scrollable_content_region.height - self.header_height)
        for row_key in changed:
            index = self.get_row_index(row_key)
            if first <= index < first + visible:
                y = self.header_height + index
                self.refresh(Region(0, y, width, 1).translate(-self.scroll_offset))

    def _cell_of(self, update: CellUpdate) -> Text:
        return render_cell(update.key, update.column, update.value, self.column_spec)

    def _column_key_at(self, column: int) -> ColumnKey:
        return ColumnKey(self.column_spec[column].key)

    def _forget_rendered_cells(self, changed: dict[RowKey, set[ColumnKey]]) -> None:
        """Drop DataTable's cached renders of the changed cells, and what was built from them.

        Cell and row renders are keyed by (row key, column key, ...) and (row key, ...): only
        those of the changed cells and rows go. Line renders and the per-index cell renderables
        are cheap to rebuild from the cells (and only rebuilt for lines that are repainted), so
        they are cleared whole rather than relying on how their keys are laid out.
        """
        cell_cache = self._cell_render_cache
        cached_cells = list(cell_cache.keys())  # an LRUCache is not iterable itself
        for key in cached_cells:
            if key[1] in changed.get(key[0], ()):
                cell_cache.discard(key)
        row_cache = self._row_render_cache
        cached_rows = list(row_cache.keys())
        for key in cached_rows:
            if key[0] in changed:
                row_cache.discard(key)
        self._row_renderable_cache.clear()
        self._line_cache.clear()

    def _render_row(self, key: str, cells: Sequence[str]) -> list[Text]:
        spec = self.column_spec
        return [render_cell(key, column, value, spec) for column, value in enumerate(cells)]

    def _restore_view(self, cursor_job: str | None, cursor_index: int, scroll_y: float) -> None:
        if not self.shown_rows:
            return
        if cursor_job is not None and cursor_job in self.rows:
            target = self.get_row_index(cursor_job)
        else:
            # The job under the cursor vanished: stay at the same place in the list.
            target = min(cursor_index, len(self.shown_rows) - 1)
        if target != self.cursor_row:
            self.move_cursor(row=target, scroll=False)

        def restore_scroll() -> None:
            visible = max(1, self.scrollable_content_region.height - self.header_height)
            keep = scroll_y <= target < scroll_y + visible
            if keep and self.scroll_y != scroll_y:
                self.scroll_to(y=scroll_y, animate=False, immediate=True)

        self.call_after_refresh(restore_scroll)
