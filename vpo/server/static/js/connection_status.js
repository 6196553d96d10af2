/*
 * VPOConnectionStatus: the header's connection indicator (#connection-status) and the refresh
 * indicator (#refresh-indicator), driven by a poller's state reports (docs/design.md §7).
 *
 * The live region's text changes only when the state changes, so screen readers hear
 * "Offline, next try in 40 seconds" once rather than a countdown every second; the ticking
 * countdown sits in an aria-hidden span beside it.
 */
(function (root, factory) {
    'use strict';
    const dom = root.VPODom || (typeof require === 'function' ? require('./dom.js') : null);
    const api = factory(dom);
    if (typeof module === 'object' && module.exports) {
        module.exports = api;
    }
    root.VPOConnectionStatus = api;
})(typeof globalThis !== 'undefined' ? globalThis : this, function (dom) {
    'use strict';

    const { setText, setAttr } = dom;

    const LABELS = {
        connected: 'Connected',
        reconnecting: 'Reconnecting\u2026',
        offline: 'Offline',
    };

    function seconds(ms) {
        return Math.max(0, Math.ceil(ms / 1000));
    }

    /**
     * Bind to the indicator elements in `doc`. Returns {update(info), busy(bool), finished(text),
     * disabled(), destroy()}. `onRetry` runs when the user presses "Retry now".
     */
    function attach(doc, options) {
        const opts = options || {};
        const env = Object.assign(
            { setInterval: globalThis.setInterval.bind(globalThis), clearInterval: globalThis.clearInterval.bind(globalThis), now: () => Date.now() },
            opts.env || {}
        );
        const root = doc.getElementById('connection-status');
        const textEl = root ? root.querySelector('.connection-text') : null;
        const nextEl = root ? root.querySelector('.connection-next') : null;
        const srEl = root ? root.querySelector('.connection-detail') : null;
        const retry = doc.getElementById('connection-retry');
        const refresh = doc.getElementById('refresh-indicator');
        let ticker = null;
        let nextPollAt = null;
        let lastKey = null;

        function stopTicker() {
            if (ticker !== null) {
                env.clearInterval(ticker);
                ticker = null;
            }
        }

        function tick() {
            if (nextPollAt === null) {
                setText(nextEl, '');
                return;
            }
            setText(nextEl, ' \u00b7 next try in ' + seconds(nextPollAt - env.now()) + ' s');
        }

        function onRetryClick() {
            if (opts.onRetry) {
                opts.onRetry();
            }
        }

        if (retry) {
            retry.addEventListener('click', onRetryClick);
        }

        /** A poller state report: {state, failures, nextPollAt, paused, stopped, busy}. */
        function update(info) {
            if (!root) {
                return;
            }
            setAttr(root, 'data-state', info.state);
            setAttr(root, 'data-live', 'on');
            const offline = info.state === 'offline';
            const waiting = offline && !info.paused && !info.stopped && info.nextPollAt !== null && !info.busy;
            nextPollAt = waiting ? info.nextPollAt : null;
            // Announced once per state and retry time; the ticking countdown is aria-hidden.
            let label = LABELS[info.state] || info.state;
            if (offline && info.busy) {
                label += ', trying now';
            }
            setText(textEl, label);
            const key = waiting ? String(info.nextPollAt) : '';
            if (key !== lastKey) {
                lastKey = key;
                setText(srEl, waiting ? ', next try in ' + seconds(info.nextPollAt - env.now()) + ' seconds' : '');
            }
            if (waiting) {
                tick();
                if (ticker === null) {
                    ticker = env.setInterval(tick, 1000);
                }
            } else {
                stopTicker();
                setText(nextEl, '');
            }
            if (retry) {
                const hide = !offline || info.stopped;
                if (retry.hidden !== hide) {
                    retry.hidden = hide;
                }
            }
        }

        function busy(isBusy) {
            setAttr(refresh, 'data-busy', isBusy ? 'true' : 'false');
        }

        /** Polling ended on purpose (a finished job): say so instead of a stale state. */
        function finished(text) {
            stopTicker();
            nextPollAt = null;
            lastKey = null;
            setText(nextEl, '');
            setText(srEl, '');
            setText(textEl, text);
            setAttr(root, 'data-live', 'off');
            if (retry) {
                retry.hidden = true;
            }
            busy(false);
        }

        function disabled() {
            finished('Live updates off');
        }

        function destroy() {
            stopTicker();
            if (retry) {
                retry.removeEventListener('click', onRetryClick);
            }
        }

        return { update, busy, finished, disabled, destroy };
    }

    return { attach, LABELS };
});
