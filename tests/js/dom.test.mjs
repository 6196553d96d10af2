// dom.js: each helper writes only when the value differs (a poll that brings nothing new must
// not touch the DOM) and takes a missing element as nothing to write.
// Run: node --test tests/js/
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const repo = new URL('../../', import.meta.url);
const VPODom = require(new URL('vpo/server/static/js/dom.js', repo).pathname);

/** An element that records every write made to it. */
class RecordingElement {
    constructor(text) {
        this.writes = [];
        this.attributes = {};
        this._hidden = false;
        this.firstChild = this.lastChild = { nodeType: 3, _data: text, owner: this };
        const node = this.firstChild;
        Object.defineProperty(node, 'data', {
            get: () => node._data,
            set: (value) => {
                node.owner.writes.push(['data', value]);
                node._data = value;
            },
        });
    }
    get textContent() {
        return this.firstChild ? this.firstChild._data : '';
    }
    set textContent(value) {
        this.writes.push(['textContent', value]);
        this.firstChild = this.lastChild = null;
    }
    getAttribute(name) {
        return name in this.attributes ? this.attributes[name] : null;
    }
    setAttribute(name, value) {
        this.writes.push(['attr', name, value]);
        this.attributes[name] = value;
    }
    get hidden() {
        return this._hidden;
    }
    set hidden(value) {
        this.writes.push(['hidden', value]);
        this._hidden = value;
    }
}

test('setText changes the one text node in place, and nothing when the text is the same', () => {
    const el = new RecordingElement('3 jobs');
    VPODom.setText(el, '3 jobs');
    assert.deepEqual(el.writes, []);
    VPODom.setText(el, '4 jobs');
    assert.deepEqual(el.writes, [['data', '4 jobs']]);
});

test('setAttr and setHidden write only a different value', () => {
    const el = new RecordingElement('');
    VPODom.setAttr(el, 'title', 'a');
    VPODom.setAttr(el, 'title', 'a');
    VPODom.setHidden(el, false);
    VPODom.setHidden(el, true);
    VPODom.setHidden(el, true);
    assert.deepEqual(el.writes, [['attr', 'title', 'a'], ['hidden', true]]);
});

test('a missing element is nothing to write', () => {
    VPODom.setText(null, 'x');
    VPODom.setAttr(null, 'title', 'x');
    VPODom.setHidden(null, true);
});
