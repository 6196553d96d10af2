// Fake timers, a fake document (visibility) and a fake window (pagehide) for polling.js tests.
// Written here rather than taken from a package: the tests must run with plain `node --test`.

/** A clock whose time moves only when a test says so; timers fire in due order. */
export class FakeClock {
    constructor() {
        this.time = 0;
        this.nextId = 1;
        this.timers = new Map(); // id -> {due, fn, seq}
        this.seq = 0;
        this.setTimeout = (fn, ms) => {
            const id = this.nextId++;
            this.timers.set(id, { due: this.time + Math.max(0, ms || 0), fn, seq: this.seq++ });
            return id;
        };
        this.clearTimeout = (id) => {
            this.timers.delete(id);
        };
        this.now = () => this.time;
    }

    /** Number of timers waiting to fire. */
    get pending() {
        return this.timers.size;
    }

    /** Due times (relative to now) of the waiting timers, soonest first. */
    pendingDelays() {
        return [...this.timers.values()].map((t) => t.due - this.time).sort((a, b) => a - b);
    }

    /** Move time forward by ms, firing every timer that falls due, each followed by a microtask flush. */
    async advance(ms) {
        const end = this.time + ms;
        for (;;) {
            let nextId = null;
            let next = null;
            for (const [id, t] of this.timers) {
                if (t.due <= end && (next === null || t.due < next.due || (t.due === next.due && t.seq < next.seq))) {
                    next = t;
                    nextId = id;
                }
            }
            if (next === null) {
                break;
            }
            this.timers.delete(nextId);
            this.time = next.due;
            next.fn();
            await flush();
        }
        this.time = end;
        await flush();
    }
}

/** Let pending promise callbacks run (several rounds: async functions chain a few). */
export async function flush() {
    for (let i = 0; i < 10; i++) {
        await Promise.resolve();
    }
    await new Promise((resolve) => setImmediate(resolve));
}

export class FakeDocument extends EventTarget {
    constructor() {
        super();
        this.hidden = false;
    }

    get visibilityState() {
        return this.hidden ? 'hidden' : 'visible';
    }

    setHidden(hidden) {
        this.hidden = hidden;
        this.dispatchEvent(new Event('visibilitychange'));
    }
}

export class FakeWindow extends EventTarget {
    pageHide() {
        const event = new Event('pagehide');
        event.persisted = false;
        this.dispatchEvent(event);
    }

    pageShow(persisted) {
        const event = new Event('pageshow');
        event.persisted = persisted;
        this.dispatchEvent(event);
    }
}

/**
 * A poll task whose requests the test answers by hand: each call records its start time and
 * waits for the test to call succeed()/fail() (or for the abort signal).
 */
export class ManualTask {
    constructor(clock) {
        this.clock = clock;
        this.calls = []; // {at, signal, resolve, reject, settled}
        this.active = 0;
        this.maxActive = 0;
        this.fn = (signal) =>
            new Promise((resolve, reject) => {
                const call = { at: clock.now(), signal, settled: false };
                this.active += 1;
                this.maxActive = Math.max(this.maxActive, this.active);
                const done = () => {
                    if (!call.settled) {
                        call.settled = true;
                        this.active -= 1;
                    }
                };
                call.resolve = (v) => {
                    done();
                    resolve(v);
                };
                call.reject = (e) => {
                    done();
                    reject(e);
                };
                if (signal) {
                    signal.addEventListener('abort', () => {
                        const err = new Error('aborted');
                        err.name = 'AbortError';
                        call.reject(err);
                    });
                }
                this.calls.push(call);
            });
    }

    get last() {
        return this.calls[this.calls.length - 1];
    }

    async succeed(value) {
        this.last.resolve(value);
        await flush();
    }

    async fail() {
        this.last.reject(new Error('simulated failure'));
        await flush();
    }
}
