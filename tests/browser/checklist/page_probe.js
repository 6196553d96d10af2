/*
 * The test harness's page probe: served by tests/browser/checklist/harness.py as a same-origin
 * script that runs before any of the page's own scripts, in every engine alike (neither
 * WebKitGTK's driver nor classic WebDriver can add an init script, so the harness adds it).
 *
 * It only records: script errors, CSP violations, calls to alert/confirm/prompt, and every
 * fetch() with its start and end on the page's clock. The page's behaviour is untouched.
 */
(function () {
    'use strict';
    const probe = {
        errors: [],
        csp: [],
        dialogs: [],
        fetches: [],
    };
    window.__probe = probe;

    window.addEventListener('error', (event) => {
        probe.errors.push(String(event.message || event.error || 'error event'));
    });
    window.addEventListener('unhandledrejection', (event) => {
        probe.errors.push('unhandled rejection: ' + String(event.reason));
    });
    document.addEventListener('securitypolicyviolation', (event) => {
        probe.csp.push({
            directive: event.effectiveDirective || event.violatedDirective,
            blocked: String(event.blockedURI || ''),
            source: String(event.sourceFile || ''),
            line: event.lineNumber || 0,
        });
    });
    for (const name of ['alert', 'confirm', 'prompt']) {
        const real = window[name];
        window[name] = function (message) {
            probe.dialogs.push(name + ': ' + String(message));
            return real.apply(window, arguments);
        };
    }

    const realFetch = window.fetch;
    window.fetch = function (input, init) {
        const record = { url: String(input instanceof Request ? input.url : input), t: Date.now(), end: null };
        probe.fetches.push(record);
        const settle = () => {
            record.end = Date.now();
        };
        const answer = realFetch.call(this, input, init);
        answer.then(settle, settle);
        return answer;
    };
})();
