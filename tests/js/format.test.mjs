// format.js against the display vectors that vpo/server/display.py is also checked against:
// the first render (Python) and every poll (JavaScript) must write the same text.
// Run: node --test tests/js/
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const repo = new URL('../../', import.meta.url);
const VPOFormat = require(new URL('vpo/server/static/js/format.js', repo).pathname);
const vectors = JSON.parse(readFileSync(new URL('tests/js/display_vectors.json', repo), 'utf8')).vectors;

for (const vector of vectors) {
    test(`display vector: ${vector.name}`, () => {
        assert.deepEqual(VPOFormat.listCells(vector.job), vector.list);
        assert.deepEqual(VPOFormat.detailFields(vector.job), vector.detail);
    });
}

// The one duration and time rule of every client (vpo/jobtext.py); the page shows a dash where
// the text is empty.
const shared = JSON.parse(readFileSync(new URL('tests/js/display_vectors.json', repo), 'utf8'));

test('durations read as in every client', () => {
    for (const { seconds, text } of shared.durations) {
        assert.equal(VPOFormat.duration(seconds), text || '\u2014', `duration(${seconds})`);
    }
});

test('times read as in every client (UTC)', () => {
    for (const { value, text } of shared.times) {
        assert.equal(VPOFormat.timestamp(value), text, `timestamp(${value})`);
    }
});

test('progress and file counts read as the web column of the shared progress table', () => {
    for (const { name, job, web } of shared.progress) {
        assert.equal(VPOFormat.progress(job).text, web.progress, `progress: ${name}`);
        assert.equal(VPOFormat.files(job), web.files, `files: ${name}`);
    }
});

test('percent is floored and clamped', () => {
    assert.deepEqual([0, 0.4, 99.99, 100, 150, -3, null].map(VPOFormat.percent), [0, 0, 99, 100, 100, 0, null]);
});

const calls = JSON.parse(readFileSync(new URL('tests/js/display_vectors.json', repo), 'utf8')).calls;
const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

for (const call of calls) {
    test(`display call: ${call.fn}(${JSON.stringify(call.args)})`, () => {
        assert.equal(VPOFormat[camel(call.fn)](...call.args), call.expected);
    });
}
