// polling.js against the shared rules and vectors (docs/design.md §7), with fake timers of our own:
// the backoff runs for minutes, which real time cannot cover in a test.
// Run: node --test tests/js/
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { FakeClock, FakeDocument, FakeWindow, ManualTask, flush } from './fake_env.mjs';

const require = createRequire(import.meta.url);
const repo = new URL('../../', import.meta.url);
const VPOPolling = require(new URL('vpo/server/static/js/polling.js', repo).pathname);
const rules = JSON.parse(readFileSync(new URL('vpo/polling_rules.json', repo), 'utf8'));
const vectors = JSON.parse(readFileSync(new URL('tests/polling_vectors.json', repo), 'utf8')).vectors;

function setup(intervalMs = 5000, extra = {}) {
    const clock = new FakeClock();
    const document = new FakeDocument();
    const window = new FakeWindow();
    const task = new ManualTask(clock);
    const states = [];
    const busy = [];
    const poller = VPOPolling.createPoller({
        task: task.fn,
        intervalMs,
        rules,
        onState: (info) => states.push(info),
        onBusy: (b) => busy.push(b),
        env: { setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, document, window },
        ...extra,
    });
    return { clock, document, window, task, states, busy, poller };
}

test('the module exposes itself on globalThis as well as module.exports', () => {
    assert.equal(globalThis.VPOPolling, VPOPolling);
});

const hintHeaders = JSON.parse(readFileSync(new URL('tests/polling_vectors.json', repo), 'utf8')).hint_headers;

for (const vector of vectors) {
    test(`vector: ${vector.name}`, async () => {
        const busyIntervalMs = vector.busy_interval_ms ?? vector.interval_ms;
        const { clock, task, poller, states } = setup(vector.interval_ms, { busyIntervalMs });
        poller.start();
        await flush();
        assert.equal(task.calls.length, 1, 'first poll starts at once');
        for (const [i, step] of vector.steps.entries()) {
            const where = `step ${i} (${step.outcome})`;
            poller.noteHint(step.hint_ms ?? null);
            if (step.outcome === 'ok') {
                await task.succeed({});
            } else {
                await task.fail();
            }
            assert.equal(poller.failures, step.failures, `${where}: failures`);
            assert.equal(poller.state, step.state, `${where}: state`);
            const last = states[states.length - 1];
            assert.equal(last.state, step.state, `${where}: reported state`);
            assert.equal(last.delayMs, step.delay_ms, `${where}: reported delay`);
            assert.equal(last.nextPollAt, clock.now() + step.delay_ms, `${where}: next poll time`);
            // Exactly one timer (the next poll); the finished request's timeout is gone.
            assert.deepEqual(clock.pendingDelays(), [step.delay_ms], `${where}: scheduled delay`);
            let waitMs = step.delay_ms;
            if (step.submit_after_ms !== undefined) {
                await clock.advance(step.submit_after_ms);
                poller.resetHint();
                waitMs = poller.nextPollAt - clock.now();
                assert.equal(waitMs, step.next_poll_after_submit_ms, `${where}: next poll after a submit`);
            }
            const before = task.calls.length;
            await clock.advance(waitMs - 1);
            assert.equal(task.calls.length, before, `${where}: no poll before the delay`);
            await clock.advance(1);
            assert.equal(task.calls.length, before + 1, `${where}: poll right at the delay`);
            assert.equal(task.last.at, clock.now());
        }
        assert.equal(task.maxActive, 1);
        poller.stop();
        assert.equal(clock.pending, 0);
    });
}

test('X-Poll-Interval headers read as the shared table says', () => {
    assert.ok(hintHeaders.length >= 8);
    for (const c of hintHeaders) {
        assert.equal(VPOPolling.parseHint(c.header), c.ms, JSON.stringify(c.header));
    }
});

test('fetchJson reads the hint on 200 and 304 alike', async () => {
    const fetch = async (url, init) =>
        init.headers['If-None-Match'] === '"a"'
            ? fakeResponse(304, undefined, { 'X-Poll-Interval': '20000' })
            : fakeResponse(200, { jobs: [] }, { ETag: '"a"', 'X-Poll-Interval': '5000' });
    const first = await VPOPolling.fetchJson('/api/jobs', { fetch });
    const second = await VPOPolling.fetchJson('/api/jobs', { fetch, etag: first.etag });
    assert.deepEqual([first.pollIntervalMs, second.pollIntervalMs], [5000, 20000]);
});

test('pure helpers agree with the vectors', () => {
    for (const vector of vectors) {
        const busy = vector.busy_interval_ms ?? vector.interval_ms;
        for (const step of vector.steps) {
            const interval = step.outcome === 'ok' ? VPOPolling.hintedIntervalMs(vector.interval_ms, step.hint_ms ?? null, busy, rules) : vector.interval_ms;
            assert.equal(VPOPolling.delayAfter(step.failures, interval, rules), step.delay_ms);
            assert.equal(VPOPolling.stateFor(step.failures, rules), step.state);
        }
    }
});

test('settings: defaults, clamping, log interval never below the status interval', () => {
    const n = (raw) => VPOPolling.normalizeSettings(rules, raw);
    assert.deepEqual(
        [n({}).intervalMs, n({}).logIntervalMs, n({}).enabled],
        [rules.interval_ms.default, rules.log_interval_ms.default, true]
    );
    assert.equal(n({ intervalMs: '500' }).intervalMs, rules.interval_ms.min);
    assert.equal(n({ intervalMs: '999999' }).intervalMs, rules.interval_ms.max);
    assert.equal(n({ intervalMs: 'nonsense' }).intervalMs, rules.interval_ms.default);
    assert.equal(n({ intervalMs: '30000', logIntervalMs: '15000' }).logIntervalMs, 30000);
    assert.equal(n({ intervalMs: '30000' }).logIntervalMs, 30000);
    assert.equal(n({ intervalMs: '2000', logIntervalMs: '4000' }).logIntervalMs, 4000);
    assert.equal(n({ enabled: false }).enabled, false);
});

test('settings from <body data-polling-*>', () => {
    const body = {
        dataset: {
            pollingRules: JSON.stringify(rules),
            pollingInterval: '2000',
            pollingLogInterval: '6000',
            pollingEnabled: 'false',
        },
    };
    const s = VPOPolling.loadSettings(body);
    assert.deepEqual([s.intervalMs, s.logIntervalMs, s.enabled], [2000, 6000, false]);
    assert.deepEqual(s.rules, rules);
});

test('one request at a time: a slow request delays the next poll instead of stacking', async () => {
    const { clock, task, poller } = setup(2000);
    poller.start();
    await flush();
    // The request hangs for longer than the interval but shorter than the timeout.
    await clock.advance(9000);
    assert.equal(task.calls.length, 1, 'no second request while the first runs');
    assert.equal(poller.pollNow(), false, 'pollNow is a no-op while a poll runs');
    await task.succeed({});
    await clock.advance(1999);
    assert.equal(task.calls.length, 1);
    await clock.advance(1);
    assert.equal(task.calls.length, 2, 'next poll one interval after the slow one ended');
    assert.equal(task.maxActive, 1);
    poller.stop();
});

test('a request that does not answer within the timeout is aborted and counts as a failure', async () => {
    const { clock, task, poller, states } = setup(5000);
    poller.start();
    await flush();
    const first = task.calls[0];
    await clock.advance(rules.request_timeout_ms - 1);
    assert.equal(first.signal.aborted, false);
    assert.equal(poller.failures, 0);
    await clock.advance(1);
    assert.equal(first.signal.aborted, true, 'AbortController fired');
    assert.equal(poller.failures, 1);
    assert.equal(states[states.length - 1].state, 'reconnecting');
    assert.deepEqual(clock.pendingDelays(), [5000]);
    // Three timeouts in a row: offline, with the backoff delay.
    await clock.advance(5000);
    await clock.advance(rules.request_timeout_ms);
    await clock.advance(5000);
    await clock.advance(rules.request_timeout_ms);
    assert.equal(poller.failures, 3);
    assert.equal(poller.state, 'offline');
    assert.deepEqual(clock.pendingDelays(), [10000]);
    assert.equal(task.maxActive, 1);
    poller.stop();
});

test('an answer arriving after the timeout is ignored (no double count, no extra loop)', async () => {
    const clock = new FakeClock();
    const document = new FakeDocument();
    let calls = 0;
    let lateResolve;
    const poller = VPOPolling.createPoller({
        // Ignores the abort signal on purpose, like a fetch that resolves anyway.
        task: () => {
            calls += 1;
            return new Promise((resolve) => {
                lateResolve = resolve;
            });
        },
        intervalMs: 5000,
        rules,
        env: { setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, document, window: null },
    });
    poller.start();
    await clock.advance(rules.request_timeout_ms);
    assert.equal(poller.failures, 1);
    lateResolve({});
    await flush();
    assert.equal(poller.failures, 1, 'the late success does not reset the count');
    assert.deepEqual(clock.pendingDelays(), [5000], 'still exactly one scheduled poll');
    await clock.advance(5000);
    assert.equal(calls, 2);
    poller.stop();
});

test('hidden: the scheduled poll is cancelled at once; visible: polls immediately then at the interval', async () => {
    const { clock, document, task, poller } = setup(5000);
    poller.start();
    await flush();
    await task.succeed({});
    assert.equal(clock.pending, 1);
    await clock.advance(1000);
    document.setHidden(true);
    assert.equal(poller.paused, true);
    assert.equal(clock.pending, 0, 'no timer left while hidden (paused well within 2 s)');
    await clock.advance(600000);
    assert.equal(task.calls.length, 1, 'no request during ten hidden minutes');
    document.setHidden(false);
    await flush();
    assert.equal(task.calls.length, 2, 'fetches at once when visible');
    assert.equal(task.last.at, clock.now());
    await task.succeed({});
    assert.deepEqual(clock.pendingDelays(), [5000], 'then goes on at the interval');
    poller.stop();
});

test('hidden while a request is in flight: it finishes but schedules nothing', async () => {
    const { clock, document, task, poller } = setup(5000);
    poller.start();
    await flush();
    document.setHidden(true);
    await task.succeed({});
    assert.equal(clock.pending, 0);
    await clock.advance(60000);
    assert.equal(task.calls.length, 1);
    document.setHidden(false);
    await flush();
    assert.equal(task.calls.length, 2);
    poller.stop();
});

test('quick hide/show while a poll runs never starts a second loop', async () => {
    const { clock, document, task, poller } = setup(5000);
    poller.start();
    await flush();
    for (let i = 0; i < 5; i++) {
        document.setHidden(true);
        document.setHidden(false);
    }
    await flush();
    assert.equal(task.calls.length, 1, 'the in-flight poll is the only one');
    await task.succeed({});
    assert.deepEqual(clock.pendingDelays(), [5000], 'one loop, one timer');
    // Quick hide/show between polls: one immediate poll, one loop.
    document.setHidden(true);
    document.setHidden(false);
    document.setHidden(true);
    document.setHidden(false);
    await flush();
    assert.equal(task.calls.length, 2);
    await task.succeed({});
    assert.deepEqual(clock.pendingDelays(), [5000]);
    await clock.advance(60000);
    // 12 polls in 60 s at 5 s: each one answered below keeps a single chain.
    assert.equal(task.maxActive, 1);
    poller.stop();
});

test('visibility return during backoff fetches at once and keeps the failure count', async () => {
    const { clock, document, task, poller } = setup(5000);
    poller.start();
    await flush();
    for (let i = 0; i < 4; i++) {
        await task.fail();
        await clock.advance(clock.pendingDelays()[0]);
    }
    await task.fail();
    assert.equal(poller.failures, 5);
    assert.deepEqual(clock.pendingDelays(), [40000]);
    document.setHidden(true);
    assert.equal(clock.pending, 0);
    document.setHidden(false);
    await flush();
    assert.equal(task.calls.length, 6, 'immediate try on return');
    await task.fail();
    assert.equal(poller.failures, 6);
    assert.deepEqual(clock.pendingDelays(), [80000]);
    poller.stop();
});

test('a page hidden when polling starts does not poll until it is shown', async () => {
    const { clock, document, task, poller } = setup(5000);
    document.hidden = true;
    poller.start();
    await clock.advance(30000);
    assert.equal(task.calls.length, 0);
    document.setHidden(false);
    await flush();
    assert.equal(task.calls.length, 1);
    poller.stop();
});

test('startDelayMs: a server-rendered page waits one interval before its first poll', async () => {
    const { clock, task, poller } = setup(5000, { startDelayMs: 5000 });
    poller.start();
    await clock.advance(4999);
    assert.equal(task.calls.length, 0);
    await clock.advance(1);
    assert.equal(task.calls.length, 1);
    poller.stop();
});

test('pagehide clears every timer and aborts the request; pageshow from the cache resumes', async () => {
    const { clock, window, task, poller } = setup(5000);
    poller.start();
    await flush();
    assert.equal(clock.pending, 1, 'the request timeout');
    const call = task.calls[0];
    window.pageHide();
    assert.equal(call.signal.aborted, true);
    assert.equal(clock.pending, 0, 'no timers after pagehide');
    await flush();
    assert.equal(poller.failures, 0, 'an abort on unload is not a failure');
    await clock.advance(60000);
    assert.equal(task.calls.length, 1);
    window.pageShow(true);
    await flush();
    assert.equal(task.calls.length, 2, 'restored from the back/forward cache: polls again');
    poller.stop();
    assert.equal(clock.pending, 0);
});

test('STOP from the task ends polling and removes the listeners', async () => {
    const { clock, document, task, poller, states } = setup(5000);
    poller.start();
    await flush();
    await task.succeed(VPOPolling.STOP);
    assert.equal(poller.stopped, true);
    assert.equal(clock.pending, 0);
    assert.equal(states[states.length - 1].stopped, true);
    document.setHidden(true);
    document.setHidden(false);
    await clock.advance(60000);
    assert.equal(task.calls.length, 1);
});

test('onBusy brackets each request (the refresh indicator)', async () => {
    const { task, poller, busy, clock } = setup(5000);
    poller.start();
    await flush();
    assert.deepEqual(busy, [true]);
    await task.succeed({});
    assert.deepEqual(busy, [true, false]);
    await clock.advance(5000);
    await task.fail();
    assert.deepEqual(busy, [true, false, true, false]);
    poller.stop();
});

test('pollNow polls at once between polls and re-arms a single timer', async () => {
    const { clock, task, poller } = setup(5000);
    poller.start();
    await flush();
    await task.succeed({});
    await clock.advance(2000);
    assert.equal(poller.pollNow(), true);
    await flush();
    assert.equal(task.calls.length, 2);
    assert.equal(clock.pending, 1, 'only the timeout; the old schedule is gone');
    await task.succeed({});
    assert.deepEqual(clock.pendingDelays(), [5000]);
    poller.stop();
});

test('a task that throws synchronously is a failure, not a crash', async () => {
    const clock = new FakeClock();
    const poller = VPOPolling.createPoller({
        task: () => {
            throw new Error('boom');
        },
        intervalMs: 5000,
        rules,
        env: { setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now, document: null, window: null },
    });
    poller.start();
    await flush();
    assert.equal(poller.failures, 1);
    assert.deepEqual(clock.pendingDelays(), [5000]);
    poller.stop();
});

// fetchJson: which HTTP outcomes count as failures (§7: network error, timeout, 5xx).
function fakeResponse(status, body, headers = {}) {
    return {
        status,
        ok: status >= 200 && status < 300,
        headers: { get: (name) => headers[name] ?? null },
        json: async () => {
            if (body === undefined) {
                throw new SyntaxError('no body');
            }
            return body;
        },
    };
}

test('fetchJson: 200 with ETag, 304 as not modified, If-None-Match sent', async () => {
    let seen;
    const fetch = async (url, init) => {
        seen = { url, init };
        return init.headers['If-None-Match'] === '"a"'
            ? fakeResponse(304)
            : fakeResponse(200, { jobs: [] }, { ETag: '"a"' });
    };
    const first = await VPOPolling.fetchJson('/api/jobs', { fetch });
    assert.deepEqual([first.status, first.etag, first.notModified], [200, '"a"', false]);
    assert.deepEqual(first.data, { jobs: [] });
    assert.equal(seen.init.credentials, 'same-origin');
    const second = await VPOPolling.fetchJson('/api/jobs', { fetch, etag: first.etag });
    assert.equal(seen.init.headers['If-None-Match'], '"a"');
    assert.deepEqual([second.status, second.notModified, second.data], [304, true, null]);
});

test('fetchJson: 5xx, 429 and network errors are failures; 404 and 400 are answers', async () => {
    for (const status of [500, 502, 503, 429]) {
        await assert.rejects(
            VPOPolling.fetchJson('/x', { fetch: async () => fakeResponse(status, { error: 'e' }) }),
            (err) => err instanceof VPOPolling.PollFailure && err.status === status
        );
    }
    await assert.rejects(
        VPOPolling.fetchJson('/x', {
            fetch: async () => {
                throw new TypeError('Failed to fetch');
            },
        }),
        (err) => err instanceof VPOPolling.PollFailure && err.kind === 'network'
    );
    for (const status of [400, 404]) {
        const r = await VPOPolling.fetchJson('/x', {
            fetch: async () => fakeResponse(status, { error: 'e', code: 'C', details: {} }),
        });
        assert.deepEqual([r.status, r.ok, r.data.code], [status, false, 'C']);
    }
});
