/*
 * A paused fake clock for the page, served by the harness before the page's own scripts when a
 * test asks for it (tests/browser/checklist/harness.py).
 *
 * The polling rules (docs/design.md §7) are about minutes of page time (a 120 s backoff cap,
 * ten hidden minutes), which a test cannot sleep through, and Playwright's page.clock exists only in Chromium here. So
 * setTimeout/setInterval and Date are replaced; page time stands still until the test calls
 * window.__clock.runFor(ms), which fires the due timers in order. fetch, promises and the
 * network stay real.
 */
(function () {
    'use strict';
    const RealDate = Date;
    let now = RealDate.now();
    let nextId = 1;
    const timers = new Map();

    function FakeDate(...args) {
        if (!new.target) {
            return new RealDate(now).toString();
        }
        return args.length ? new RealDate(...args) : new RealDate(now);
    }
    FakeDate.prototype = RealDate.prototype;
    FakeDate.now = () => now;
    FakeDate.parse = RealDate.parse;
    FakeDate.UTC = RealDate.UTC;
    window.Date = FakeDate;

    function add(callback, delay, args, repeat) {
        const id = nextId++;
        const ms = Math.max(0, Number(delay) || 0);
        const fn = typeof callback === 'function' ? callback : () => {};
        timers.set(id, { id, at: now + ms, fn, args, every: repeat ? Math.max(1, ms) : null });
        return id;
    }

    window.setTimeout = function (callback, delay, ...args) {
        return add(callback, delay, args, false);
    };
    window.setInterval = function (callback, delay, ...args) {
        return add(callback, delay, args, true);
    };
    window.clearTimeout = function (id) {
        timers.delete(id);
    };
    window.clearInterval = window.clearTimeout;

    function nextDue(limit) {
        let best = null;
        for (const timer of timers.values()) {
            if (timer.at <= limit && (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id))) {
                best = timer;
            }
        }
        return best;
    }

    window.__clock = {
        now: () => now,
        /** Move page time forward by `ms`, firing every timer that falls due on the way. */
        runFor(ms) {
            const end = now + ms;
            for (let fired = 0; ; fired++) {
                const timer = nextDue(end);
                if (!timer) {
                    break;
                }
                if (fired === 10000) {
                    // A timer that keeps re-arming itself at once would hang the test.
                    throw new Error('fake clock: runaway timer ' + String(timer.fn).slice(0, 200));
                }
                now = Math.max(now, timer.at);
                if (timer.every === null) {
                    timers.delete(timer.id);
                } else {
                    timer.at += timer.every;
                }
                try {
                    timer.fn.apply(window, timer.args);
                } catch (err) {
                    (window.__probe ? window.__probe.errors : []).push('timer: ' + String(err));
                }
            }
            now = end;
            return now;
        },
    };
})();
