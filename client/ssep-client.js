// Copyright 2025-2026 The mod_sse_proxy authors
// SPDX-License-Identifier: Apache-2.0

// ssep-client.js: a Server-Sent Events client for browsers that reconnects
// by the policy of mod_sse_proxy (libssepolicy): error classes, per-class
// backoff, jitter and connection-quality grades, read from the proxy.
// Streams over fetch(), so it can send headers (refreshed before every
// attempt), POST a body, find its endpoint among candidates and fall back
// to a WebSocket behind a proxy that buffers event streams.
// No dependencies; an ES module.  client/minify.mjs makes the shipped
// ssep-client.min.js, which renames what is not exported: state is kept
// in local names rather than properties, so that it can.

const CLASSES = ['NETWORK_ERROR', 'AUTH_ERROR', 'SERVER_ERROR', 'PROXY_ERROR'];
const [NETWORK, AUTH, SERVER, PROXY] = CLASSES;
const GRADES = ['EXCELLENT', 'GOOD', 'FAIR', 'POOR'];
const STRATEGY = ['initial_ms', 'max_ms', 'factor', 'max_attempts'];
const GRADE = ['latency_threshold_ms', 'multiplier'];
const ACCEPT = { Accept: 'text/event-stream' };
const SSE = /^text\/event-stream/i;

const zip = (keys, values) => Object.fromEntries(keys.map((k, i) => [k, values[i]]));
const here = (url) => new URL(url, globalThis.location?.href);
const get = (url, init) => fetch(url, { cache: 'no-store', ...init });
const isStream = (res) => SSE.test(res.headers.get('content-type'));
const within5min = (now) => (a) => a[0] > now - 300000;
const between = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

// libssepolicy's default table (ssep_policy_init).
const DEFAULT_POLICY = {
  jitter: 'equal',
  strategies: zip(CLASSES, [
    [5000, 300000, 1.5, 8], [30000, 600000, 2, 5], [10000, 180000, 1.8, 6], [15000, 900000, 2.5, 4],
  ].map((s) => zip(STRATEGY, s))),
  quality: zip(GRADES, [[100, 0.5], [500, 1], [2000, 1.5], [5000, 3]].map((q) => zip(GRADE, q))),
};

// ssep_classify(): an HTTP status, else words of an error message.
const classify = (status, message) => {
  if (status === 404 || status === 502 || status === 503) return PROXY;
  if (status === 401 || status === 403) return AUTH;
  if (status >= 500) return SERVER;
  return /network|connection/i.test(message) || !/stream closed|premature/i.test(message) ? NETWORK : PROXY;
};

// ssep_backoff_delay(): floor(min(initial * factor^n, max) * multiplier),
// or -1 once the strategy's attempts are used up.
const backoffDelay = (s, n, multiplier = 1) => {
  const v = Math.min(s.initial_ms * s.factor ** n, s.max_ms) * multiplier;
  return n < s.max_attempts ? Math.floor(v + v * 1e-12) : -1;
};

// ssep_backoff_jittered(), with Math.random().
const jittered = (mode, s, d, multiplier = 1, prev = 0) => {
  if (mode === 'full') return between(0, d);
  if (mode === 'equal') return between(Math.floor(d / 2), d);
  if (mode !== 'decorrelated') return d;
  const lo = s.initial_ms;
  return Math.min(between(lo, Math.max(lo, 3 * (prev > 0 ? prev : lo))), Math.floor(s.max_ms * multiplier));
};

// A policy document (the status handler's ?format=policy) over the
// defaults: what is missing or malformed keeps the default.
const mergePolicy = (doc) => {
  const p = JSON.parse(JSON.stringify(DEFAULT_POLICY));
  const merge = (table, keys, valid) => {
    for (const name in p[table]) {
      const values = keys.map((k) => doc?.[table]?.[name]?.[k]);
      if (values.every((v) => typeof v === 'number' && v >= 0) && valid(...values)) p[table][name] = zip(keys, values);
    }
  };
  if (['none', 'full', 'equal', 'decorrelated'].includes(doc?.jitter)) p.jitter = doc.jitter;
  merge('strategies', STRATEGY, (initial, max, factor, attempts) => initial > 0 && max >= initial && factor >= 1 && attempts >= 1);
  merge('quality', GRADE, () => true);
  return p;
};

const loadPolicy = async (url, init) => {
  const r = await get(url, init);
  if (!r.ok) throw new Error('policy: HTTP ' + r.status);
  return mergePolicy(await r.json());
};

// Connection quality (ssep_tracker): the mean of the last 10 latencies
// and the failure rate of the last 5 minutes; GOOD until 3 samples.
// new Quality(table); table is the policy's quality grades.
function Quality(table) {
  let latencies = [];
  let attempts = []; // [time, failed]
  this.table = table;
  this.latency = (ms) => { latencies = [...latencies, ms].slice(-10); };
  this.attempt = (failed, now = Date.now()) => { attempts = [...attempts.filter(within5min(now)), [now, failed]]; };
  this.grade = (now = Date.now()) => {
    const recent = attempts.filter(within5min(now));
    const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
    const rate = recent.filter((a) => a[1]).length / (recent.length || 1);
    // the error rate below which a grade holds: 10%, 30%, 50%
    return latencies.length < 3 ? 'GOOD'
      : GRADES.find((g, i) => i > 2 || (mean < this.table[g].latency_threshold_ms && rate < [0.1, 0.3, 0.5][i]));
  };
}

// The WHATWG event-stream interpretation, as libssepolicy's parser: CR,
// LF and CRLF line ends, comments, a field without a colon, an id with
// NUL ignored, retry only when all digits, data lines joined with LF,
// event type "message" by default.  A leading BOM is TextDecoder's.
// new Parser(onEvent): feed(text), reset(), lastId, retry.
function Parser(onEvent) {
  const parser = this;
  let buf, cr, data, type, id;
  parser.lastId = '';
  parser.retry = -1;
  // A new connection: the id is the one of the last complete event.
  parser.reset = () => {
    buf = '';
    cr = false;
    data = [];
    type = '';
    id = parser.lastId;
  };
  parser.feed = (s) => {
    // a CR that ended the last chunk and the LF that starts this one are one line end
    const text = buf + (cr && s[0] === '\n' ? s.slice(1) : s);
    const lines = text.split(/\r\n?|\n/);
    cr = text.endsWith('\r');
    buf = lines.pop();
    for (const l of lines) {
      // a comment has the empty name, which is no field
      const [, name, v] = /^([^:]*):? ?([^]*)/.exec(l);
      if (!l) {
        parser.lastId = id;
        if (data.length) onEvent({ type: type || 'message', data: data.join('\n'), id });
        data = [];
        type = '';
      } else if (name === 'data') data.push(v);
      else if (name === 'event') type = v;
      else if (name === 'id') { if (!v.includes('\0')) id = v; } else if (name === 'retry' && /^\d+$/.test(v)) parser.retry = +v;
    }
  };
  parser.reset();
}

// Endpoint discovery: the first candidate that answers HEAD with
// Accept: text/event-stream as an event stream would (200 with that
// type, or 401), as {url, status, relay (its X-SSE-Relay)}, or null.
const discover = async (urls, init) => {
  for (const url of urls) {
    try {
      const r = await get(url, { method: 'HEAD', headers: ACCEPT, ...init });
      const status = r.status;
      if (status === 401 || (status === 200 && isStream(r))) {
        return { url: here(url).href, status, relay: r.headers.get('x-sse-relay') };
      }
    } catch (e) { /* refused, blocked: the next one */ }
  }
  return null;
};

// The WebSocket URL for an event-stream URL, resuming after lastId.
const wsUrl = (url, lastId) => {
  const u = here(url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  if (lastId) u.searchParams.set('lastEventId', lastId);
  return u.href;
};

// new SSEClient(url or [candidate urls], options); see the README.  Its
// state lives in the constructor's scope: url, readyState, lastEventId
// and close() are for its users.
class SSEClient extends EventTarget {
  constructor(target, {
    method, body, headers, credentials, policy: given, policyUrl, lastEventId,
    websocket, heartbeat, bufferTimeout, wsUrl: toWs,
  } = {}) {
    super();
    const client = this;
    const candidates = Array.isArray(target) && target;
    const parser = client.parser = new Parser((e) => deliver(e));
    let url = client.url = candidates ? null : here(target).href;
    let policy = mergePolicy(given);
    const quality = new Quality(policy.quality);
    let attempts = {};
    let prev = 0; // the last jittered delay, for decorrelated jitter
    let last = {}; // the last failure, for the headers callback
    let overWebSocket = false;
    let closed, hint, buffered, watchdog, timer, wake, controller, socket;
    // The buffering watchdog: an SSE GET that gets no byte (event or
    // heartbeat) for this long goes over to a WebSocket.
    const patience = websocket && (method || 'GET') === 'GET' && (bufferTimeout || 2 * (heartbeat || 15000));
    const state = (n) => { client.readyState = n; };
    const stopWatchdog = () => clearTimeout(watchdog);
    const kick = () => {
      stopWatchdog();
      if (patience) watchdog = setTimeout(() => { buffered = true; controller.abort(); }, patience);
    };
    state(0);
    if (lastEventId) parser.lastId = String(lastEventId);

    const emit = (type, detail) => client.dispatchEvent(new CustomEvent(type, { detail }));
    const deliver = (e) => {
      if (e.type === 'sse-proxy') try { hint = JSON.parse(e.data); } catch (x) { /* not ours */ }
      client.dispatchEvent(new MessageEvent(e.type, { data: e.data, lastEventId: e.id, origin: new URL(url).origin }));
    };
    const end = (reason, detail) => {
      if (!closed) {
        closed = true;
        state(2);
        clearTimeout(timer);
        wake?.();
        controller?.abort();
        socket?.close();
        emit('closed', { reason, ...detail });
      }
    };
    client.close = () => end('closed');

    // An attempt starts: its start time, for the latency of its opening.
    const connecting = (to, transport) => {
      emit('connecting', { url: to, transport });
      return Date.now();
    };
    const opened = (kind, t0, status) => {
      const latency = Date.now() - t0;
      state(1);
      quality.latency(latency);
      quality.attempt(false);
      attempts = {};
      prev = 0;
      last = {};
      emit('open', { url, transport: kind, latency, status });
    };
    const failed = (r) => { quality.attempt(true); return r; };
    // One attempt over fetch(): a failure to back off from, or nothing
    // when the client closed, went over to a WebSocket or stopped.
    const sse = async () => {
      let res;
      let error = null;
      controller = new AbortController();
      buffered = false;
      hint = null;
      connecting(url, 'sse');
      let t0;
      try {
        const h = { ...ACCEPT, ...(typeof headers === 'function' ? await headers({ ...last, lastEventId: parser.lastId }) : headers) };
        if (parser.lastId) h['Last-Event-ID'] = parser.lastId;
        // closed meanwhile: the signal is aborted, and so is the fetch
        kick();
        t0 = Date.now();
        res = await get(url, { method, body, headers: h, credentials, signal: controller.signal });
        const status = res.status;
        if (status !== 200 || !isStream(res)) {
          controller.abort();
          if (res.ok || (status < 500 && ![401, 403, 404, 408, 429].includes(status))) {
            return end(status === 204 ? 'no-content' : res.ok ? 'not-event-stream' : 'http-error', { status });
          }
          const after = 1000 * res.headers.get('retry-after');
          return failed({ class: classify(status), status, after: after > 0 ? after : 0 });
        }
        opened('sse', t0, status);
        parser.reset();
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        for (let chunk; !(chunk = await reader.read()).done;) {
          kick();
          parser.feed(decoder.decode(chunk.value, { stream: true }));
        }
      } catch (e) {
        error = String(e);
      } finally {
        stopWatchdog();
      }
      if (buffered) {
        emit('transport', { from: 'sse', to: 'ws', reason: 'buffering' });
        overWebSocket = true;
      } else if (!res) {
        return failed({ class: NETWORK, error });
      } else {
        // An sse-proxy event is the proxy's "no member left" answer: a
        // failure of its class, to come back after its retry.
        if (hint) quality.attempt(true);
        return { class: CLASSES.includes(hint?.class) ? hint.class : PROXY, retry: parser.retry, error };
      }
    };
    const ws = () => new Promise((resolve) => {
      const to = (toWs || wsUrl)(url, parser.lastId);
      const t0 = connecting(to, 'ws');
      let open;
      socket = new WebSocket(to);
      socket.onopen = () => { open = true; opened('ws', t0, 101); };
      socket.onmessage = (m) => {
        try {
          const e = JSON.parse(m.data);
          const d = e.data;
          if (e.id != null) parser.lastId = String(e.id);
          deliver({ type: e.event || 'message', data: typeof d === 'string' ? d : JSON.stringify(d ?? ''), id: parser.lastId });
        } catch (x) { /* not an event */ }
      };
      socket.onclose = (c) => {
        // a WebSocket that never opened: back to the event stream
        if (!open) overWebSocket = false;
        resolve(closed || failed({ class: open ? PROXY : NETWORK, code: c.code }));
      };
    });

    (async () => {
      await null; // listeners added after the constructor see every event
      const init = { credentials };
      if (policyUrl) {
        let source = policyUrl;
        let error;
        try {
          policy = await loadPolicy(source, init);
        } catch (e) {
          source = 'default';
          error = String(e);
        }
        quality.table = policy.quality;
        emit('policy', { policy, source, error });
      }
      if (candidates) {
        const d = await discover(candidates, init);
        if (closed) return;
        if (!d) return end('no-endpoint');
        url = client.url = d.url;
        emit('discovered', d);
      }
      while (!closed) {
        const r = await (overWebSocket ? ws() : sse());
        if (r && !closed) {
          // The pause before the next attempt: the server's retry: after
          // a stream that ended (as EventSource), the policy otherwise; a
          // Retry-After as a floor.
          const cls = r.class;
          const s = policy.strategies[cls];
          const attempt = attempts[cls] = (attempts[cls] ?? -1) + 1;
          const grade = quality.grade();
          const multiplier = policy.quality[grade].multiplier;
          const retry = r.retry >= 0;
          const base = retry ? r.retry : backoffDelay(s, attempt, multiplier);
          let delay = retry || base < 0 ? base : prev = jittered(policy.jitter, s, base, multiplier, prev);
          if (delay >= 0 && r.after > delay) delay = Math.min(r.after, s.max_ms);
          const b = { class: cls, attempt, quality: grade, multiplier, status: r.status, source: retry ? 'retry' : 'policy', base, delay };
          state(0);
          last = r;
          if (delay < 0) return end('give-up', b);
          emit('backoff', b);
          await new Promise((w) => { wake = w; timer = setTimeout(w, delay); });
        }
      }
    })();
  }

  get lastEventId() { return this.parser.lastId; }
}

export {
  DEFAULT_POLICY, classify, backoffDelay, jittered, mergePolicy, loadPolicy,
  Quality, Parser, discover, wsUrl, SSEClient,
};
