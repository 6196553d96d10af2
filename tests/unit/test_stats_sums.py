"""The counters line over several daemons (`vpo-tui --all`): sums and the not-current names."""

from __future__ import annotations

from vpo_tui.widgets.stats_line import stats_text, summed_stats


def test_sums_add_every_daemon_and_ignore_odd_values() -> None:
    films = {"running": 1, "queued": 2, "last_24h": {"completed": 3, "failed": 1, "cancelled": 0}}
    tv = {"running": True, "queued": "x", "last_24h": {"failed": 2}}  # a garbled answer
    nas = {"running": 0}  # an older daemon without last_24h
    total = summed_stats([films, tv, nas])
    assert total == {
        "running": 1,
        "queued": 2,
        "last_24h": {"completed": 3, "failed": 3, "cancelled": 0},
    }
    assert summed_stats([]) == {
        "running": 0,
        "queued": 0,
        "last_24h": {"completed": 0, "failed": 0, "cancelled": 0},
    }


def test_daemons_not_current_are_named_after_the_sums() -> None:
    total = summed_stats([{"running": 1, "queued": 0, "last_24h": {"failed": 2}}])
    assert stats_text(total, not_current=["tv"]).plain == (
        "▶ 1 running · 0 queued · ✗ 2 failed in 24 h  (not current: tv)"
    )
    assert stats_text(total).plain == "▶ 1 running · 0 queued · ✗ 2 failed in 24 h"
    assert stats_text(total, current=False).plain.endswith("(not current)")
    assert stats_text(None).plain == "counters …"
