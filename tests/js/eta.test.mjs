// eta.js: the smoothed rate and time left of the detail page (docs/web.md, "ETA").
// Run: node --test tests/js/
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const repo = new URL('../../', import.meta.url);
const VPOEta = require(new URL('vpo/server/static/js/eta.js', repo).pathname);

/** Feed `done` values one poll apart (2 s); returns every estimate. */
function feed(estimator, values, goal = 100, stepMs = 2000, start = 0) {
    return values.map((done, i) => estimator.add(start + i * stepMs, done, goal));
}

test('nothing is shown before MIN_RATES rates went in', () => {
    const e = VPOEta.createRateEstimator();
    // A perfectly steady 1 per second: 2 per 2 s poll.
    const out = feed(e, [0, 2, 4, 6, 8]);
    // Samples 0..MIN_RATES-1 give fewer than MIN_RATES rates.
    for (let i = 0; i < VPOEta.MIN_RATES; i += 1) {
        assert.equal(out[i], null, `sample ${i}`);
    }
    assert.notEqual(out[VPOEta.MIN_RATES], null);
    assert.ok(Math.abs(out[4].rate - 1) < 1e-9);
    assert.ok(Math.abs(out[4].remainingSeconds - 92) < 1e-6);
});

test('an unsteady rate is not shown until it settles', () => {
    const e = VPOEta.createRateEstimator();
    // Bursts of 40 every third poll: the smoothed rate swings by more than MAX_CHANGE.
    const out = feed(e, [0, 40, 40, 40, 80, 80, 80, 120], 1000);
    assert.deepEqual(out, [null, null, null, null, null, null, null, null]);
    // Then steady at 5/s: it settles and shows.
    const later = feed(e, [130, 140, 150], 1000, 2000, 16000);
    assert.notEqual(later[later.length - 1], null, JSON.stringify(later));
});

test('once shown, the estimate follows the smoothed rate and does not jump with one slow poll', () => {
    const e = VPOEta.createRateEstimator();
    const out = feed(e, [0, 2, 4, 6, 8, 10]);
    const before = out[5];
    assert.ok(before);
    // One poll without progress (a big file): the ETA grows, smoothly, and stays shown.
    const after = e.add(12000, 10, 100);
    assert.ok(after, 'still shown');
    assert.ok(after.rate < before.rate && after.rate > 0.5 * before.rate, JSON.stringify([before, after]));
});

test('a new goal or a count that went down starts over', () => {
    const e = VPOEta.createRateEstimator();
    feed(e, [0, 2, 4, 6, 8]);
    assert.ok(e.estimate());
    assert.equal(e.add(10000, 10, 200), null, 'goal changed');
    feed(e, [12, 14, 16, 18], 200, 2000, 12000);
    assert.ok(e.estimate());
    assert.equal(e.add(20000, 3, 200), null, 'count went down');
});

test('polls closer than MIN_GAP_MS are not counted as rates', () => {
    const e = VPOEta.createRateEstimator();
    e.add(0, 0, 100);
    for (let i = 1; i <= 10; i += 1) {
        e.add(i * (VPOEta.MIN_GAP_MS / 20), i, 100);
    }
    assert.equal(e.estimate(), null);
});

test('no movement at all, unknown or finished: nothing shown', () => {
    const still = VPOEta.createRateEstimator();
    assert.deepEqual(feed(still, [5, 5, 5, 5, 5, 5]), [null, null, null, null, null, null]);
    const unknown = VPOEta.createRateEstimator();
    assert.equal(unknown.add(0, 1, NaN), null);
    const done = VPOEta.createRateEstimator();
    const out = feed(done, [0, 25, 50, 75, 100]);
    assert.equal(out[4], null);
});

test('texts are coarse', () => {
    assert.equal(VPOEta.etaText(null), '');
    assert.equal(VPOEta.etaText(12), 'less than a minute left');
    assert.equal(VPOEta.etaText(61), 'about 2 min left');
    assert.equal(VPOEta.etaText(3600), 'about 1 h 00 min left');
    assert.equal(VPOEta.etaText(2 * 3600 + 5 * 60 - 1), 'about 2 h 05 min left');
    assert.equal(VPOEta.rateText(0), '');
    assert.equal(VPOEta.rateText(25.4), '25 files/s');
    assert.equal(VPOEta.rateText(2.46), '2.5 files/s');
    assert.equal(VPOEta.rateText(0.2), '12 files/min');
    assert.equal(VPOEta.rateText(0.001), 'less than 1 file/min');
});

test('job ETA: percent for the time left, files for the rate, nothing once the job is not running', () => {
    const eta = VPOEta.createJobEta();
    let out;
    for (let i = 0; i <= 5; i += 1) {
        out = eta.update(i * 2000, {
            status: 'running', progress_percent: i * 2, processed_count: i * 4, total_count: 200,
        });
    }
    // 1 % per second with 90 % to go; 2 files per second.
    assert.equal(out.eta, 'about 2 min left');
    assert.equal(out.rate, '2.0 files/s');
    assert.deepEqual(eta.update(12000, { status: 'completed', progress_percent: 100 }), { eta: '', rate: '' });
    // Total unknown (still discovering): no rate, and no ETA until the percent is stable.
    const early = VPOEta.createJobEta();
    assert.deepEqual(early.update(0, { status: 'running', progress_percent: null, processed_count: 0, total_count: null }), { eta: '', rate: '' });
});
