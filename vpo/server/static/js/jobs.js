/*
 * The jobs dashboard (/jobs): keeps the server-rendered table live (docs/design.md §7, §9).
 *
 * Each poll asks for exactly the view's query (the server writes it, validated, into
 * data-api-query) with If-None-Match. A 304 touches nothing. A 200 is applied row by row, keyed
 * by job id: a cell is written only when its text differs, new jobs are inserted where the
 * server's order puts them, vanished jobs are removed. Nothing is rebuilt, so scroll position,
 * focus and an open row menu survive every poll. Values are inserted with textContent only.
 *
 * The same poll then asks for the counters above the list (GET /api/stats, with its own tag), so
 * both follow one set of polling rules and one connection indicator. Row menus cancel and retry
 * jobs; a job queued from this page (a retry, or the "New scan" form in new_scan.js through
 * window.VPOJobsPage.showNewJob) shows at once and is highlighted for a few seconds.
 */
(function () {
    'use strict';

    const P = window.VPOPolling;
    const F = window.VPOFormat;
    const { setText, setAttr, setHidden } = window.VPODom;
    // How long a job queued from this page stays highlighted.
    const HIGHLIGHT_MS = 6000;

    function setProgress(progress, mode, value) {
        if (mode === 'value') {
            if (progress.getAttribute('value') !== String(value)) {
                progress.setAttribute('value', String(value));
            }
        } else if (mode === 'indeterminate' && progress.hasAttribute('value')) {
            progress.removeAttribute('value');
        }
        setHidden(progress, mode === 'none');
    }

    function el(tag, className, text) {
        const node = document.createElement(tag);
        if (className) {
            node.className = className;
        }
        if (text !== undefined) {
            node.textContent = text;
        }
        return node;
    }

    /** A new row with the structure of templates/_job_row.html. */
    function buildRow(job, c) {
        const tr = document.createElement('tr');
        tr.dataset.jobId = job.id;

        const idCell = el('td', 'col-id');
        idCell.dataset.col = 'id';
        const link = el('a', '', c.id_short);
        link.href = c.href;
        idCell.append(link);

        const typeCell = el('td', 'col-type', c.job_type);
        typeCell.dataset.col = 'job_type';

        const statusCell = el('td', 'col-status');
        statusCell.dataset.col = 'status';
        statusCell.append(el('span', 'badge ' + c.status_class, c.status));

        const progressCell = el('td', 'col-progress');
        progressCell.dataset.col = 'progress';
        const progress = document.createElement('progress');
        progress.max = 100;
        progress.setAttribute('aria-label', 'Progress of job ' + c.id_short);
        setProgress(progress, c.progress_mode, c.progress_value);
        progressCell.append(progress, document.createTextNode(' '), el('span', 'progress-text', c.progress_text));

        const pathCell = el('td', 'col-path', c.file_path);
        pathCell.dataset.col = 'file_path';
        pathCell.title = c.file_path_title;

        const createdCell = el('td', 'col-created');
        createdCell.dataset.col = 'created';
        const time = el('time', '', c.created);
        time.dateTime = job.created_at || '';
        createdCell.append(time);

        const durationCell = el('td', 'col-duration', c.duration);
        durationCell.dataset.col = 'duration';

        const actionsCell = el('td', 'col-actions');
        actionsCell.dataset.col = 'actions';
        const menu = el('details', 'row-menu');
        const summary = el('summary', '', '\u2026');
        summary.setAttribute('aria-label', 'Actions for job ' + c.id_short);
        const items = el('div', 'menu');
        const open = el('a', '', 'Open details');
        open.href = c.href;
        const cancel = el('button', '', 'Cancel job');
        cancel.type = 'button';
        cancel.dataset.action = 'cancel';
        cancel.hidden = !c.cancellable;
        const retry = el('button', '', 'Retry job');
        retry.type = 'button';
        retry.dataset.action = 'retry';
        retry.hidden = !c.retryable;
        items.append(open, cancel, retry);
        menu.append(summary, items);
        actionsCell.append(menu);

        tr.append(idCell, typeCell, statusCell, progressCell, pathCell, createdCell, durationCell, actionsCell);
        return tr;
    }

    function cellOf(tr, col) {
        return tr.querySelector('td[data-col="' + col + '"]');
    }

    /** Write only what differs; an unchanged job causes no DOM mutation at all. */
    function updateRow(tr, job, c) {
        const link = cellOf(tr, 'id').querySelector('a');
        setText(link, c.id_short);
        setText(cellOf(tr, 'job_type'), c.job_type);
        const badge = cellOf(tr, 'status').querySelector('.badge');
        setText(badge, c.status);
        const badgeClass = 'badge ' + c.status_class;
        if (badge.className !== badgeClass) {
            badge.className = badgeClass;
        }
        const progressCell = cellOf(tr, 'progress');
        setProgress(progressCell.querySelector('progress'), c.progress_mode, c.progress_value);
        setText(progressCell.querySelector('.progress-text'), c.progress_text);
        const pathCell = cellOf(tr, 'file_path');
        setText(pathCell, c.file_path);
        setAttr(pathCell, 'title', c.file_path_title);
        const time = cellOf(tr, 'created').querySelector('time');
        setText(time, c.created);
        setAttr(time, 'datetime', job.created_at || '');
        setText(cellOf(tr, 'duration'), c.duration);
        const actions = cellOf(tr, 'actions');
        setHidden(actions.querySelector('[data-action="cancel"]'), !c.cancellable);
        setHidden(actions.querySelector('[data-action="retry"]'), !c.retryable);
    }

    /** Move a row without losing the keyboard focus inside it (moving a node blurs it). */
    function moveRow(tbody, tr, before) {
        const active = document.activeElement;
        const hadFocus = active && active !== document.body && tr.contains(active);
        tbody.insertBefore(tr, before);
        if (hadFocus && document.activeElement !== active) {
            active.focus({ preventScroll: true });
        }
    }

    /**
     * The row the user is reading: the first one that stays and is not hidden under the sticky
     * header, with its place on screen. None while the page is at the top (new jobs at the top
     * of the list should then come into view, as they do in every browser).
     */
    function readingAnchor(tbody, wanted) {
        if (window.scrollY <= 0) {
            return null;
        }
        const header = document.querySelector('.site-header');
        const covered = header ? header.getBoundingClientRect().bottom : 0;
        for (const tr of tbody.querySelectorAll('tr[data-job-id]')) {
            const rect = tr.getBoundingClientRect();
            if (rect.bottom > covered && wanted.has(tr.dataset.jobId)) {
                return { tr, top: rect.top };
            }
        }
        return null;
    }

    /**
     * Scroll by however far the anchor row moved, so rows inserted or removed above it do not
     * push what the user reads up or down. WebKit (Safari) has no CSS scroll anchoring and the
     * stylesheet turns it off elsewhere (overflow-anchor: none), so this is the one mechanism.
     */
    function keepAnchorInPlace(anchor) {
        if (!anchor || !anchor.tr.isConnected) {
            return;
        }
        const moved = anchor.tr.getBoundingClientRect().top - anchor.top;
        if (Math.abs(moved) >= 0.5) {
            window.scrollBy(0, moved);
        }
    }

    /** Bring the table body in line with `jobs` (the server's order) with as few changes as possible. */
    function applyRows(tbody, emptyRow, jobs) {
        const existing = new Map();
        for (const tr of tbody.querySelectorAll('tr[data-job-id]')) {
            existing.set(tr.dataset.jobId, tr);
        }
        const wanted = new Set(jobs.map((job) => job.id));
        const anchor = readingAnchor(tbody, wanted);
        for (const [id, tr] of existing) {
            if (!wanted.has(id)) {
                tr.remove();
                existing.delete(id);
            }
        }
        let cursor = tbody.firstElementChild;
        for (const job of jobs) {
            const cells = F.listCells(job);
            let tr = existing.get(job.id);
            if (tr) {
                updateRow(tr, job, cells);
            } else {
                tr = buildRow(job, cells);
            }
            if (tr === cursor) {
                cursor = cursor.nextElementSibling;
            } else {
                moveRow(tbody, tr, cursor);
            }
        }
        setHidden(emptyRow, jobs.length > 0);
        keepAnchorInPlace(anchor);
    }

    function pageHref(offset) {
        const url = new URL(window.location.href);
        if (offset > 0) {
            url.searchParams.set('offset', String(offset));
        } else {
            url.searchParams.delete('offset');
        }
        return url.pathname + url.search;
    }

    function setLink(link, href) {
        if (href) {
            setAttr(link, 'href', href);
            if (link.hasAttribute('aria-disabled')) {
                link.removeAttribute('aria-disabled');
            }
        } else {
            if (link.hasAttribute('href')) {
                link.removeAttribute('href');
            }
            setAttr(link, 'aria-disabled', 'true');
        }
    }

    function start() {
        const table = document.getElementById('jobs-table');
        const body = document.body;
        if (!table || !P || !F) {
            return;
        }
        const settings = P.loadSettings(body);
        const tbody = document.getElementById('jobs-body');
        const emptyRow = tbody.querySelector('tr.empty-row');
        const emptyCell = emptyRow.querySelector('td');
        const countEl = document.getElementById('jobs-count');
        const pageInfo = document.getElementById('page-info');
        const prev = document.getElementById('page-prev');
        const next = document.getElementById('page-next');
        const apiQuery = table.dataset.apiQuery;
        const defaultView = table.dataset.defaultView === 'true';
        const statEls = {
            running: document.querySelector('#job-stats [data-stat="running"]'),
            queued: document.querySelector('#job-stats [data-stat="queued"]'),
            failed: document.querySelector('#job-stats [data-stat="failed"]'),
        };
        let etag = null;
        let statsEtag = null;
        let poller = null;
        let highlighted = null; // {id, timer}

        if (table.dataset.queryError === 'true') {
            // The page shows the whole list in place of the bad view: the address says so too,
            // so a reload or a shared link shows what is on screen.
            window.history.replaceState(window.history.state, '', '/jobs');
        }

        const status = window.VPOConnectionStatus.attach(document, {
            onRetry: () => poller && poller.pollNow(),
        });

        enhanceFilters();

        function applyStats(stats) {
            setText(statEls.running, String(stats.running));
            setText(statEls.queued, String(stats.queued));
            setText(statEls.failed, String(stats.last_24h.failed));
        }

        function markHighlight() {
            if (!highlighted) {
                return;
            }
            const tr = tbody.querySelector('tr[data-job-id="' + highlighted.id + '"]');
            if (tr && !tr.classList.contains('just-queued')) {
                tr.classList.add('just-queued');
            }
        }

        /**
         * A job queued from this page (201 answer: the detail shape, which has every list field).
         * In the default view (newest first, no filter, first page) it goes to the top at once;
         * anywhere else the next poll puts it where the view says, if the view shows it. Returns
         * whether the row is on the page now.
         */
        function showNewJob(job) {
            if (highlighted) {
                window.clearTimeout(highlighted.timer);
                const old = tbody.querySelector('tr.just-queued');
                if (old) {
                    old.classList.remove('just-queued');
                }
            }
            highlighted = {
                id: job.id,
                timer: window.setTimeout(() => {
                    const tr = tbody.querySelector('tr.just-queued');
                    if (tr) {
                        tr.classList.remove('just-queued');
                    }
                    highlighted = null;
                }, HIGHLIGHT_MS),
            };
            let tr = tbody.querySelector('tr[data-job-id="' + job.id + '"]');
            if (!tr && defaultView) {
                tr = buildRow(job, F.listCells(job));
                tbody.insertBefore(tr, tbody.firstElementChild);
                setHidden(emptyRow, true);
            }
            markHighlight();
            if (poller) {
                // A job this page started: the daemon is busy now, whatever an idle hint said.
                poller.resetHint();
                poller.pollNow();
            }
            return Boolean(tr);
        }

        window.VPOJobsPage = { poller: null, applyRows, showNewJob };
        tbody.addEventListener('click', (event) => onRowAction(event, () => poller, showNewJob));

        if (!settings.enabled) {
            status.disabled();
            return;
        }

        function applyPage(page) {
            applyRows(tbody, emptyRow, page.jobs);
            setText(emptyCell, F.emptyText(page.has_filters));
            setText(countEl, F.countText(page.total, page.offset, page.jobs.length, page.has_filters));
            setText(pageInfo, F.pageText(page.total, page.offset, page.limit));
            setLink(prev, page.offset > 0 ? pageHref(Math.max(0, page.offset - page.limit)) : null);
            setLink(next, page.offset + page.limit < page.total ? pageHref(page.offset + page.limit) : null);
        }

        async function poll(signal) {
            const url = '/api/jobs' + (apiQuery ? '?' + apiQuery : '');
            const r = await P.fetchJson(url, { signal, etag });
            poller.noteHint(r.pollIntervalMs);
            if (!r.notModified) {
                if (!r.ok) {
                    // A 4xx is an answer, not an outage: say it and stop asking the same question.
                    showProblem(r.data && r.data.error ? r.data.error : 'The daemon refused this view (HTTP ' + r.status + ').');
                    return P.STOP;
                }
                etag = r.etag;
                applyPage(r.data);
                markHighlight();
            }
            await pollStats(signal);
            return null;
        }

        async function pollStats(signal) {
            const r = await P.fetchJson('/api/stats', { signal, etag: statsEtag });
            if (r.ok && !r.notModified) {
                statsEtag = r.etag;
                applyStats(r.data);
            }
        }

        poller = P.createPoller({
            task: poll,
            intervalMs: settings.intervalMs,
            rules: settings.rules,
            // The rows were rendered by the server a moment ago: the first poll can wait.
            startDelayMs: settings.intervalMs,
            onState: status.update,
            onBusy: status.busy,
        });

        window.VPOJobsPage.poller = poller;
        poller.start();
    }

    function showProblem(message) {
        let notice = document.getElementById('poll-problem');
        if (!notice) {
            notice = el('p', 'notice');
            notice.id = 'poll-problem';
            notice.setAttribute('role', 'alert');
            document.getElementById('jobs-count').before(notice);
        }
        setText(notice, message);
    }

    const ROW_ACTIONS = {
        cancel: { ask: 'Cancel job ', verb: 'cancel' },
        retry: { ask: 'Run job ', askEnd: ' again as a new job?', verb: 'retry' },
    };

    async function onRowAction(event, getPoller, showNewJob) {
        const button = event.target.closest('button[data-action]');
        const action = button ? ROW_ACTIONS[button.dataset.action] : null;
        if (!action) {
            return;
        }
        const tr = button.closest('tr[data-job-id]');
        const id = tr.dataset.jobId;
        const shortId = cellOf(tr, 'id').textContent;
        if (!window.confirm(action.ask + shortId + (action.askEnd || '?'))) {
            return;
        }
        const menu = button.closest('details');
        if (menu) {
            menu.open = false;
        }
        clearProblem();
        try {
            const url = '/api/jobs/' + encodeURIComponent(id) + '/' + action.verb;
            const r = await P.fetchJson(url, { method: 'POST', body: {} });
            if (!r.ok) {
                showProblem((r.data && r.data.error) || 'Could not ' + action.verb + ' job ' + shortId + '.');
            } else if (action.verb === 'retry') {
                showNewJob(r.data);
                return; // showNewJob polls
            }
        } catch (err) {
            showProblem('Could not reach the daemon to ' + action.verb + ' job ' + shortId + '.');
        }
        const poller = getPoller();
        if (poller) {
            poller.pollNow();
        }
    }

    function clearProblem() {
        const notice = document.getElementById('poll-problem');
        if (notice) {
            notice.remove();
        }
    }

    /** Filters apply on change; empty fields are left out of the address so links stay short. */
    function enhanceFilters() {
        const form = document.getElementById('job-filters');
        if (!form) {
            return;
        }
        for (const select of form.querySelectorAll('select')) {
            select.addEventListener('change', () => form.requestSubmit());
        }
        form.addEventListener('submit', () => {
            for (const field of form.elements) {
                if (field.name && field.value === '') {
                    field.disabled = true;
                }
            }
        });
        // Back/forward cache: give the fields back.
        window.addEventListener('pageshow', () => {
            for (const field of form.elements) {
                field.disabled = false;
            }
        });
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
})();
