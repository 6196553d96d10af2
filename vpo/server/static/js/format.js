/*
 * VPOFormat: how job values read on the pages. The server renders the first page with the same
 * rules (vpo/server/display.py); both are checked against tests/js/display_vectors.json, because a
 * poll that re-formats an unchanged value differently would rewrite every cell of every row.
 *
 * Everything here returns plain strings and numbers: the pages insert them with textContent.
 */
(function (root, factory) {
    'use strict';
    const api = factory();
    if (typeof module === 'object' && module.exports) {
        module.exports = api;
    }
    root.VPOFormat = api;
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
    'use strict';

    const DASH = '\u2014';
    const KNOWN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'];
    const TERMINAL = ['completed', 'failed', 'cancelled'];
    // What the pages offer to retry (display.py RETRYABLE): a job that went wrong.
    const RETRYABLE = ['failed', 'cancelled'];
    const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/;

    function isTerminal(status) {
        return TERMINAL.indexOf(status) !== -1;
    }

    function isRetryable(status) {
        return RETRYABLE.indexOf(status) !== -1;
    }

    /** "2026-11-30T06:13:23.123Z" -> "2026-11-30 06:13:23" (UTC, as stored); null -> dash. */
    function timestamp(value) {
        if (value === null || value === undefined || value === '') {
            return DASH;
        }
        const m = TIMESTAMP.exec(String(value));
        return m ? m[1] + ' ' + m[2] : String(value);
    }

    function pad2(n) {
        return n < 10 ? '0' + n : String(n);
    }

    /** Whole seconds -> "45s", "3m 05s", "2h 03m", "1d 01h" (vpo/jobtext.py); null -> dash. */
    function duration(seconds) {
        if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) {
            return DASH;
        }
        const s = Math.max(0, Math.floor(Number(seconds)));
        if (s < 60) {
            return s + 's';
        }
        if (s < 3600) {
            return Math.floor(s / 60) + 'm ' + pad2(s % 60) + 's';
        }
        if (s < 86400) {
            return Math.floor(s / 3600) + 'h ' + pad2(Math.floor((s % 3600) / 60)) + 'm';
        }
        return Math.floor(s / 86400) + 'd ' + pad2(Math.floor((s % 86400) / 3600)) + 'h';
    }

    /** Floored so 99.9 never reads 100% before the job is done; null stays null. */
    function percent(value) {
        if (value === null || value === undefined || !Number.isFinite(Number(value))) {
            return null;
        }
        return Math.floor(Math.min(100, Math.max(0, Number(value))));
    }

    /**
     * The progress indicator: mode "value" (a bar at `value`%), "indeterminate" (running, total not
     * known yet) or "none" (nothing to show).
     */
    function progress(job) {
        const p = percent(job.progress_percent);
        if (p !== null) {
            return { mode: 'value', value: p, text: p + '%' };
        }
        if (job.status === 'running') {
            return { mode: 'indeterminate', value: null, text: '\u2026' };
        }
        return { mode: 'none', value: null, text: DASH };
    }

    /** "25 of 100 files"; while the total is unknown, "12 files so far". */
    function files(job) {
        const done = Number(job.processed_count) || 0;
        if (job.total_count !== null && job.total_count !== undefined) {
            return done + ' of ' + job.total_count + ' files';
        }
        if (done === 0 && job.status !== 'running') {
            return DASH;
        }
        return done + ' files so far';
    }

    /** A CSS class for the status badge; unknown statuses get a neutral one. */
    function statusClass(status) {
        return KNOWN_STATUSES.indexOf(status) !== -1 ? 'badge-' + status : 'badge-other';
    }

    function text(value) {
        return value === null || value === undefined || value === '' ? DASH : String(value);
    }

    // Control characters, and Unicode's invisible format characters (category Cf: bidi
    // overrides and isolates, zero-width characters, the BOM, ...) plus the line and paragraph
    // separators: the same list as vpo/pathtext.py, so both sides write the same text.
    const INVISIBLE = new RegExp('[\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f' +
        '\\u0890-\\u0891\\u08e2\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff' +
        '\\ufff9-\\ufffb\\u{110bd}\\u{110cd}\\u{13430}-\\u{1343f}\\u{1bca0}-\\u{1bca3}\\u{1d173}-\\u{1d17a}' +
        '\\u{e0001}\\u{e0020}-\\u{e007f}]|[\\ud800-\\udfff]', 'gu');

    function hex(code, width) {
        return code.toString(16).padStart(width, '0');
    }

    /**
     * A value as text safe to show: control and invisible format characters as \uNNNN
     * (\UNNNNNNNN beyond U+FFFF), so a name such as "holiday\u202egnp.mkv" cannot pose as
     * "holidayvkm.png"; a lone surrogate (an undecodable byte) as \xNN. Display only.
     */
    function visible(value) {
        if (value === null || value === undefined) {
            return '';
        }
        return String(value).replace(INVISIBLE, function (ch) {
            const code = ch.codePointAt(0);
            if (code >= 0xdc80 && code <= 0xdcff) {
                return '\\x' + hex(code - 0xdc00, 2);
            }
            return code > 0xffff ? '\\U' + hex(code, 8) : '\\u' + hex(code, 4);
        });
    }

    /** A path from the API for the page: visible, or a dash when there is none. */
    function pathText(value) {
        return text(value === null || value === undefined ? value : visible(value));
    }

    const NOT_UTF8_NOTE = 'not UTF-8: bytes shown as \\xNN';

    function notUtf8Note(utf8) {
        return utf8 === false ? NOT_UTF8_NOTE : '';
    }

    /** The path cell's tooltip: the path and, for a name that is not UTF-8, the note. */
    function pathTitle(job) {
        const note = notUtf8Note(job.file_path_is_utf8);
        const path = pathText(job.file_path);
        return note ? path + ' (' + note + ')' : path;
    }

    function jobHref(id) {
        return '/jobs/' + encodeURIComponent(id);
    }

    /** The cells of a dashboard row, as text and flags. */
    function listCells(job) {
        const pr = progress(job);
        return {
            id_short: text(job.id_short),
            href: jobHref(job.id),
            job_type: text(job.job_type),
            status: text(job.status),
            status_class: statusClass(job.status),
            progress_mode: pr.mode,
            progress_value: pr.value,
            progress_text: pr.text,
            file_path: pathText(job.file_path),
            file_path_title: pathTitle(job),
            created: timestamp(job.created_at),
            duration: duration(job.duration_seconds),
            cancellable: !isTerminal(job.status),
            retryable: isRetryable(job.status),
        };
    }

    /** "found: 3, scanned: 2" in the server's key order; null -> dash. */
    function counts(summaryRaw) {
        if (!summaryRaw || typeof summaryRaw !== 'object') {
            return DASH;
        }
        const parts = Object.keys(summaryRaw).map(function (key) {
            return key + ': ' + String(summaryRaw[key]);
        });
        return parts.length ? parts.join(', ') : DASH;
    }

    /** Every field of the detail view, as text, keyed like the data-field attributes. */
    function detailFields(job) {
        const pr = progress(job);
        return {
            id: text(job.id),
            id_short: text(job.id_short),
            job_type: text(job.job_type),
            status: text(job.status),
            status_class: statusClass(job.status),
            priority: text(job.priority),
            file_path: pathText(job.file_path),
            file_path_note: notUtf8Note(job.file_path_is_utf8),
            created_at: timestamp(job.created_at),
            started_at: timestamp(job.started_at),
            completed_at: timestamp(job.completed_at),
            duration: duration(job.duration_seconds),
            phase: text(job.phase),
            progress_mode: pr.mode,
            progress_value: pr.value,
            progress_text: pr.text,
            files: files(job),
            attempts: text(job.attempts),
            error_message: job.error_message ? visible(job.error_message) : '',
            summary: text(job.summary),
            counts: counts(job.summary_raw),
            has_logs: job.has_logs ? 'yes' : 'no',
            cancellable: !isTerminal(job.status),
            retryable: isRetryable(job.status),
        };
    }

    /** One entry of the detail page's errors panel (an item of GET /api/jobs/{id}/errors). */
    function errorCells(error) {
        const path = pathText(error.path);
        const note = notUtf8Note(error.path_is_utf8);
        return {
            path: path,
            path_title: note ? path + ' (' + note + ')' : path,
            message: visible(error.message),
        };
    }

    /** The errors panel's count line: "No file errors", "2 file errors", "Showing 50 of 120 ...". */
    function errorsText(shown, total) {
        if (total === 0) {
            return 'No file errors';
        }
        const noun = total === 1 ? 'file error' : 'file errors';
        return shown < total ? 'Showing ' + shown + ' of ' + total + ' ' + noun : total + ' ' + noun;
    }

    /** The line above the table: "Showing 1–50 of 123 jobs". */
    function countText(total, offset, shown, hasFilters) {
        if (total === 0) {
            return hasFilters ? 'No jobs match these filters' : 'No jobs yet';
        }
        if (shown === 0) {
            return 'No jobs on this page (' + total + ' in total)';
        }
        return 'Showing ' + (offset + 1) + '\u2013' + (offset + shown) + ' of ' + total + (total === 1 ? ' job' : ' jobs');
    }

    /** "Page 2 of 5". */
    function pageText(total, offset, limit) {
        const pages = Math.max(1, Math.ceil(total / limit));
        return 'Page ' + (Math.floor(offset / limit) + 1) + ' of ' + pages;
    }

    /** The table's empty row. */
    function emptyText(hasFilters) {
        return hasFilters ? 'No jobs match these filters.' : 'No jobs yet. Start a scan with: vpo scan PATH --async';
    }

    /** "Lines 301–500" for the log lines on the page; "" when there are none. */
    function logRange(start, end) {
        return end > start ? 'Lines ' + (start + 1) + '\u2013' + end : '';
    }

    const LOG_LEVEL = /^\S+\s+(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b/;

    /** The level of a log line ("2026-…Z WARNING message" -> "warning"), for its colour. */
    function logLevel(line) {
        const m = LOG_LEVEL.exec(line);
        if (!m) {
            return 'info';
        }
        const level = m[1].toLowerCase();
        if (level === 'warn') {
            return 'warning';
        }
        return level === 'critical' ? 'error' : level;
    }

    return {
        DASH,
        TERMINAL,
        isTerminal,
        isRetryable,
        timestamp,
        duration,
        percent,
        progress,
        files,
        statusClass,
        visible,
        pathText,
        pathTitle,
        counts,
        listCells,
        detailFields,
        errorCells,
        errorsText,
        jobHref,
        countText,
        pageText,
        emptyText,
        logRange,
        logLevel,
    };
});
