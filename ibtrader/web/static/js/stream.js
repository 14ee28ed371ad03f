// The live event stream (Server-Sent Events at /api/v1/events), reconnected with backoff.
//
// The browser's own EventSource retry gives up for good on an HTTP error (a 503 when too many
// streams are open, a 401 after the session ended), so the stream is reopened here instead:
// 0.5 s, 1 s, 2 s ... up to 15 s, with jitter so many tabs do not return at once. Every new
// connection starts with a `snapshot` event, so nothing missed while away stays missing.

import { BASE, loadSession } from "./api.js";

const KINDS = ["snapshot", "order", "fill", "positions", "account", "quotes", "signal",
               "decision", "connection", "risk", "error", "resync"];
const FIRST_DELAY = 500;
const MAX_DELAY = 15000;

export class Stream {
  /** handlers: {snapshot(data), order(data), ...}; onState("live" | "reconnecting", detail) */
  constructor(handlers, onState) {
    this.handlers = handlers;
    this.onState = onState;
    this.source = null;
    this.delay = FIRST_DELAY;
    this.timer = 0;
    this.failures = 0;
  }

  open() {
    clearTimeout(this.timer);
    const source = new EventSource(`${BASE}/events`, { withCredentials: true });
    this.source = source;
    for (const kind of KINDS) {
      source.addEventListener(kind, (event) => this.dispatch(kind, event));
    }
    source.onerror = () => {
      if (this.source !== source) return;
      source.close();
      this.source = null;
      this.retry();
    };
  }

  dispatch(kind, event) {
    if (kind === "snapshot") {
      this.delay = FIRST_DELAY;
      this.failures = 0;
      this.onState("live");
    }
    let data;
    try { data = JSON.parse(event.data); } catch { return; }
    const handler = this.handlers[kind];
    if (handler) {
      try { handler(data); } catch (err) { console.error(`handling ${kind} failed`, err); }
    }
  }

  retry() {
    this.failures += 1;
    const wait = Math.min(MAX_DELAY, this.delay) * (0.8 + Math.random() * 0.4);
    this.delay = Math.min(MAX_DELAY, this.delay * 2);
    this.onState("reconnecting", Math.round(wait / 100) / 10);
    this.timer = setTimeout(async () => {
      // A failed stream may mean the session ended: loadSession sends us to /login on a 401
      // (and picks up a new CSRF token if the server restarted).
      if (this.failures > 1) {
        try { await loadSession(); } catch { /* still down: try the stream anyway */ }
      }
      this.open();
    }, wait);
  }

  close() {
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }
}
