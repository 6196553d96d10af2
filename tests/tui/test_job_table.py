"""The jobs table widget on its own: patches keep the cursor on its job and the scroll offset,
also through a rebuild after a large removal."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from vpo_tui.widgets.job_table import JobTable


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield JobTable(id="jobs")


def rows(keys: list[str], status: str = "✓ completed") -> list:
    return [(key, (key[:8], "scan", status, "", f"/lib/{key}", "06:00:00", "1s")) for key in keys]


KEYS = [f"job{n:05d}" for n in range(200)]


async def test_updates_touch_only_changed_cells_and_keep_rows():
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:5]))
        await pilot.pause()
        before = {key: table.rows[key] for key in table.rows}
        cell_before = table.get_row("job00001")[2]
        changed = rows(KEYS[:5])
        changed[3] = (KEYS[3], (KEYS[3][:8], "scan", "✗ failed", "", "/lib/x", "06:00:00", "2s"))
        patch = table.apply_rows(changed)
        assert len(patch.updates) == 3
        assert table.get_row("job00001")[2] is cell_before  # untouched cell, same object
        assert table.get_row(KEYS[3])[2].plain == "✗ failed"
        assert all(table.rows[key] is row for key, row in before.items())
        assert table.rebuild_count == 0


async def test_a_poll_repaints_only_the_rows_that_changed():
    # The lines the table renders after a patch are counted by wrapping its render_line: a
    # poll that changes one job must not render the other jobs on screen again (it used to
    # repaint the whole table for every changed cell: issue 11).
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:50]))
        await pilot.pause()
        rendered: list[int] = []
        render_line = table.render_line

        def counting_render_line(y: int):
            rendered.append(y)
            return render_line(y)

        table.render_line = counting_render_line  # type: ignore[method-assign]
        changed = rows(KEYS[:50])
        changed[4] = (
            KEYS[4],
            (KEYS[4][:8], "scan", "✗ failed", "", f"/lib/{KEYS[4]}", "06:00:00", "2s"),
        )
        patch = table.apply_rows(changed)
        await pilot.pause()
        assert len(patch.updates) == 2
        assert rendered == [table.header_height + 4]
        assert table.get_row(KEYS[4])[2].plain == "✗ failed"


async def test_insert_above_keeps_cursor_on_its_job_and_the_scroll_offset():
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[10:110]))
        await pilot.pause()
        table.move_cursor(row=50)  # scrolls the view down
        await pilot.pause()
        table.move_cursor(row=40)  # inside the view: no scrolling
        await pilot.pause()
        job = table.cursor_job_id
        scroll = table.scroll_y
        assert scroll > 0
        table.apply_rows(rows(KEYS[0:3] + KEYS[10:110]))  # three new jobs on top
        await pilot.pause()
        assert table.cursor_job_id == job
        assert table.cursor_row == 43
        assert table.scroll_y == scroll
        assert table.job_ids[:3] == KEYS[0:3]
        assert table.rebuild_count == 0


async def table_with_cursor_at_row_120(pilot) -> JobTable:
    """All KEYS in the table, the cursor moved far down (the view scrolled with it)."""
    table = pilot.app.query_one(JobTable)
    table.apply_rows(rows(KEYS))
    await pilot.pause()
    table.move_cursor(row=120)
    await pilot.pause()
    return table


async def test_large_removal_rebuilds_once_and_keeps_cursor_and_scroll():
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = await table_with_cursor_at_row_120(pilot)
        table.move_cursor(row=110)  # inside the view
        await pilot.pause()
        job = table.cursor_job_id
        scroll = table.scroll_y
        assert scroll > 90
        survivors = KEYS[:130]  # 70 jobs vanished at once (pruned): cheaper to rebuild
        patch = table.apply_rows(rows(survivors))
        await pilot.pause()
        assert patch.rebuild is not None
        assert table.rebuild_count == 1
        assert table.job_ids == survivors
        # clear() resets cursor and scroll; both are put back.
        assert table.cursor_job_id == job
        assert table.cursor_row == 110
        assert table.scroll_y == scroll


async def test_cursor_leaving_the_view_is_followed():
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = await table_with_cursor_at_row_120(pilot)
        job = table.cursor_job_id
        table.apply_rows(rows(KEYS[100:]))  # the job moves up by 100 rows
        await pilot.pause()
        assert table.cursor_job_id == job
        assert table.cursor_row == 20
        visible = table.scrollable_content_region.height - table.header_height
        assert table.scroll_y <= table.cursor_row < table.scroll_y + visible


async def test_cursor_job_removed_keeps_the_row_position():
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:10]))
        await pilot.pause()
        table.move_cursor(row=4)
        table.apply_rows(rows(KEYS[:4] + KEYS[5:10]))
        await pilot.pause()
        assert table.cursor_row == 4
        assert table.cursor_job_id == KEYS[5]


async def test_target_width_change_resizes_the_scrollable_width():
    # A wider terminal widens the target column; the table must be able to scroll to its end.
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:3]))
        await pilot.pause()
        before = table.virtual_size.width
        table.set_target_width(table.columns["target"].width + 40)
        await pilot.pause()
        assert table.virtual_size.width == before + 40


def with_status(keys: list[str], changes: dict[str, str]) -> list:
    """`rows(keys)` with some jobs' status (and so their duration) changed."""
    return [
        (key, (key[:8], "scan", changes[key], "", f"/lib/{key}", "06:00:00", "2s"))
        if key in changes
        else (key, cells)
        for key, cells in rows(keys)
    ]


def line_text(table: JobTable, key: str) -> str:
    """What the table paints on the line of `key` now (the row must be in view)."""
    y = table.header_height + table.get_row_index(key) - round(table.scroll_y)
    return table.render_line(y).text


async def test_a_poll_renders_only_the_cells_that_changed():
    # Any `update_cell` bumps DataTable's update counter, part of every cached render's key, so
    # every cell of a changed row was rendered again (and the offsets of all rows recomputed).
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:50]))
        await pilot.pause()
        # DataTable bumps its update counter once more after the first paint (sizing on idle)
        # without painting again; a full repaint makes the cached cells current, as they are
        # after any earlier poll.
        table.refresh()
        await pilot.pause()
        # Rendering a cell renders its Text through the console: collect which texts were.
        rendered_cells: list[object] = []
        console = table.app.console
        render_lines = console.render_lines

        def counting_render_lines(renderable, *args, **kwargs):
            rendered_cells.append(renderable)
            return render_lines(renderable, *args, **kwargs)

        console.render_lines = counting_render_lines  # type: ignore[method-assign]
        try:
            patch = table.apply_rows(with_status(KEYS[:50], {KEYS[4]: "✗ failed"}))
            await pilot.pause()
        finally:
            del console.render_lines
        assert len(patch.updates) == 2  # status and duration
        texts = [cell.plain for cell in rendered_cells if isinstance(cell, Text)]
        assert texts == ["✗ failed", "2s"]
        assert "✗ failed" in line_text(table, KEYS[4])


async def test_an_offscreen_change_is_not_rendered_yet_shows_when_scrolled_to():
    # A changed row outside the viewport is not painted by the poll; its earlier render (cached
    # when it was last on screen) must not come back when the user scrolls to it.
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS))
        await pilot.pause()
        far = KEYS[150]
        table.scroll_to(y=145, animate=False, immediate=True)
        await pilot.pause()
        assert "✓ completed" in line_text(table, far)  # rendered and cached while in view
        table.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()

        rendered: list[int] = []
        render_line = table.render_line

        def counting_render_line(y: int):
            rendered.append(y)
            return render_line(y)

        table.render_line = counting_render_line  # type: ignore[method-assign]
        table.apply_rows(with_status(KEYS, {far: "✗ failed", KEYS[2]: "✗ failed"}))
        await pilot.pause()
        assert rendered == [table.header_height + 2]  # the visible change only
        assert table.scroll_y == 0

        table.scroll_to(y=145, animate=False, immediate=True)
        await pilot.pause()
        assert "✗ failed" in line_text(table, far)
        assert "2s" in line_text(table, far)
        assert "✓ completed" in line_text(table, KEYS[151])


async def test_the_cursor_row_shows_its_change_with_the_cursor_kept():
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:50]))
        await pilot.pause()
        table.move_cursor(row=3)
        await pilot.pause()
        cursor_line = line_text(table, KEYS[3])
        table.apply_rows(with_status(KEYS[:50], {KEYS[3]: "✗ failed"}))
        await pilot.pause()
        assert table.cursor_job_id == KEYS[3]
        assert "✗ failed" in line_text(table, KEYS[3])
        assert line_text(table, KEYS[3]) != cursor_line


async def test_the_datatable_internals_the_cell_write_relies_on():
    # JobTable._update_cells writes cells into DataTable's data and drops only the changed cells'
    # cached renders, found by (row key, column key) at the head of the cache keys. If Textual
    # renames these or lays the keys out differently, this fails before the table shows stale
    # values (it would fall back to the slower public update_cell if the attributes went).
    from textual.widgets.data_table import ColumnKey, RowKey

    from vpo_tui.widgets.job_table import CELL_WRITE_INTERNALS

    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:5]))
        await pilot.pause()
        for name in CELL_WRITE_INTERNALS:
            assert hasattr(table, name), f"DataTable no longer has {name}"
        assert table._data[RowKey(KEYS[1])][ColumnKey("status")].plain == "✓ completed"
        cell_keys = list(table._cell_render_cache.keys())
        row_keys = list(table._row_render_cache.keys())
        assert cell_keys and row_keys
        body_cells = [key for key in cell_keys if key[0].value is not None]
        assert body_cells and all(
            isinstance(key[0], RowKey) and isinstance(key[1], ColumnKey) for key in cell_keys
        )
        assert {key[0].value for key in body_cells} == set(KEYS[:5])
        assert all(isinstance(key[0], RowKey) for key in row_keys)


async def test_without_the_internals_cells_are_written_through_update_cell(monkeypatch):
    # The fallback if Textual drops the internals: the public update_cell, rows still in place.
    import vpo_tui.widgets.job_table as job_table

    monkeypatch.setattr(job_table, "_has_cell_write_internals", lambda table: False)
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS[:50]))
        await pilot.pause()
        before = dict(table.rows)
        table.apply_rows(with_status(KEYS[:50], {KEYS[4]: "✗ failed"}))
        await pilot.pause()
        assert table.full_refreshes_held == 2
        assert "✗ failed" in line_text(table, KEYS[4])
        assert all(table.rows[key] is row for key, row in before.items())


async def test_a_values_only_poll_keeps_cursor_and_scroll():
    # A poll that only changes values takes the short path (no view restore): nothing may move.
    async with TableApp().run_test(size=(100, 20)) as pilot:
        table = pilot.app.query_one(JobTable)
        table.apply_rows(rows(KEYS))
        await pilot.pause()
        table.scroll_to(y=100, animate=False, immediate=True)
        table.move_cursor(row=105, scroll=False)
        await pilot.pause()
        scroll_y = table.scroll_y
        patch = table.apply_rows(with_status(KEYS, {KEYS[105]: "✗ failed", KEYS[3]: "✗ failed"}))
        await pilot.pause()
        assert not (patch.removals or patch.inserts or patch.order) and patch.updates
        assert table.cursor_job_id == KEYS[105]
        assert table.scroll_y == scroll_y == 100
        assert "✗ failed" in line_text(table, KEYS[105])
        assert table.rebuild_count == 0
