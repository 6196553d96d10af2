/*
 * The job detail page (/jobs/{id}): live status, progress and log tail (docs/design.md §7, §9).
 *
 * Two pollers: the status poller (status interval) drives the connection indicator; the log
 * poller (log interval) runs only while the job is running and asks for lines after the held
 * offset. When the job turns terminal both stop after one final fetch of the status and of the
 * log, so the last lines are never missed. A 404 means the job is gone: the page says so.
 *
 * The status poll also keeps the errors panel growing (when the job's errors_count passes what
 * the panel holds, the missing entries are fetched in the same poll, up to the pages the reader
 * asked for) and feeds the ETA estimator (eta.js) one sample per poll, a 304 included. The
 * Cancel and Retry buttons show when they apply; values are inserted with textContent only.
 */
(function () {
    'use strict';

    const P = window.VPOPolling;
    const F = window.VPOFormat;
    const { setText, setHidden } = window.VPODom;
    const LOG_PAGE_LINES = 1000; // the API's maximum per request
    const EARLIER_LINES = 200;
    const ERRORS_PAGE = 50; // entries per "Show more errors" (web.py ERRORS_PAGE)
    const ERRORS_MAX_REQUEST = 100; // the errors endpoint's maximum limit

    function start() {
        const article = document.getElementById('job-detail');
        if (!article || !P || !F) {
            return;
        }
        const settings = P.loadSettings(document.body);
        const jobId = article.dataset.jobId;
        const jobUrl = '/api/jobs/' + encodeURIComponent(jobId);
        const logBox = document.getElementById('job-log');
        const logEmpty = document.getElementById('log-empty');
        const logRangeEl = document.getElementById('log-range');
        const earlierButton = document.getElementById('log-earlier');
        const progress = document.getElementById('job-progress');
        const errorBox = document.getElementById('job-error');
        let logStart = Number(logBox.dataset.logStart) || 0;
        let logEnd = Number(logBox.dataset.logEnd) || 0; // the held line offset: next line to fetch
        let status = article.dataset.status;
        let etag = null;
        let statusPoller = null;
        let logPoller = null;
        let logChain = Promise.resolve(); // log requests run one after another: no duplicate lines
        let gone = false;
        let lastJob = null; // the newest job seen, for the ETA samples of 304 answers
        const eta = window.VPOEta ? window.VPOEta.createJobEta() : null;
        const etaBox = document.getElementById('job-eta');
        const errorsPanel = document.getElementById('errors-panel');
        const errorsList = document.getElementById('errors-list');
        const errorsCountEl = document.getElementById('errors-count');
        const errorsMore = document.getElementById('errors-more');
        let errorsCount = Number(errorsPanel.dataset.errorsCount) || 0;
        let errorsWanted = Math.max(ERRORS_PAGE, errorsList.children.length);
        let errorsChain = Promise.resolve(); // one errors request at a time: no entry twice
        const cancelButton = document.getElementById('job-cancel');
        const retryButton = document.getElementById('job-retry');
        const actionProblem = document.getElementById('job-action-problem');
        const actionDone = document.getElementById('job-action-done');

        const indicator = window.VPOConnectionStatus.attach(document, {
            onRetry: () => statusPoller && statusPoller.pollNow(),
        });

        // Start at the newest lines.
        logBox.scrollTop = logBox.scrollHeight;
        earlierButton.addEventListener('click', loadEarlier);

        function field(name) {
            return article.querySelector('[data-field="' + name + '"]');
        }

        function render(job) {
            const f = F.detailFields(job);
            for (const name of ['id', 'id_short', 'job_type', 'status', 'priority', 'file_path', 'created_at',
                'started_at', 'completed_at', 'duration', 'phase', 'progress_text', 'files', 'attempts',
                'error_message', 'summary', 'counts', 'has_logs', 'file_path_note']) {
                setText(field(name), f[name]);
            }
            setHidden(field('file_path_note'), f.file_path_note === '');
            const badge = field('status');
            const badgeClass = 'badge ' + f.status_class;
            if (badge.className !== badgeClass) {
                badge.className = badgeClass;
            }
            if (f.progress_mode === 'value') {
                if (progress.getAttribute('value') !== String(f.progress_value)) {
                    progress.setAttribute('value', String(f.progress_value));
                }
            } else if (f.progress_mode === 'indeterminate' && progress.hasAttribute('value')) {
                progress.removeAttribute('value');
            }
            setHidden(progress, f.progress_mode === 'none');
            setHidden(errorBox, f.error_message === '');
            if (article.dataset.status !== job.status) {
                article.dataset.status = job.status;
            }
            status = job.status;
            showActions(f.cancellable, f.retryable);
            if (typeof job.errors_count === 'number') {
                errorsCount = job.errors_count;
            }
        }

        // -- actions -------------------------------------------------------------------------

        function showActions(cancellable, retryable) {
            setHidden(cancelButton, !cancellable);
            setHidden(retryButton, !retryable);
        }

        function say(el, nodes) {
            el.replaceChildren(...nodes);
            setHidden(el, nodes.length === 0);
        }

        async function act(verb, question) {
            if (!window.confirm(question)) {
                return;
            }
            say(actionProblem, []);
            say(actionDone, []);
            const button = verb === 'cancel' ? cancelButton : retryButton;
            button.disabled = true;
            try {
                const r = await P.fetchJson(jobUrl + '/' + verb, { method: 'POST', body: {} });
                if (!r.ok) {
                    const message = r.data && r.data.error ? r.data.error : 'The daemon refused (HTTP ' + r.status + ').';
                    say(actionProblem, [document.createTextNode(message)]);
                } else if (verb === 'retry') {
                    const link = document.createElement('a');
                    link.href = F.jobHref(r.data.id);
                    link.textContent = r.data.id_short;
                    say(actionDone, [document.createTextNode('Queued again as job '), link, document.createTextNode('.')]);
                } else {
                    say(actionDone, [document.createTextNode('Cancel requested.')]);
                }
            } catch (err) {
                say(actionProblem, [document.createTextNode('Could not reach the daemon to ' + verb + ' this job.')]);
            } finally {
                button.disabled = false;
            }
            if (statusPoller) {
                statusPoller.pollNow();
            }
        }

        const shortId = field('id_short').textContent;
        cancelButton.addEventListener('click', () => act('cancel', 'Cancel job ' + shortId + '?'));
        retryButton.addEventListener('click', () => act('retry', 'Run job ' + shortId + ' again as a new job?'));
        showActions(!F.isTerminal(status), F.isRetryable(status));

        // -- errors panel --------------------------------------------------------------------

        function errorItem(error) {
            const c = F.errorCells(error);
            const li = document.createElement('li');
            const path = document.createElement('span');
            path.className = 'error-path';
            path.textContent = c.path;
            path.title = c.path_title;
            const message = document.createElement('span');
            message.className = 'error-message';
            message.textContent = c.message;
            li.append(path, document.createTextNode(' '), message);
            return li;
        }

        function updateErrorsMeta() {
            const shown = errorsList.children.length;
            setText(errorsCountEl, F.errorsText(shown, errorsCount));
            setHidden(errorsMore, shown >= errorsCount);
        }

        /** Fetch the entries the panel should hold and does not yet (several requests if need be). */
        async function fetchErrors(signal) {
            for (;;) {
                const shown = errorsList.children.length;
                const want = Math.min(errorsCount, errorsWanted) - shown;
                if (want <= 0) {
                    break;
                }
                const limit = Math.min(want, ERRORS_MAX_REQUEST);
                const r = await P.fetchJson(jobUrl + '/errors?offset=' + shown + '&limit=' + limit, { signal });
                if (!r.ok || r.data.offset !== errorsList.children.length) {
                    break; // 404 is the status poll's to report; a stale offset is dropped
                }
                const fragment = document.createDocumentFragment();
                for (const error of r.data.errors) {
                    fragment.append(errorItem(error));
                }
                errorsList.append(fragment);
                errorsCount = Math.max(errorsCount, r.data.total);
                if (r.data.errors.length === 0) {
                    break;
                }
            }
            updateErrorsMeta();
        }

        function queueErrorsFetch(signal) {
            const run = errorsChain.then(() => fetchErrors(signal));
            errorsChain = run.catch(() => {});
            return run;
        }

        errorsMore.addEventListener('click', async () => {
            errorsWanted = errorsList.children.length + ERRORS_PAGE;
            errorsMore.disabled = true;
            try {
                await queueErrorsFetch();
            } catch (err) {
                // The connection indicator tells the story; the button stays usable.
            } finally {
                errorsMore.disabled = false;
            }
        });

        // -- ETA -----------------------------------------------------------------------------

        function updateEta(job) {
            if (!eta || !etaBox) {
                return;
            }
            const out = eta.update(Date.now(), job);
            setText(etaBox.querySelector('[data-eta="eta"]'), out.eta);
            setText(etaBox.querySelector('[data-eta="rate"]'), out.rate ? '(' + out.rate + ')' : '');
            setHidden(etaBox, out.eta === '' && out.rate === '');
        }

        function atBottom() {
            return logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 4;
        }

        function lineElement(line) {
            const div = document.createElement('div');
            div.className = 'log-line level-' + F.logLevel(line);
            div.textContent = F.visible(line);
            return div;
        }

        function updateLogMeta() {
            setText(logRangeEl, F.logRange(logStart, logEnd));
            setHidden(logEmpty, logEnd > logStart);
            setHidden(earlierButton, logStart === 0);
        }

        function appendLines(lines) {
            if (!lines.length) {
                return;
            }
            // Follow the tail only when the reader is already there; never yank them down.
            const follow = atBottom();
            const fragment = document.createDocumentFragment();
            for (const line of lines) {
                fragment.append(lineElement(line));
            }
            logBox.append(fragment);
            if (follow) {
                logBox.scrollTop = logBox.scrollHeight;
            }
        }

        /** Fetch every line after the held offset (several pages if needed). */
        async function fetchNewLines(signal) {
            for (;;) {
                const url = jobUrl + '/logs?offset=' + logEnd + '&lines=' + LOG_PAGE_LINES;
                const r = await P.fetchJson(url, { signal });
                if (signal && signal.aborted) {
                    return;
                }
                if (r.status === 404) {
                    showGone();
                    return;
                }
                if (!r.ok) {
                    return;
                }
                const page = r.data;
                if (page.offset !== logEnd) {
                    return; // an answer for an offset we no longer hold
                }
                appendLines(page.lines);
                logEnd = page.offset + page.lines.length;
                updateLogMeta();
                if (!page.has_more || page.lines.length === 0) {
                    return;
                }
            }
        }

        function queueLogFetch(signal) {
            const run = logChain.then(() => fetchNewLines(signal));
            logChain = run.catch(() => {});
            return run;
        }

        async function loadEarlier() {
            if (logStart === 0) {
                return;
            }
            const from = Math.max(0, logStart - EARLIER_LINES);
            earlierButton.disabled = true;
            try {
                const r = await P.fetchJson(jobUrl + '/logs?offset=' + from + '&lines=' + (logStart - from));
                if (r.ok && r.data.offset === from) {
                    // Keep the lines the reader is looking at where they are.
                    const before = logBox.scrollHeight;
                    const fragment = document.createDocumentFragment();
                    for (const line of r.data.lines) {
                        fragment.append(lineElement(line));
                    }
                    logBox.prepend(fragment);
                    logBox.scrollTop += logBox.scrollHeight - before;
                    logStart = from;
                    updateLogMeta();
                }
            } catch (err) {
                // The connection indicator already tells the story; the button stays usable.
            } finally {
                earlierButton.disabled = false;
            }
        }

        function startLogPolling() {
            if (logPoller || gone) {
                return;
            }
            logPoller = P.createPoller({
                task: (signal) => queueLogFetch(signal),
                intervalMs: settings.logIntervalMs,
                rules: settings.rules,
            });
            logPoller.start();
        }

        function stopLogPolling() {
            if (logPoller) {
                logPoller.stop();
                logPoller = null;
            }
        }

        function showGone() {
            if (gone) {
                return;
            }
            gone = true;
            stopLogPolling();
            if (statusPoller) {
                statusPoller.stop();
            }
            indicator.finished('Live updates stopped');
            const main = document.getElementById('main');
            const heading = document.createElement('h1');
            heading.textContent = 'This job no longer exists';
            const text = document.createElement('p');
            text.textContent = 'It may have been removed by the retention setting.';
            const back = document.createElement('p');
            const link = document.createElement('a');
            link.href = '/jobs';
            link.textContent = 'Back to all jobs';
            back.append(link);
            main.replaceChildren(heading, text, back);
            document.title = 'Job not found \u00b7 VPO';
        }

        async function pollStatus(signal) {
            const r = await P.fetchJson(jobUrl, { signal, etag });
            statusPoller.noteHint(r.pollIntervalMs);
            if (r.notModified) {
                updateEta(lastJob);
                return null;
            }
            if (r.status === 404) {
                showGone();
                return P.STOP;
            }
            if (!r.ok) {
                return null;
            }
            etag = r.etag;
            lastJob = r.data;
            render(r.data);
            updateEta(r.data);
            await queueErrorsFetch(signal);
            if (F.isTerminal(status)) {
                // The final fetch of the log; then nothing more to ask.
                stopLogPolling();
                await queueLogFetch(signal);
                indicator.finished('Job ' + status + ' \u00b7 updates stopped');
                return P.STOP;
            }
            if (status === 'running') {
                startLogPolling();
            }
            return null;
        }

        updateLogMeta();
        window.VPOJobDetailPage = {
            get statusPoller() {
                return statusPoller;
            },
            get logPoller() {
                return logPoller;
            },
        };

        if (!settings.enabled) {
            indicator.disabled();
            return;
        }
        if (F.isTerminal(status)) {
            // Rendered after the job ended: the page is already final.
            indicator.finished('Job ' + status + ' \u00b7 updates stopped');
            return;
        }
        statusPoller = P.createPoller({
            task: pollStatus,
            intervalMs: settings.intervalMs,
            rules: settings.rules,
            onState: (info) => {
                if (!info.stopped) {
                    indicator.update(info);
                }
            },
            onBusy: indicator.busy,
        });
        statusPoller.start();
        if (status === 'running') {
            startLogPolling();
        }
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
})();
