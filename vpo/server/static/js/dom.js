/*
 * VPODom: the three DOM writes every page script shares. Each writes only when the value
 * differs, so a poll that brings nothing new causes no DOM mutation (no relayout, nothing new
 * for a screen reader to announce), and each takes a missing element (null) as nothing to write.
 * Loaded first (base.html), so the scripts after it find window.VPODom.
 */
(function (root, factory) {
    'use strict';
    const api = factory();
    if (typeof module === 'object' && module.exports) {
        module.exports = api;
    }
    root.VPODom = api;
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
    'use strict';

    const TEXT_NODE = 3; // Node.TEXT_NODE, spelled out so the module also loads under node

    function setText(el, text) {
        if (!el || el.textContent === text) {
            return;
        }
        const only = el.firstChild;
        if (only && only === el.lastChild && only.nodeType === TEXT_NODE) {
            only.data = text; // one characterData change instead of a child swap
        } else {
            el.textContent = text;
        }
    }

    function setAttr(el, name, value) {
        if (el && el.getAttribute(name) !== value) {
            el.setAttribute(name, value);
        }
    }

    function setHidden(el, hidden) {
        if (el && el.hidden !== hidden) {
            el.hidden = hidden;
        }
    }

    return Object.freeze({ setText: setText, setAttr: setAttr, setHidden: setHidden });
});
