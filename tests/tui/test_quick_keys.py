"""Quick key sequences never freeze the jobs list (real Textual timers, real daemon).

These tests use Textual's own timers, not the manual scheduler: the defect they guard against
lived in how a real timer behaves (a zero-delay timer never fires), which a fake one hides.
"""

from __future__ import annotations

import random
import time

import pytest

from tests.tui.harness import get_job, jobs_screen, submit_scan, wait_for
from vpo.client import AsyncVpoClient
from vpo_tui.app import VpoTuiApp
from vpo_tui.listquery import ListQuery

INTERVAL_S = 2.0  # the shortest interval the rules allow, so two intervals are short
# Every key that asks for a poll; "p p" pauses and resumes (a resume fetches at once).
POLL_KEYS = ["t", "s", "o", "O", "left_square_bracket", "right_square_bracket", "r", "p p"]


@pytest.fixture
def daemon(daemon_factory):
    """Idle interval = interval: the idle hint (tests/tui/test_poll_hint.py) stretches nothing, so
    a job queued between rounds shows within two of the app's intervals, as this test needs."""
    return daemon_factory(config={"polling": {"idle_interval_seconds": 5}}).start()


@pytest.mark.parametrize("seed", [8, 9])
async def test_random_quick_keys_never_stop_the_list(daemon, tmp_path, seed):
    library = tmp_path / "lib"
    library.mkdir()
    first = submit_scan(daemon.url, str(library))
    app = VpoTuiApp(AsyncVpoClient(daemon.url), url=daemon.url, interval_s=INTERVAL_S)
    rnd = random.Random(seed)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        await wait_for(pilot, lambda: first["id"] in screen.jobs_by_id)
        for round_number in range(2):
            # At least 200 keys, in bursts with no wait between them, so that many land while a
            # request is out (the case that used to freeze the list).
            pressed = 0
            while pressed < 200:
                # 2 to 4 keys with no wait between them: all but the first land while the request
                # the first one started is out (the case that used to freeze the list).
                burst = " ".join(rnd.choice(POLL_KEYS) for _ in range(rnd.randint(2, 4))).split()
                for key in burst:
                    app.simulate_key(key)
                pressed += len(burst)
                await pilot.pause(rnd.choice([0.01, 0.05, 0.2]))
            # Back to the default query behind the loop's back: a key would start a request
            # itself and so revive a frozen loop, hiding the defect.
            screen.query_state = ListQuery()

            job = submit_scan(daemon.url, str(library))
            queued_at = time.monotonic()
            await wait_for(
                pilot,
                lambda job=job: job["id"] in screen.jobs_by_id,
                timeout=2 * INTERVAL_S + 1,
                message=f"round {round_number}: a job queued after quick keys never appeared "
                f"(poller: in flight {screen.loop.poller.in_flight}, "
                f"timer {screen.loop.timer_armed})",
            )
            assert time.monotonic() - queued_at <= 2 * INTERVAL_S + 1
            assert get_job(daemon.url, job["id"])["id"] == job["id"]
