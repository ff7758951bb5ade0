// Copyright 2025-2026 The mod_sse_proxy authors
// SPDX-License-Identifier: Apache-2.0

// ssep-client.js: a Server-Sent Events client for browsers that reconnects
// by the policy of mod_sse_proxy (libssepolicy): error classes, per-class
// backoff, jitter and connection-quality grades, read from the proxy.
// Streams over fetch(), so it can send headers (refreshed before every
// attempt), POST a body, find its endpoint among candidates and fall back
// to a WebSocket behind a proxy that buffers event streams.
// No dependencies; an ES module.

const CLASSES = ['NETWORK_ERROR', 'AUTH_ERROR', 'SERVER_ERROR', 'PROXY_ERROR'];
const GRADES = ['EXCELLENT', 'GOOD', 'FAIR', 'POOR'];
const RATES = [0.1, 0.3, 0.5]; // error rates below which a grade holds
const SSE = /^text\/event-stream/i;
const st = (i, m, f, a) => ({ initial_ms: i, max_ms: m, factor: f, max_attempts: a });
const qg = (t, m) => ({ latency_threshold_ms: t, multiplier: m });

// libssepolicy's default table (ssep_policy_init).
export const DEFAULT_POLICY = {
  jitter: 'equal',
  strategies: {
    NETWORK_ERROR: st(5000, 300000, 1.5, 8),
    AUTH_ERROR: st(30000, 600000, 2, 5),
    SERVER_ERROR: st(10000, 180000, 1.8, 6),
    PROXY_ERROR: st(15000, 900000, 2.5, 4),
  },
  quality: {
    EXCELLENT: qg(100, 0.5), GOOD: qg(500, 1), FAIR: qg(2000, 1.5), POOR: qg(5000, 3),
  },
};

// ssep_classify(): an HTTP status, else words of an error message.
export function classify(status, message) {
  if (status === 404 || status === 502 || status === 503) return 'PROXY_ERROR';
  if (status === 401 || status === 403) return 'AUTH_ERROR';
  if (status >= 500) return 'SERVER_ERROR';
  const m = String(message || '').toLowerCase();
  if (/network|connection/.test(m)) return 'NETWORK_ERROR';
  if (/stream closed|premature/.test(m)) return 'PROXY_ERROR';
  return 'NETWORK_ERROR';
}

// ssep_backoff_delay(): floor(min(initial * factor^n, max) * multiplier),
// or -1 once the strategy's attempts are used up.
export function backoffDelay(s, n, multiplier = 1) {
  if (n >= s.max_attempts) return -1;
  const v = Math.min(s.initial_ms * s.factor ** n, s.max_ms) * multiplier;
  return Math.floor(v + v * 1e-12);
}

const between = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

// ssep_backoff_jittered(), with Math.random().
export function jittered(mode, s, d, multiplier = 1, prev = 0) {
  if (mode === 'full') return between(0, d);
  if (mode === 'equal') return between(Math.floor(d / 2), d);
  if (mode === 'decorrelated') {
    const lo = s.initial_ms;
    return Math.min(between(lo, Math.max(lo, 3 * (prev > 0 ? prev : lo))),
      Math.floor(s.max_ms * multiplier));
  }
  return d;
}

// A policy document (the status handler's ?format=policy) over the
// defaults: what is missing or malformed keeps the default.
export function mergePolicy(doc) {
  const p = JSON.parse(JSON.stringify(DEFAULT_POLICY));
  const num = (v) => typeof v === 'number' && v >= 0;
  if (!doc) return p;
  if (['none', 'full', 'equal', 'decorrelated'].includes(doc.jitter)) p.jitter = doc.jitter;
  for (const c of CLASSES) {
    const s = doc.strategies && doc.strategies[c];
    if (s && num(s.initial_ms) && s.initial_ms > 0 && num(s.max_ms) && s.max_ms >= s.initial_ms
        && num(s.factor) && s.factor >= 1 && num(s.max_attempts) && s.max_attempts >= 1) {
      p.strategies[c] = st(s.initial_ms, s.max_ms, s.factor, s.max_attempts);
    }
  }
  for (const g of GRADES) {
    const q = doc.quality && doc.quality[g];
    if (q && num(q.latency_threshold_ms) && num(q.multiplier)) p.quality[g] = qg(q.latency_threshold_ms, q.multiplier);
  }
  return p;
}

export async function loadPolicy(url, init) {
  const r = await fetch(url, { cache: 'no-store', ...init });
  if (!r.ok) throw new Error('policy: HTTP ' + r.status);
  return mergePolicy(await r.json());
}

// Connection quality (ssep_tracker): the mean of the last 10 latencies
// and the failure rate of the last 5 minutes; GOOD until 3 samples.
export class Quality {
  constructor(table) { this.table = table; this.lat = []; this.att = []; }
  latency(ms) { this.lat.push(ms); if (this.lat.length > 10) this.lat.shift(); }
  attempt(failed, now = Date.now()) {
    this.att.push([now, failed]);
    while (this.att.length && this.att[0][0] <= now - 300000) this.att.shift();
  }
  grade(now = Date.now()) {
    if (this.lat.length < 3) return 'GOOD';
    const mean = this.lat.reduce((a, b) => a + b, 0) / this.lat.length;
    const recent = this.att.filter((a) => a[0] > now - 300000);
    const rate = recent.length ? recent.filter((a) => a[1]).length / recent.length : 0;
    for (let i = 0; i < 3; i++) {
      if (mean < this.table[GRADES[i]].latency_threshold_ms && rate < RATES[i]) return GRADES[i];
    }
    return 'POOR';
  }
}

// The WHATWG event-stream interpretation, as libssepolicy's parser: CR,
// LF and CRLF line ends, comments, a field without a colon, an id with
// NUL ignored, retry only when all digits, data lines joined with LF,
// event type "message" by default.  A leading BOM is TextDecoder's.
export class Parser {
  constructor(onEvent) { this.on = onEvent; this.lastId = ''; this.retry = -1; this.reset(); }
  // A new connection: the id is the one of the last complete event.
  reset() { this.buf = ''; this.cr = false; this.data = ''; this.seen = false; this.type = ''; this.id = this.lastId; }
  feed(s) {
    if (this.cr && s[0] === '\n') s = s.slice(1);
    this.cr = false;
    const b = this.buf + s;
    const re = /\r\n|\r|\n/g;
    let m;
    let from = 0;
    while ((m = re.exec(b))) {
      this.line(b.slice(from, m.index));
      from = re.lastIndex;
      if (m[0] === '\r' && from === b.length) this.cr = true;
    }
    this.buf = b.slice(from);
  }
  line(l) {
    if (!l) {
      this.lastId = this.id;
      if (this.seen) this.on({ type: this.type || 'message', data: this.data.slice(0, -1), id: this.id });
      this.data = ''; this.seen = false; this.type = '';
      return;
    }
    if (l[0] === ':') return;
    const k = l.indexOf(':');
    const name = k < 0 ? l : l.slice(0, k);
    let v = k < 0 ? '' : l.slice(k + 1);
    if (v[0] === ' ') v = v.slice(1);
    if (name === 'data') { this.data += v + '\n'; this.seen = true; } else if (name === 'event') this.type = v;
    else if (name === 'id') { if (!v.includes('\0')) this.id = v; } else if (name === 'retry' && /^\d+$/.test(v)) this.retry = +v;
  }
}

// Endpoint discovery: the first candidate that answers HEAD with
// Accept: text/event-stream as an event stream would (200 with that
// type, or 401), as {url, status, relay (its X-SSE-Relay)}, or null.
export async function discover(urls, init = {}) {
  for (const url of urls) {
    try {
      const r = await fetch(url, { method: 'HEAD', headers: { Accept: 'text/event-stream' }, cache: 'no-store', ...init });
      if (r.status === 401 || (r.status === 200 && SSE.test(r.headers.get('content-type') || ''))) {
        return { url: new URL(url, globalThis.location && location.href).href, status: r.status, relay: r.headers.get('x-sse-relay') };
      }
    } catch (e) { /* refused, blocked: the next one */ }
  }
  return null;
}

// The WebSocket URL for an event-stream URL, resuming after lastId.
export function wsUrl(url, lastId) {
  const u = new URL(url, globalThis.location && location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  if (lastId) u.searchParams.set('lastEventId', lastId);
  return u.href;
}

const FATAL = (status) => status < 500 && ![401, 403, 404, 408, 429].includes(status);

// new SSEClient(url or [candidate urls], options); see the README.
export class SSEClient extends EventTarget {
  constructor(url, o = {}) {
    super();
    this.o = o;
    this.url = Array.isArray(url) ? null : new URL(url, globalThis.location && location.href).href;
    this.policy = mergePolicy(o.policy);
    this.quality = new Quality(this.policy.quality);
    this.attempts = {};
    this.prev = 0;
    this.transport = 'sse';
    this.readyState = 0;
    this.last = {};
    this.parser = new Parser((e) => this.deliver(e));
    if (o.lastEventId) this.parser.lastId = this.parser.id = String(o.lastEventId);
    this.run(Array.isArray(url) ? url : null);
  }
  get lastEventId() { return this.parser.lastId; }
  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  deliver(e) {
    if (e.type === 'sse-proxy') { try { this.hint = JSON.parse(e.data); } catch (x) { /* not ours */ } }
    this.dispatchEvent(new MessageEvent(e.type, { data: e.data, lastEventId: e.id, origin: new URL(this.url).origin }));
  }
  close() { this.end('closed'); }
  end(reason, detail) {
    if (this.readyState === 2) return;
    this.readyState = 2;
    this.closed = true;
    clearTimeout(this.wd);
    clearTimeout(this.timer);
    if (this.wake) this.wake();
    if (this.ac) this.ac.abort();
    if (this.sock) this.sock.close();
    this.emit('closed', { reason, ...detail });
  }
  async run(candidates) {
    const o = this.o;
    await null; // listeners added after the constructor see every event
    if (o.policyUrl) {
      try {
        this.policy = await loadPolicy(o.policyUrl, { credentials: o.credentials });
        this.quality.table = this.policy.quality;
        this.emit('policy', { policy: this.policy, source: o.policyUrl });
      } catch (e) { this.emit('policy', { policy: this.policy, source: 'default', error: String(e) }); }
    }
    if (candidates) {
      const d = await discover(candidates, { credentials: o.credentials });
      if (this.closed) return;
      if (!d) return this.end('no-endpoint');
      this.url = d.url;
      this.emit('discovered', d);
    }
    while (!this.closed) {
      const r = this.transport === 'ws' ? await this.ws() : await this.sse();
      if (this.closed) return;
      if (r.stop) return this.end(r.stop, r);
      if (r.to) {
        this.emit('transport', { from: this.transport, to: r.to, reason: r.why });
        this.transport = r.to;
        continue;
      }
      this.readyState = 0;
      this.last = r;
      const b = this.backoff(r);
      if (b.delay < 0) return this.end('give-up', b);
      this.emit('backoff', b);
      await new Promise((w) => { this.wake = w; this.timer = setTimeout(w, b.delay); });
    }
  }
  // The pause before the next attempt: the server's retry: after a
  // stream that ended (as EventSource), the policy otherwise.
  backoff(r) {
    const cls = r.class;
    const s = this.policy.strategies[cls];
    const n = this.attempts[cls] = (this.attempts[cls] ?? -1) + 1;
    const quality = this.quality.grade();
    const multiplier = this.policy.quality[quality].multiplier;
    const b = { class: cls, attempt: n, quality, multiplier, status: r.status, source: 'policy' };
    if (r.retry >= 0) return { ...b, base: r.retry, delay: r.retry, source: 'retry' };
    b.base = backoffDelay(s, n, multiplier);
    if (b.base < 0) return { ...b, delay: -1 };
    b.delay = this.prev = jittered(this.policy.jitter, s, b.base, multiplier, this.prev);
    if (r.after > b.delay) b.delay = Math.min(r.after, s.max_ms);
    return b;
  }
  opened(transport, latency, status) {
    this.readyState = 1;
    this.quality.latency(latency);
    this.quality.attempt(false);
    this.attempts = {};
    this.prev = 0;
    this.last = {};
    this.emit('open', { url: this.url, transport, latency, status });
  }
  failed(r) { this.quality.attempt(true); return r; }
  // The buffering watchdog: an SSE GET that gets no byte (event or
  // heartbeat) for bufferTimeout ms goes over to a WebSocket.
  kick() {
    const o = this.o;
    clearTimeout(this.wd);
    if (!o.websocket || (o.method && o.method !== 'GET')) return;
    this.wd = setTimeout(() => { this.buffered = true; this.ac.abort(); }, o.bufferTimeout || 2 * (o.heartbeat || 15000));
  }
  async sse() {
    const o = this.o;
    const ac = this.ac = new AbortController();
    let t0;
    this.buffered = false;
    this.hint = null;
    this.emit('connecting', { url: this.url, transport: 'sse' });
    let res;
    try {
      const extra = typeof o.headers === 'function' ? await o.headers({ ...this.last, lastEventId: this.lastEventId }) : o.headers;
      const h = { Accept: 'text/event-stream', ...extra };
      if (this.parser.lastId) h['Last-Event-ID'] = this.parser.lastId;
      if (this.closed) return {};
      this.kick();
      t0 = performance.now();
      res = await fetch(this.url, { method: o.method || 'GET', body: o.body, headers: h, credentials: o.credentials || 'same-origin', cache: 'no-store', signal: ac.signal });
    } catch (e) {
      clearTimeout(this.wd);
      if (this.buffered) return { to: 'ws', why: 'buffering' };
      return this.failed({ class: classify(0, 'network: ' + e), error: String(e) });
    }
    const status = res.status;
    if (status === 204) return { stop: 'no-content', status };
    if (status !== 200 || !SSE.test(res.headers.get('content-type') || '')) {
      clearTimeout(this.wd);
      ac.abort();
      if (res.ok || FATAL(status)) return { stop: res.ok ? 'not-event-stream' : 'http-error', status };
      const ra = +res.headers.get('retry-after');
      return this.failed({ class: classify(status), status, after: ra > 0 ? ra * 1000 : 0 });
    }
    this.opened('sse', Math.round(performance.now() - t0), status);
    this.parser.reset();
    const rd = res.body.getReader();
    const dec = new TextDecoder();
    let broke = null;
    try {
      for (;;) {
        const { done, value } = await rd.read();
        if (done) break;
        this.kick();
        this.parser.feed(dec.decode(value, { stream: true }));
        if (this.closed) return {};
      }
    } catch (e) {
      broke = String(e);
    }
    clearTimeout(this.wd);
    if (this.buffered) return { to: 'ws', why: 'buffering' };
    // An sse-proxy event is the proxy's "no member left" answer: a
    // failure of its class, to come back after its retry.
    const h = this.hint;
    if (h) this.quality.attempt(true);
    return {
      class: h && CLASSES.includes(h.class) ? h.class : classify(0, broke ? 'premature end' : 'stream closed'),
      retry: this.parser.retry,
      error: broke,
    };
  }
  ws() {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const url = (this.o.wsUrl || wsUrl)(this.url, this.parser.lastId);
      let open = false;
      this.emit('connecting', { url, transport: 'ws' });
      const ws = this.sock = new WebSocket(url);
      ws.onopen = () => { open = true; this.opened('ws', Math.round(performance.now() - t0), 101); };
      ws.onmessage = (m) => {
        let e;
        try { e = JSON.parse(m.data); } catch (x) { return; }
        if (e.id !== undefined && e.id !== null) this.parser.lastId = this.parser.id = String(e.id);
        const d = e.data;
        this.deliver({ type: e.event || 'message', data: typeof d === 'string' ? d : JSON.stringify(d ?? ''), id: this.parser.id });
      };
      ws.onclose = (c) => {
        this.sock = null;
        // a WebSocket that never opened: back to the event stream
        if (!open) this.transport = 'sse';
        resolve(this.closed ? {} : this.failed({ class: open ? 'PROXY_ERROR' : 'NETWORK_ERROR', code: c.code }));
      };
    });
  }
}
