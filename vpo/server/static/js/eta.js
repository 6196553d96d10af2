/*
 * VPOEta: the time left and the rate of a running job, from the progress the detail page's
 * polls see. Pure (no DOM, no clock of its own: the caller passes the time of each sample), so
 * node --test runs it as it is (tests/js/eta.test.mjs).
 *
 * The rule (docs/web.md, "ETA"):
 *   - A sample is (time, done, goal): the overall percent towards 100 for the ETA, the files
 *     processed towards the files found for the rate. Every successful poll adds one, a 304
 *     included (no progress in that time is information too).
 *   - A sample with another goal, or with less done than before, starts over: the scan found
 *     more files, or this is a new attempt.
 *   - Each sample at least MIN_GAP_MS after the one before gives a rate r = Δdone / Δt, and the
 *     smoothed rate is an exponentially weighted mean: s = ALPHA·r + (1 − ALPHA)·s, starting at
 *     the first r. Closer samples are skipped, so a quick double poll does not count twice.
 *   - The estimate shows once at least MIN_RATES rates went into s and the last one moved s by
 *     at most MAX_CHANGE of itself; from then on it follows s until a start-over, so it does not
 *     blink. It is hidden (null) while s is 0 (nothing moves: no honest time left) and when the
 *     goal is reached.
 *   - The texts are coarse on purpose: "about 4 min left" rather than a seconds countdown that
 *     jumps with every poll.
 */
(function (root, factory) {
    'use strict';
    const api = factory();
    if (typeof module === 'object' && module.exports) {
        module.exports = api;
    }
    root.VPOEta = api;
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
    'use strict';

    const ALPHA = 0.3;
    const MIN_RATES = 3;
    const MAX_CHANGE = 0.25;
    const MIN_GAP_MS = 500;

    /** One smoothed rate of `done` per second towards `goal`. */
    function createRateEstimator(options) {
        const o = Object.assign({ alpha: ALPHA, minRates: MIN_RATES, maxChange: MAX_CHANGE, minGapMs: MIN_GAP_MS }, options || {});
        let last = null; // {t, done, goal}
        let smoothed = null;
        let rates = 0;
        let stable = false;

        function reset() {
            last = null;
            smoothed = null;
            rates = 0;
            stable = false;
        }

        /** Fold one sample in; returns the estimate after it (see `estimate`). */
        function add(t, done, goal) {
            if (!Number.isFinite(t) || !Number.isFinite(done) || !Number.isFinite(goal) || goal <= 0) {
                reset();
                return estimate();
            }
            if (last === null || goal !== last.goal || done < last.done) {
                reset();
                last = { t, done, goal };
                return estimate();
            }
            const dt = t - last.t;
            if (dt < o.minGapMs) {
                return estimate();
            }
            const r = ((done - last.done) * 1000) / dt;
            const before = smoothed;
            smoothed = before === null ? r : o.alpha * r + (1 - o.alpha) * before;
            rates += 1;
            last = { t, done, goal };
            if (!stable && rates >= o.minRates && before !== null && before > 0) {
                stable = Math.abs(smoothed - before) / before <= o.maxChange;
            }
            return estimate();
        }

        /** {rate, remainingSeconds} once stable and moving, else null. */
        function estimate() {
            if (!stable || last === null || !(smoothed > 0) || last.done >= last.goal) {
                return null;
            }
            return { rate: smoothed, remainingSeconds: (last.goal - last.done) / smoothed };
        }

        return { add, reset, estimate };
    }

    /** "about 4 min left"; under a minute "less than a minute left"; hours as "about 2 h 05 min". */
    function etaText(seconds) {
        if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
            return '';
        }
        if (seconds < 60) {
            return 'less than a minute left';
        }
        const minutes = Math.ceil(seconds / 60);
        if (minutes < 60) {
            return 'about ' + minutes + ' min left';
        }
        const h = Math.floor(minutes / 60);
        const m = minutes % 60;
        return 'about ' + h + ' h ' + (m < 10 ? '0' : '') + m + ' min left';
    }

    /** Files per second as people say it: "25 files/s", "2.5 files/s", "12 files/min". */
    function rateText(perSecond) {
        if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond) || perSecond <= 0) {
            return '';
        }
        if (perSecond >= 10) {
            return Math.round(perSecond) + ' files/s';
        }
        if (perSecond >= 1) {
            return (Math.round(perSecond * 10) / 10).toFixed(1) + ' files/s';
        }
        const perMinute = perSecond * 60;
        return perMinute >= 1 ? Math.round(perMinute) + ' files/min' : 'less than 1 file/min';
    }

    /**
     * A running job's ETA (from the overall percent) and rate (from the file counts), sample by
     * sample. `update(t, job)` returns {eta, rate} as texts, '' where not known.
     */
    function createJobEta(options) {
        const byPercent = createRateEstimator(options);
        const byFiles = createRateEstimator(options);

        function update(t, job) {
            if (!job || job.status !== 'running') {
                byPercent.reset();
                byFiles.reset();
                return { eta: '', rate: '' };
            }
            const percent = job.progress_percent === null || job.progress_percent === undefined ? NaN : Number(job.progress_percent);
            const total = job.total_count === null || job.total_count === undefined ? NaN : Number(job.total_count);
            const left = byPercent.add(t, percent, 100);
            const files = byFiles.add(t, Number(job.processed_count), total);
            return {
                eta: left ? etaText(left.remainingSeconds) : '',
                rate: files ? rateText(files.rate) : '',
            };
        }

        return { update };
    }

    return Object.freeze({
        ALPHA,
        MIN_RATES,
        MAX_CHANGE,
        MIN_GAP_MS,
        createRateEstimator,
        createJobEta,
        etaText,
        rateText,
    });
});
