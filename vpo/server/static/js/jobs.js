/*
 * The jobs dashboard (/jobs): keeps the server-rendered table live (docs/design.md §7, §9).
 *
 * Each poll asks for exactly the view's query (the server writes it, validated, into
 * data-api-query) with If-None-Match. A 304 touches nothing. A 200 is applied row by row, keyed
 * by job id: a cell is written only when its text differs, new jobs are inserted where the
 * server's order puts them, vanished jobs are removed. Nothing is rebuilt, so scroll position,
 * focus and an open row menu survive every poll. Values are inserted with textContent only.
 */
(function () {
    'use strict';

    const P = window.VPOPolling;
    const F = window.VPOFormat;
    const { setText, setAttr, setHidden } = window.VPODom;

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
        items.append(open, cancel);
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
        setHidden(cellOf(tr, 'actions').querySelector('[data-action="cancel"]'), !c.cancellable);
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
        let etag = null;
        let poller = null;

        const status = window.VPOConnectionStatus.attach(document, {
            onRetry: () => poller && poller.pollNow(),
        });

        enhanceFilters();

        if (!settings.enabled || apiQuery === undefined) {
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
            if (r.notModified) {
                return null;
            }
            if (!r.ok) {
                // A 4xx is an answer, not an outage: say it and stop asking the same question.
                showProblem(r.data && r.data.error ? r.data.error : 'The daemon refused this view (HTTP ' + r.status + ').');
                return P.STOP;
            }
            etag = r.etag;
            applyPage(r.data);
            return null;
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

        tbody.addEventListener('click', (event) => onRowAction(event, poller));
        window.VPOJobsPage = { poller, applyRows };
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

    async function onRowAction(event, poller) {
        const button = event.target.closest('button[data-action="cancel"]');
        if (!button) {
            return;
        }
        const tr = button.closest('tr[data-job-id]');
        const id = tr.dataset.jobId;
        const shortId = cellOf(tr, 'id').textContent;
        if (!window.confirm('Cancel job ' + shortId + '?')) {
            return;
        }
        const menu = button.closest('details');
        if (menu) {
            menu.open = false;
        }
        try {
            const r = await P.fetchJson('/api/jobs/' + encodeURIComponent(id) + '/cancel', { method: 'POST', body: {} });
            if (!r.ok) {
                showProblem((r.data && r.data.error) || 'Could not cancel job ' + shortId + '.');
            }
        } catch (err) {
            showProblem('Could not reach the daemon to cancel job ' + shortId + '.');
        }
        poller.pollNow();
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
