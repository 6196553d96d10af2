"""Row diffing: minimal operations, and applying them always yields exactly the new rows."""

from __future__ import annotations

import random

import pytest

from vpo_tui.rowdiff import (
    REBUILD_MIN_REMOVALS,
    CellUpdate,
    RowInsert,
    apply_patch,
    diff_rows,
    should_rebuild,
)


def rows(*specs: tuple[str, str]) -> list:
    """Rows as (key, (key, status)) so a test reads like the table."""
    return [(key, (key, status)) for key, status in specs]


def test_identical_rows_give_an_empty_patch() -> None:
    current = rows(("a", "running"), ("b", "queued"))
    patch = diff_rows(current, list(current))
    assert patch.is_empty


def test_only_changed_cells_are_updated() -> None:
    current = [("a", ("a", "running", "10%")), ("b", ("b", "queued", ""))]
    new = [("a", ("a", "running", "20%")), ("b", ("b", "queued", ""))]
    patch = diff_rows(current, new)
    assert patch.updates == [CellUpdate("a", 2, "20%")]
    assert not patch.inserts and not patch.removals and patch.order is None
    assert patch.rebuild is None


def test_new_job_on_top_is_inserted_at_its_position() -> None:
    current = rows(("b", "running"), ("c", "completed"))
    new = rows(("a", "queued"), ("b", "running"), ("c", "completed"))
    patch = diff_rows(current, new)
    assert patch.inserts == [RowInsert(0, "a", ("a", "queued"))]
    assert patch.order == ["a", "b", "c"]
    assert patch.updates == [] and patch.removals == []


def test_append_at_the_end_needs_no_reorder() -> None:
    current = rows(("a", "x"))
    patch = diff_rows(current, rows(("a", "x"), ("b", "y")))
    assert patch.inserts == [RowInsert(1, "b", ("b", "y"))]
    assert patch.order is None


def test_vanished_job_is_removed_without_reorder() -> None:
    current = rows(("a", "x"), ("b", "y"), ("c", "z"))
    patch = diff_rows(current, rows(("a", "x"), ("c", "z")))
    assert patch.removals == ["b"]
    assert patch.order is None and patch.rebuild is None


def test_moved_row_gives_an_order() -> None:
    current = rows(("a", "running"), ("b", "queued"))
    new = rows(("b", "queued"), ("a", "completed"))
    patch = diff_rows(current, new)
    assert patch.order == ["b", "a"]
    assert patch.updates == [CellUpdate("a", 1, "completed")]


def test_large_removal_becomes_a_rebuild() -> None:
    current = rows(*[(f"k{i}", "x") for i in range(100)])
    new = current[:50]
    patch = diff_rows(current, new)
    assert patch.rebuild == new
    assert apply_patch(current, patch) == new


def test_small_removal_on_a_big_table_stays_incremental() -> None:
    current = rows(*[(f"k{i}", "x") for i in range(1000)])
    new = current[:990]
    patch = diff_rows(current, new)
    assert patch.rebuild is None
    assert len(patch.removals) == 10


def test_rebuild_threshold() -> None:
    assert not should_rebuild(REBUILD_MIN_REMOVALS - 1, REBUILD_MIN_REMOVALS)
    assert should_rebuild(REBUILD_MIN_REMOVALS, REBUILD_MIN_REMOVALS * 2)
    assert not should_rebuild(REBUILD_MIN_REMOVALS, 1000)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        diff_rows([], rows(("a", "x"), ("a", "y")))
    with pytest.raises(ValueError, match="number of cells"):
        diff_rows([("a", ("a",))], [("a", ("a", "b"))])


def test_empty_to_full_and_back() -> None:
    full = rows(("a", "x"), ("b", "y"))
    to_full = diff_rows([], full)
    assert [i.key for i in to_full.inserts] == ["a", "b"] and to_full.order is None
    to_empty = diff_rows(full, [])
    assert to_empty.removals == ["a", "b"]
    assert apply_patch(full, to_empty) == []


def test_random_changes_always_apply_to_the_new_rows() -> None:
    generator = random.Random(20261130)
    for _ in range(300):
        keys = [f"j{i}" for i in range(generator.randint(0, 60))]
        current = [(k, (k, generator.choice("abc"))) for k in keys]
        survivors = [k for k in keys if generator.random() > generator.choice([0.05, 0.5])]
        added = [f"n{i}" for i in range(generator.randint(0, 10))]
        new_keys = survivors + added
        if generator.random() < 0.5:
            generator.shuffle(new_keys)
        new = [(k, (k, generator.choice("abc"))) for k in new_keys]
        patch = diff_rows(current, new)
        assert apply_patch(current, patch) == new
        if patch.rebuild is None:
            changed = sum(
                a != b
                for key, cells in new
                if key in dict(current)
                for a, b in zip(dict(current)[key], cells, strict=True)
            )
            assert len(patch.updates) == changed
            assert len(patch.inserts) == len(set(new_keys) - set(keys))
