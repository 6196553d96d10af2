/*
 * VPOPolling: the one poller of the web pages (docs/design.md §7).
 *
 * The rules (intervals, backoff, connection states, request timeout) are data: the server puts
 * vpo/polling_rules.json into <body data-polling-rules>, and the node tests load the same file,
 * so the page and the TUI cannot drift apart.
 *
 * Loaded as a classic script in the browser (window.VPOPolling) and with require() in node tests
 * (module.exports); it touches the DOM only through what it is given.
 */
(function (root, factory) {
    'use strict';
    const api = factory();
    if (typeof module === 'object' && module.exports) {
        module.exports = api;
    }
    root.VPOPolling = api;
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
    'use strict';

    /** Returned (resolved) by a poll task to end polling after this poll, e.g. a terminal job. */
    const STOP = Object.freeze({ stop: true });

    const CONNECTED = 'connected';
    const RECONNECTING = 'reconnecting';
    const OFFLINE = 'offline';

    /** A poll that counts as a failure for backoff: network error, timeout, 5xx, 429. */
    class PollFailure extends Error {
        constructor(kind, message, status) {
            super(message);
            this.name = 'PollFailure';
            this.kind = kind;
            this.status = status === undefined ? null : status;
        }
    }

    function clamp(value, low, high) {
        return Math.min(Math.max(value, low), high);
    }

    function toNumber(text, fallback) {
        const n = Number(text);
        return text !== null && text !== undefined && text !== '' && Number.isFinite(n) ? n : fallback;
    }

    /**
     * Intervals as the page will use them. The daemon already clamps its config; clamping again
     * here keeps a hand-edited page or a bad attribute from polling every millisecond.
     */
    function normalizeSettings(rules, raw) {
        const iv = rules.interval_ms;
        const intervalMs = clamp(toNumber(raw.intervalMs, iv.default), iv.min, iv.max);
        const logDefault = Math.max(rules.log_interval_ms.default, intervalMs);
        const logIntervalMs = Math.max(toNumber(raw.logIntervalMs, logDefault), intervalMs);
        const enabled = raw.enabled === undefined || raw.enabled === null ? true : raw.enabled;
        return { rules, intervalMs, logIntervalMs, enabled: Boolean(enabled) };
    }

    /** Settings from <body data-polling-*> (seconds or ms as the server wrote them: ms). */
    function loadSettings(body) {
        const data = body.dataset;
        const rules = JSON.parse(data.pollingRules);
        return normalizeSettings(rules, {
            intervalMs: data.pollingInterval,
            logIntervalMs: data.pollingLogInterval,
            enabled: data.pollingEnabled !== 'false',
        });
    }

    /** Delay before the next poll after `failures` consecutive failures (§7 backoff). */
    function delayAfter(failures, intervalMs, rules) {
        const b = rules.backoff;
        if (failures < b.failures_before_backoff) {
            return intervalMs;
        }
        const steps = failures - b.failures_before_backoff;
        // Cap the exponent: 2**1000 is Infinity, which min() handles, but keep numbers sane.
        const grown = b.initial_delay_ms * Math.pow(b.multiplier, Math.min(steps, 30));
        return Math.min(grown, b.max_delay_ms);
    }

    /**
     * The wait after a successful poll given its answer's X-Poll-Interval hint (the rule of
     * vpo/poll_hint.py). A hint no longer than the daemon's configured interval means work is
     * queued or running: keep our own pace. A longer one means the daemon is idle: wait that
     * long, never less than our interval, never more than the rules' maximum interval.
     */
    function hintedIntervalMs(intervalMs, hintMs, busyIntervalMs, rules) {
        if (hintMs === null || hintMs === undefined || hintMs <= busyIntervalMs) {
            return intervalMs;
        }
        return Math.min(Math.max(hintMs, intervalMs), rules.interval_ms.max);
    }

    /** The ms of an X-Poll-Interval header, or null when absent or not a whole positive number. */
    function parseHint(text) {
        if (text === null || text === undefined) {
            return null;
        }
        const trimmed = String(text).trim();
        if (!/^[0-9]{1,9}$/.test(trimmed)) {
            return null;
        }
        const ms = Number(trimmed);
        return ms > 0 ? ms : null;
    }

    /** Connection state for `failures` consecutive failures. */
    function stateFor(failures, rules) {
        const s = rules.states;
        if (failures >= s.offline) {
            return OFFLINE;
        }
        if (failures >= s.reconnecting) {
            return RECONNECTING;
        }
        return CONNECTED;
    }

    function defaultEnv() {
        const g = globalThis;
        return {
            setTimeout: g.setTimeout.bind(g),
            clearTimeout: g.clearTimeout.bind(g),
            now: () => Date.now(),
            document: g.document || null,
            window: g.window || null,
            AbortController: g.AbortController,
        };
    }

    /**
     * A poll loop. `task(signal)` does one poll: resolve = success, reject = failure, resolve
     * with STOP = success and no more polls. One task at a time; the next one is scheduled only
     * after the previous one ended, so slow answers never stack requests.
     *
     * options: task, intervalMs, rules, onState(info), onBusy(bool), startDelayMs (first poll;
     * default 0), pauseWhenHidden (default true), busyIntervalMs (the daemon's configured
     * interval, the yardstick of its X-Poll-Interval hint; default intervalMs), env (timers,
     * clock, document, window; tests). A task reports its answer's hint with noteHint(ms).
     */
    function createPoller(options) {
        const env = Object.assign(defaultEnv(), options.env || {});
        const rules = options.rules;
        const intervalMs = options.intervalMs;
        const task = options.task;
        const onState = options.onState || function () {};
        const onBusy = options.onBusy || function () {};
        const pauseWhenHidden = options.pauseWhenHidden !== false;
        const busyIntervalMs = options.busyIntervalMs || intervalMs;
        const doc = pauseWhenHidden ? env.document : null;
        const win = env.window;

        let failures = 0;
        let timer = null; // the scheduled next poll
        let timeoutTimer = null; // the in-flight request's deadline
        let controller = null;
        let inFlight = false;
        let generation = 0; // results of an abandoned request are ignored
        let paused = false; // page hidden
        let frozen = false; // pagehide: page unloading or entering the back/forward cache
        let stopped = true;
        let nextPollAt = null;
        let lastDelayMs = null;
        let pollCount = 0;
        let hintMs = null; // from the last successful answer
        let answerHint = null; // from the answer of the poll in flight

        function effectiveIntervalMs() {
            return hintedIntervalMs(intervalMs, hintMs, busyIntervalMs, rules);
        }

        function info() {
            return {
                state: stateFor(failures, rules),
                failures,
                delayMs: lastDelayMs,
                intervalMs: effectiveIntervalMs(),
                nextPollAt,
                paused,
                stopped,
                busy: inFlight,
            };
        }

        function emit() {
            onState(info());
        }

        function clearScheduled() {
            if (timer !== null) {
                env.clearTimeout(timer);
                timer = null;
            }
            nextPollAt = null;
        }

        function abandonInFlight() {
            if (timeoutTimer !== null) {
                env.clearTimeout(timeoutTimer);
                timeoutTimer = null;
            }
            if (inFlight) {
                generation += 1;
                inFlight = false;
                if (controller) {
                    controller.abort();
                }
                controller = null;
                onBusy(false);
            }
        }

        function schedule(delayMs) {
            clearScheduled();
            lastDelayMs = delayMs;
            nextPollAt = env.now() + delayMs;
            timer = env.setTimeout(function () {
                timer = null;
                nextPollAt = null;
                runPoll();
            }, delayMs);
        }

        function finish(gen, ok, value) {
            if (gen !== generation || !inFlight) {
                return; // timed out already, or abandoned by stop()/pagehide
            }
            inFlight = false;
            controller = null;
            if (timeoutTimer !== null) {
                env.clearTimeout(timeoutTimer);
                timeoutTimer = null;
            }
            failures = ok ? 0 : failures + 1;
            // A failure says nothing about the daemon's work: back to our own interval.
            hintMs = ok ? answerHint : null;
            onBusy(false);
            if (ok && value === STOP) {
                stopPolling();
                return;
            }
            if (stopped || frozen || paused) {
                // Hidden while the request ran: stay quiet until visible again.
                lastDelayMs = delayAfter(failures, effectiveIntervalMs(), rules);
                emit();
                return;
            }
            schedule(delayAfter(failures, effectiveIntervalMs(), rules));
            emit();
        }

        function runPoll() {
            if (inFlight || stopped || frozen) {
                return;
            }
            // A timer that fires while hidden (the event came late) must not poll.
            if (doc && doc.hidden) {
                paused = true;
                emit();
                return;
            }
            clearScheduled();
            inFlight = true;
            answerHint = null;
            pollCount += 1;
            generation += 1;
            const gen = generation;
            controller = env.AbortController ? new env.AbortController() : null;
            const signal = controller ? controller.signal : undefined;
            timeoutTimer = env.setTimeout(function () {
                timeoutTimer = null;
                const c = controller;
                finish(gen, false, new PollFailure('timeout', 'request timed out'));
                if (c) {
                    c.abort();
                }
            }, rules.request_timeout_ms);
            onBusy(true);
            emit();
            let result;
            try {
                result = Promise.resolve(task(signal));
            } catch (err) {
                result = Promise.reject(err);
            }
            result.then(
                function (value) {
                    finish(gen, true, value);
                },
                function (err) {
                    finish(gen, false, err);
                }
            );
        }

        function onVisibility() {
            if (stopped || frozen) {
                return;
            }
            if (doc.hidden) {
                paused = true;
                clearScheduled();
                emit();
                return;
            }
            if (!paused) {
                return;
            }
            paused = false;
            if (inFlight) {
                // The running request schedules the next one when it ends: no second loop.
                emit();
                return;
            }
            runPoll();
        }

        function onPageHide() {
            if (stopped) {
                return;
            }
            frozen = true;
            clearScheduled();
            abandonInFlight();
            emit();
        }

        function onPageShow(event) {
            // Back/forward cache restore: the page lives again, so do its polls.
            if (stopped || !frozen || !event || !event.persisted) {
                return;
            }
            frozen = false;
            paused = Boolean(doc && doc.hidden);
            if (!paused) {
                runPoll();
            } else {
                emit();
            }
        }

        function addListeners() {
            if (doc) {
                doc.addEventListener('visibilitychange', onVisibility);
            }
            if (win) {
                win.addEventListener('pagehide', onPageHide);
                win.addEventListener('pageshow', onPageShow);
            }
        }

        function removeListeners() {
            if (doc) {
                doc.removeEventListener('visibilitychange', onVisibility);
            }
            if (win) {
                win.removeEventListener('pagehide', onPageHide);
                win.removeEventListener('pageshow', onPageShow);
            }
        }

        function stopPolling() {
            if (stopped) {
                return;
            }
            stopped = true;
            clearScheduled();
            abandonInFlight();
            removeListeners();
            emit();
        }

        function start() {
            if (!stopped) {
                return api;
            }
            stopped = false;
            frozen = false;
            addListeners();
            paused = Boolean(doc && doc.hidden);
            const first = options.startDelayMs || 0;
            if (paused) {
                emit();
            } else if (first > 0) {
                schedule(first);
                emit();
            } else {
                runPoll();
            }
            return api;
        }

        /** Poll now (a user asked, or the view changed); no-op while a poll runs. */
        function pollNow() {
            if (stopped || frozen || inFlight) {
                return false;
            }
            paused = Boolean(doc && doc.hidden);
            if (paused) {
                return false;
            }
            runPoll();
            return true;
        }

        /** The hint of the answer to the poll in flight (null: none); used when it succeeds. */
        function noteHint(ms) {
            answerHint = ms === undefined ? null : ms;
        }

        /**
         * This page just started a job: back to the configured interval at once. Forgets the
         * idle hint and brings a poll scheduled further out than one interval forward to one
         * interval from now.
         */
        function resetHint() {
            hintMs = null;
            if (timer === null || nextPollAt === null || stopped || frozen || paused) {
                return false;
            }
            if (nextPollAt - env.now() <= intervalMs) {
                return false;
            }
            schedule(intervalMs);
            emit();
            return true;
        }

        const api = {
            start,
            stop: stopPolling,
            pollNow,
            noteHint,
            resetHint,
            get failures() {
                return failures;
            },
            get state() {
                return stateFor(failures, rules);
            },
            get busy() {
                return inFlight;
            },
            get paused() {
                return paused;
            },
            get stopped() {
                return stopped;
            },
            get nextPollAt() {
                return nextPollAt;
            },
            get pollCount() {
                return pollCount;
            },
            get hintMs() {
                return hintMs;
            },
            info,
        };
        return api;
    }

    /**
     * GET (or POST) JSON from the daemon. Resolves {status, ok, etag, data, notModified}; rejects
     * with PollFailure for the outcomes §7 counts as failures (network error, abort/timeout, 5xx,
     * 429). Other 4xx resolve, so the page can show them (404: job gone; 400: bad filter).
     */
    async function fetchJson(url, opts) {
        const o = opts || {};
        const headers = { Accept: 'application/json' };
        if (o.etag) {
            headers['If-None-Match'] = o.etag;
        }
        const init = { method: o.method || 'GET', headers, credentials: 'same-origin', signal: o.signal };
        if (o.body !== undefined) {
            headers['Content-Type'] = 'application/json';
            init.body = JSON.stringify(o.body);
        }
        const fetchFn = o.fetch || globalThis.fetch;
        let response;
        try {
            response = await fetchFn(url, init);
        } catch (err) {
            const kind = err && err.name === 'AbortError' ? 'aborted' : 'network';
            throw new PollFailure(kind, String((err && err.message) || err));
        }
        // The daemon's X-Poll-Interval hint, sent on 304s as well (docs/api.md).
        const pollIntervalMs = parseHint(response.headers.get('X-Poll-Interval'));
        if (response.status === 304) {
            return { status: 304, ok: true, etag: o.etag || null, data: null, notModified: true, pollIntervalMs };
        }
        if (response.status >= 500 || response.status === 429) {
            throw new PollFailure('server', 'HTTP ' + response.status, response.status);
        }
        let data = null;
        try {
            data = await response.json();
        } catch (err) {
            if (err && err.name === 'AbortError') {
                throw new PollFailure('aborted', 'request aborted');
            }
            throw new PollFailure('body', 'response was not JSON', response.status);
        }
        return {
            status: response.status,
            ok: response.ok,
            etag: response.headers.get('ETag'),
            data,
            notModified: false,
            pollIntervalMs,
        };
    }

    return {
        STOP,
        CONNECTED,
        RECONNECTING,
        OFFLINE,
        PollFailure,
        normalizeSettings,
        loadSettings,
        delayAfter,
        hintedIntervalMs,
        parseHint,
        stateFor,
        createPoller,
        fetchJson,
    };
});
