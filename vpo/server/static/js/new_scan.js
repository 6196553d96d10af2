/*
 * The "New scan" form on /jobs: queue a scan with POST /api/jobs (docs/web.md, "New scan").
 *
 * When the daemon has scan roots (the server renders data-restricted; GET /api/roots lists
 * them), a folder picker lists the roots, then the sub-directories of the folder being looked at
 * (GET /api/browse, a page of 100 at a time); entering a folder puts its path in the field.
 * Without roots the daemon refuses to browse, so the field is typed by hand and the hint the
 * server rendered says how to get the picker (nothing is fetched: the page stays as rendered). Names that are
 * not UTF-8 come escaped from the API and go back escaped with path_is_utf8=false; a path typed
 * by hand is sent as typed.
 *
 * A refusal shows the daemon's own message (the JSON envelope's `error`) in the form; a queued
 * job goes to the list at once (jobs.js: VPOJobsPage.showNewJob). Names are inserted with
 * textContent only.
 */
(function () {
    'use strict';

    const P = window.VPOPolling;
    const F = window.VPOFormat;
    const { setText, setHidden } = window.VPODom;
    const BROWSE_PAGE = 100;

    // Shown when the roots cannot be read after all (the server rendered the picker's hint).
    const HINT_NO_PICKER = 'The folder list could not be loaded: type the full path of the folder.';

    function joinPath(parent, name) {
        return parent.replace(/\/+$/, '') + '/' + name;
    }

    function parentOf(path) {
        const cut = path.replace(/\/+$/, '').lastIndexOf('/');
        return cut <= 0 ? '/' : path.slice(0, cut);
    }

    function start() {
        const panel = document.getElementById('new-scan');
        if (!panel || !P || !F) {
            return;
        }
        const form = document.getElementById('new-scan-form');
        const input = document.getElementById('scan-path');
        const full = document.getElementById('scan-full');
        const hint = document.getElementById('scan-path-hint');
        const submit = document.getElementById('scan-submit');
        const problem = document.getElementById('new-scan-error');
        const done = document.getElementById('new-scan-done');
        const picker = document.getElementById('folder-picker');
        const up = document.getElementById('picker-up');
        const where = document.getElementById('picker-where');
        const list = document.getElementById('picker-list');
        const more = document.getElementById('picker-more');
        const pickerProblem = document.getElementById('picker-problem');

        let roots = []; // [{path, path_is_utf8, available}]
        let current = null; // the folder listed: {path, utf8, next, total}; null: the roots
        let picked = null; // {path, utf8}: what the field holds when the picker put it there
        let browsing = 0; // a counter, so an older answer arriving late is dropped

        panel.hidden = false;

        function showProblem(el, text) {
            setText(el, text);
            setHidden(el, text === '');
        }

        function setPicked(path, utf8) {
            picked = { path, utf8 };
            input.value = path;
            input.removeAttribute('aria-invalid');
        }

        function entry(label, onClick, disabled) {
            const li = document.createElement('li');
            const button = document.createElement('button');
            button.type = 'button';
            button.className = 'picker-entry';
            button.textContent = label;
            button.disabled = Boolean(disabled);
            button.addEventListener('click', onClick);
            li.append(button);
            return li;
        }

        function showRoots() {
            current = null;
            browsing += 1;
            setText(where, 'Scan roots');
            up.disabled = true;
            setHidden(more, true);
            showProblem(pickerProblem, '');
            list.replaceChildren(...roots.map((root) => {
                const label = F.visible(root.path) + (root.available ? '' : ' (not available)');
                return entry(label, () => browseFolder(root.path, root.path_is_utf8, 0), !root.available);
            }));
        }

        async function browseFolder(path, utf8, offset) {
            const ticket = ++browsing;
            showProblem(pickerProblem, '');
            let r;
            try {
                const query = new URLSearchParams({ path, limit: String(BROWSE_PAGE), offset: String(offset) });
                if (!utf8) {
                    query.set('path_is_utf8', 'false');
                }
                r = await P.fetchJson('/api/browse?' + query.toString());
            } catch (err) {
                if (ticket === browsing) {
                    showProblem(pickerProblem, 'Could not reach the daemon to list this folder.');
                }
                return;
            }
            if (ticket !== browsing) {
                return;
            }
            if (!r.ok) {
                showProblem(pickerProblem, (r.data && r.data.error) || 'The daemon refused to list this folder.');
                return;
            }
            const page = r.data;
            const folderUtf8 = page.path_is_utf8 !== false;
            const items = page.directories.map((dir) => {
                const childUtf8 = folderUtf8 && dir.name_is_utf8 !== false;
                return entry(F.visible(dir.name), () => browseFolder(joinPath(page.path, dir.name), childUtf8, 0));
            });
            if (offset === 0) {
                current = { path: page.path, utf8: folderUtf8 };
                setText(where, F.visible(page.path));
                up.disabled = false;
                setPicked(page.path, folderUtf8);
                list.replaceChildren(...items);
                if (items.length === 0) {
                    const li = document.createElement('li');
                    li.className = 'picker-empty';
                    li.textContent = 'No folders inside.';
                    list.append(li);
                }
            } else {
                list.append(...items);
            }
            current.next = page.offset + page.directories.length;
            current.total = page.total;
            setHidden(more, current.next >= page.total);
        }

        up.addEventListener('click', () => {
            if (current === null) {
                return;
            }
            const atRoot = roots.some((root) => root.path.replace(/\/+$/, '') === current.path.replace(/\/+$/, ''));
            if (atRoot || current.path === '/') {
                showRoots();
            } else {
                browseFolder(parentOf(current.path), current.utf8, 0);
            }
        });
        more.addEventListener('click', () => {
            if (current !== null) {
                browseFolder(current.path, current.utf8, current.next);
            }
        });
        input.addEventListener('input', () => {
            input.removeAttribute('aria-invalid');
        });

        /** The picker, when the daemon has scan roots (the server says so: data-restricted). */
        async function loadRoots() {
            let r;
            try {
                r = await P.fetchJson('/api/roots');
            } catch (err) {
                r = null;
            }
            if (r && r.ok && r.data.restricted) {
                roots = r.data.roots;
                picker.hidden = false;
                showRoots();
            } else {
                setText(hint, HINT_NO_PICKER);
            }
        }

        form.addEventListener('submit', async (event) => {
            event.preventDefault();
            showProblem(problem, '');
            showProblem(done, '');
            const path = input.value;
            if (path.trim() === '') {
                input.setAttribute('aria-invalid', 'true');
                showProblem(problem, 'Choose or type the folder to scan.');
                input.focus();
                return;
            }
            const body = { job_type: 'scan', path, full: full.checked };
            if (picked && picked.path === path && !picked.utf8) {
                body.path_is_utf8 = false;
            }
            submit.disabled = true;
            try {
                const r = await P.fetchJson('/api/jobs', { method: 'POST', body });
                if (!r.ok) {
                    input.setAttribute('aria-invalid', 'true');
                    showProblem(problem, (r.data && r.data.error) || 'The daemon refused the scan (HTTP ' + r.status + ').');
                    return;
                }
                const job = r.data;
                const shown = window.VPOJobsPage ? window.VPOJobsPage.showNewJob(job) : false;
                const link = document.createElement('a');
                link.href = F.jobHref(job.id);
                link.textContent = job.id_short;
                const after = shown ? '.' : ' (not in the list as filtered now).';
                done.replaceChildren(document.createTextNode('Queued scan job '), link, document.createTextNode(after));
                done.hidden = false;
            } catch (err) {
                showProblem(problem, 'Could not reach the daemon: the scan was not queued.');
            } finally {
                submit.disabled = false;
            }
        });

        if (panel.dataset.restricted === 'true') {
            loadRoots();
        }
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
})();
