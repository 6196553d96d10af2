"""The jobs table widget on its own: patches keep the cursor on its job and the scroll offset,
also through a rebuild after a large removal."""

from __future__ import annotations

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
