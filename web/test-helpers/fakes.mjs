// Test doubles shared by the unit tests: a virtual clock, a scripted fetch and a WebSocket stand-in.

/** Lets pending promise chains (fetch → json → state) settle. */
export async function settle(rounds = 5) {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** setTimeout/setInterval on a virtual clock that only moves with advance(). */
export function fakeTimers(start = 1_000_000) {
  let now = start;
  let seq = 0;
  const timers = new Map();
  const add = (fn, ms, every) => {
    const id = ++seq;
    timers.set(id, { at: now + Math.max(0, ms || 0), fn, every, seq: id });
    return id;
  };
  const api = {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms, null),
    setInterval: (fn, ms) => add(fn, ms, Math.max(1, ms || 0)),
    clearTimeout: (id) => timers.delete(id),
    clearInterval: (id) => timers.delete(id),
    /** Delays of the timers still pending, relative to now. */
    pending: () => [...timers.values()].map((t) => t.at - now).sort((a, b) => a - b),
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        await settle();
        let next = null;
        let nextId = null;
        for (const [id, t] of timers) {
          if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) {
            next = t;
            nextId = id;
          }
        }
        if (!next) break;
        now = next.at;
        if (next.every) {
          next.at += next.every;
        } else {
          timers.delete(nextId);
        }
        next.fn();
      }
      now = end;
      await settle();
    },
  };
  return api;
}

/** A Response-like object. */
export function response(status = 200, body = null, headers = {}) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name) => lower[name.toLowerCase()] ?? null },
    json: async () => {
      if (body === null || body === undefined) throw new SyntaxError('Unexpected end of JSON input');
      return typeof body === 'string' ? JSON.parse(body) : structuredClone(body);
    },
  };
}

/**
 * fetch whose answers come from `handler(url, init, callIndex)`: a Response-like object, a promise of
 * one, or a thrown error (a network failure). Every call is recorded in `.calls`.
 */
export function scriptedFetch(handler) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url: String(url), init });
    if (init.signal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
    return handler(String(url), init, calls.length - 1);
  };
  fetch.calls = calls;
  return fetch;
}

/** A promise with its resolve/reject exposed. */
export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** WebSocket stand-in: the test drives the server side with open(), message(), serverClose(). */
export function fakeWebSocketClass() {
  const instances = [];
  class FakeWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.onopen = this.onmessage = this.onerror = this.onclose = null;
      instances.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('not open');
      this.sent.push(data);
    }
    close(code = 1000) {
      if (this.readyState >= 2) return;
      this.readyState = 2;
      queueMicrotask(() => this.#closed(code));
    }
    // Server side
    open() {
      this.readyState = 1;
      this.onopen?.({ type: 'open' });
    }
    message(data) {
      this.onmessage?.({ type: 'message', data: typeof data === 'string' ? data : JSON.stringify(data) });
    }
    serverClose(code = 1006) {
      if (this.readyState === 3) return;
      this.onerror?.({ type: 'error' });
      this.#closed(code);
    }
    #closed(code) {
      this.readyState = 3;
      this.onclose?.({ type: 'close', code });
    }
  }
  FakeWebSocket.instances = instances;
  return FakeWebSocket;
}
