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
// in local names rather than properties, and the names the minifier has
// to keep (keys, event names) are spelt once where they repeat.

const { floor, min } = Math;
const now = Date.now;

const CLASSES = ['NETWORK', 'AUTH', 'SERVER', 'PROXY'].map((c) => c + '_ERROR');
const [NETWORK, AUTH, SERVER, PROXY] = CLASSES;
const GRADES = ['EXCELLENT', 'GOOD', 'FAIR', 'POOR'];
const JITTERS = ['none', 'full', 'equal', 'decorrelated'];
const ACCEPT = { Accept: 'text/event-stream' };
const MESSAGE = 'message';
// names read and written all over: a Parser's lastId, and what the
// client's users know as lastEventId
const LAST_ID = 'lastId';
const LAST_EVENT_ID = 'lastEventId';
const RETRY = 'retry'; // a field, a Parser's and a backoff's source
const POLICY = 'policy'; // an option, an event and a backoff's source
// The keys of a strategy and of a quality grade, named where they are read.
const STRATEGY = ['initial_ms', 'max_ms', 'factor', 'max_attempts'];
const [INITIAL, MAX, FACTOR, ATTEMPTS] = STRATEGY;
const GRADE = ['latency_threshold_ms', 'multiplier'];
const [THRESHOLD, MULTIPLIER] = GRADE;

const zip = (keys, values) => Object.fromEntries(keys.map((k, i) => [k, values[i]]));
// a URL against the page's (a location reads as its href)
const here = (url) => new URL(url, globalThis.location);
const get = (url, init) => fetch(url, { cache: 'no-store', ...init });
const header = (res, name) => res.headers.get(name);
// a 200 with the type of an event stream
const isStream = (res) => res.status == 200 && /^text\/event-stream/i.test(header(res, 'content-type'));
const between = (lo, hi) => lo + floor(Math.random() * (hi - lo + 1));

// The policy's two tables: for each, its rows, the keys of a row,
// libssepolicy's defaults (ssep_policy_init) and what makes a row valid.
const TABLES = [
  ['strategies', CLASSES, STRATEGY,
    [[5000, 300000, 1.5, 8], [30000, 600000, 2, 5], [10000, 180000, 1.8, 6], [15000, 900000, 2.5, 4]],
    (initial, most, factor, attempts) => initial > 0 && most >= initial && factor >= 1 && attempts >= 1],
  ['quality', GRADES, GRADE,
    [[100, 0.5], [500, 1], [2000, 1.5], [5000, 3]],
    () => true],
];

// A policy document (the status handler's ?format=policy) over the
// defaults: a row that is missing or malformed keeps the default.
const mergePolicy = (doc) => {
  const jitter = doc?.jitter;
  const p = { jitter: JITTERS.includes(jitter) ? jitter : JITTERS[2] };
  for (const [table, rows, keys, defaults, valid] of TABLES) {
    // the document's row if it is valid, else the default
    p[table] = zip(rows, defaults.map((d, i) => zip(keys, [keys.map((k) => doc?.[table]?.[rows[i]]?.[k])]
      .find((values) => values.every((v) => typeof v === 'number' && v >= 0) && valid(...values)) || d)));
  }
  return p;
};

// libssepolicy's default table: no document at all.
const DEFAULT_POLICY = mergePolicy();

// ssep_classify(): an HTTP status, else words of an error message.
const classify = (status, message) => (
  status === 404 || status === 502 || status === 503 ? PROXY
    : status === 401 || status === 403 ? AUTH
      : status >= 500 ? SERVER
        : /network|connection/i.test(message) || !/stream closed|premature/i.test(message) ? NETWORK : PROXY);

// ssep_backoff_delay(): floor(min(initial * factor^n, max) * multiplier),
// or -1 once the strategy's attempts are used up.
const backoffDelay = (s, n, multiplier = 1) => {
  const v = min(s[INITIAL] * s[FACTOR] ** n, s[MAX]) * multiplier;
  return n < s[ATTEMPTS] ? floor(v + v * 1e-12) : -1;
};

// ssep_backoff_jittered(), with Math.random(): none (and an unknown mode)
// keeps d, full draws from [0, d], equal from [d/2, d], decorrelated from
// [initial, 3 * the previous delay] up to the maximum.
const jittered = (mode, s, d, multiplier = 1, prev = 0) => {
  const m = JITTERS.indexOf(mode);
  const lo = s[INITIAL];
  return m > 2 ? min(between(lo, Math.max(lo, 3 * (prev > 0 ? prev : lo))), floor(s[MAX] * multiplier))
    : m > 0 ? between((m - 1) * floor(d / 2), d) : d;
};

const loadPolicy = (url, init) => get(url, init).then((r) => (
  r.ok ? r.json().then(mergePolicy) : Promise.reject(Error('policy: HTTP ' + r.status))));

// Connection quality (ssep_tracker): the mean of the last 10 latencies
// and the failure rate of the last 5 minutes; GOOD until 3 samples.
// new Quality(table); table is the policy's quality grades.
function Quality(table) {
  const quality = this;
  let latencies = [];
  let attempts = []; // [time, failed]
  // the attempts of the 5 minutes up to t
  const recent = (t) => attempts.filter((a) => a[0] > t - 300000);
  quality.table = table;
  quality.latency = (ms) => { latencies = [...latencies, ms].slice(-10); };
  quality.attempt = (failed, t = now()) => { attempts = [...recent(t), [t, failed]]; };
  quality.grade = (t = now()) => {
    const last = recent(t);
    const n = latencies.length;
    const mean = latencies.reduce((a, b) => a + b, 0) / n;
    const rate = last.filter((a) => a[1]).length / last.length || 0;
    // the error rate below which a grade holds: 10%, 30%, 50%
    return n < 3 ? GRADES[1]
      : GRADES.find((g, i) => i > 2 || (mean < quality.table[g][THRESHOLD] && rate < (2 * i + 1) / 10));
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
  parser[LAST_ID] = '';
  parser[RETRY] = -1;
  // A new connection: the id is the one of the last complete event.
  (parser.reset = () => {
    buf = data = type = '';
    cr = false;
    id = parser[LAST_ID];
  })();
  parser.feed = (s) => {
    // Each complete line is taken out of the text, as name, value and
    // line end; what is left is the start of the next one.  A CR that ended
    // the last chunk and the LF that starts this one are one line end:
    // slice(true) drops that LF.
    buf = (buf + s.slice(cr && s[0] == '\n')).replace(/([^:\r\n]*):? ?([^\r\n]*)(\r\n?|\n)/g, (line, name, v, end) => {
      if (line == end) {
        // the empty line: each data line ended with LF, the event's data
        // has all but the last
        parser[LAST_ID] = id;
        if (data) onEvent({ type: type || MESSAGE, data: data.slice(0, -1), id });
        data = type = '';
      } else if (name == 'data') data += v + '\n';
      else if (name == 'event') type = v;
      else if (name == 'id') { if (!/\0/.test(v)) id = v; } else if (name == RETRY && /^\d+$/.test(v)) parser[RETRY] = +v;
      // (a comment has the empty name, which is no field)
      return '';
    });
    cr = /\r$/.test(s);
  };
}

// Endpoint discovery: the first candidate that answers HEAD with
// Accept: text/event-stream as an event stream would (200 with that
// type, or 401), as {url, status, relay (its X-SSE-Relay)}, or null.
const discover = async (urls, init) => {
  for (const url of urls) {
    try {
      const r = await get(url, { method: 'HEAD', headers: ACCEPT, ...init });
      const status = r.status;
      if (status == 401 || isStream(r)) {
        return { url: String(here(url)), status, relay: header(r, 'x-sse-relay') };
      }
    } catch { /* refused, blocked: the next one */ }
  }
  return null;
};

// The WebSocket URL for an event-stream URL, resuming after lastId.
const wsUrl = (url, lastId) => {
  // http: as ws:, https: as wss:
  const u = here(String(here(url)).replace(/^http/, 'ws'));
  if (lastId) u.searchParams.set(LAST_EVENT_ID, lastId);
  return String(u);
};

// new SSEClient(url or [candidate urls], options); see the README.  Its
// state lives in the constructor's scope: url, readyState, lastEventId
// and close() are for its users.
class SSEClient extends EventTarget {
  constructor(target, options = {}) {
    super();
    // (what is read once is read as options.x)
    const { method, headers, policyUrl } = options;
    // what every request of the client carries
    const init = { credentials: options.credentials };
    const client = this;
    const candidates = target.map && target; // an array, not a URL
    const parser = client.parser = new Parser((e) => deliver(e.type, e.data));
    let url = client.url = candidates ? null : String(here(target));
    let policy = mergePolicy(options[POLICY]);
    let transport = 'sse'; // or 'ws': the key of its attempt in connect
    let attempts = {}; // per class, since the last open
    // stop: what close() stops, the attempt's request or socket, or the
    // pause between attempts
    let quality, prev, last, closed, hint, stop, t0;
    // The buffering watchdog: an SSE GET that gets no byte (event or
    // heartbeat) for this long goes over to a WebSocket.
    const patience = options.websocket && (!method || method === 'GET') && (options.bufferTimeout || 2 * (options.heartbeat || 15000));
    const state = (n) => (client.readyState = n);

    const dispatch = (event) => client.dispatchEvent(event);
    const emit = (type, detail) => dispatch(new CustomEvent(type, { detail }));
    // An event, from the parser or a WebSocket message: its id is the
    // parser's lastId by then.
    const deliver = (type, data) => {
      if (type == 'sse-proxy') try { hint = JSON.parse(data); } catch { /* not ours */ }
      dispatch(new MessageEvent(type, { data, [LAST_EVENT_ID]: parser[LAST_ID], origin: here(url).origin }));
    };
    const end = (reason, detail) => {
      if (!closed) {
        closed = state(2); // (2, which is true)
        stop?.();
        emit('closed', { reason, ...detail });
      }
    };

    // An attempt starts (t0: from when the latency of its opening counts)
    // and opens: no failure, delay or proxy's hint since.
    const connecting = (to) => {
      emit('connecting', { url: to, transport });
      t0 = now();
      return to;
    };
    const opened = (status, latency = now() - t0) => {
      state(1);
      quality.latency(latency);
      quality.attempt(false);
      attempts = {};
      prev = last = hint = null; // (jittered() takes no prev as none)
      emit('open', { url, transport, latency, status });
    };

    // One attempt over either transport: a failure to back off from, or
    // nothing when the client closed, went over to a WebSocket or stopped.
    const connect = {
      async sse() {
        const controller = new AbortController();
        const abort = stop = () => controller.abort();
        const id = parser[LAST_ID];
        let res, buffered, watchdog;
        let error = null;
        // rearmed by every chunk; one that fires late aborts what is over
        // (abort() takes no argument: buffered is set on the way)
        const kick = () => {
          clearTimeout(watchdog);
          watchdog = patience && setTimeout(() => abort(buffered = true), patience);
        };
        connecting(url);
        try {
          const h = { ...ACCEPT, ...(typeof headers === 'function' ? await headers({ ...last, [LAST_EVENT_ID]: id }) : headers) };
          if (id) h['Last-Event-ID'] = id;
          // closed meanwhile: the signal is aborted, and so is the fetch
          kick();
          t0 = now();
          res = await get(url, { ...init, method, body: options.body, headers: h, signal: controller.signal });
          const status = res.status;
          if (!isStream(res)) {
            abort();
            // 401, 403, 404, 408, 429 and 5xx are retried
            if (res.ok || !/40[1348]|429|^5/.test(status)) {
              return end(status == 204 ? 'no-content' : res.ok ? 'not-event-stream' : 'http-error', { status });
            }
            const after = 1000 * header(res, 'retry-after');
            return { class: classify(status), status, after: after > 0 ? after : 0 };
          }
          opened(status);
          parser.reset();
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          for (let chunk; !(chunk = await reader.read()).done;) {
            kick();
            parser.feed(decoder.decode(chunk.value, { stream: true }));
          }
        } catch (e) {
          error = String(e);
        }
        if (buffered) {
          emit('transport', { from: transport, to: transport = 'ws', reason: 'buffering' });
        } else {
          // The stream ended (retry is the server's, -1 if none), or there
          // was none.  An sse-proxy event is the proxy's "no member left"
          // answer: a failure of its class, to come back after its retry.
          return !res ? { class: NETWORK, error }
            : { class: CLASSES.includes(hint?.class) ? hint.class : PROXY, [RETRY]: parser[RETRY], error };
        }
      },
      ws: () => new Promise((resolve) => {
        const socket = new WebSocket(connecting((options.wsUrl || wsUrl)(url, parser[LAST_ID])));
        let open;
        stop = () => socket.close();
        socket.onopen = () => { open = true; opened(101); };
        socket.onmessage = (m) => {
          try {
            const { id, event, data } = JSON.parse(m.data);
            if (id != null) parser[LAST_ID] = String(id);
            deliver(event || MESSAGE, typeof data === 'string' ? data : JSON.stringify(data ?? ''));
          } catch { /* not an event */ }
        };
        socket.onclose = (c) => {
          // a WebSocket that never opened: back to the event stream
          if (!open) transport = 'sse';
          resolve(closed || { class: open ? PROXY : NETWORK, code: c.code });
        };
      }),
    };

    state(0);
    parser[LAST_ID] = String(options[LAST_EVENT_ID] || '');
    client.close = () => end('closed');
    (async () => {
      // (awaited, so that listeners added after the constructor see
      // every event)
      if (await policyUrl) {
        let source = policyUrl;
        let error;
        policy = await loadPolicy(policyUrl, init).catch((e) => {
          source = 'default';
          error = String(e);
          return policy;
        });
        emit(POLICY, { [POLICY]: policy, source, error });
      }
      quality = new Quality(policy.quality);
      if (candidates) {
        const d = await discover(candidates, init);
        // (end() does nothing once closed)
        if (closed || !d) return end('no-endpoint');
        url = client.url = d.url;
        emit('discovered', d);
      }
      while (!closed) {
        const r = await connect[transport]();
        if (r && !closed) {
          const { class: cls, after, [RETRY]: retry } = r;
          // A failure for the connection quality: all but a stream that
          // ended (the one result with a retry) without the proxy's hint.
          if (retry == null || hint) quality.attempt(true);
          // The pause before the next attempt: the server's retry: after
          // a stream that ended (as EventSource), the policy otherwise; a
          // Retry-After as a floor.
          const server = retry >= 0;
          const s = policy.strategies[cls];
          const attempt = attempts[cls] = attempts[cls] + 1 || 0; // from 0
          const grade = quality.grade();
          const multiplier = quality.table[grade][MULTIPLIER];
          const base = server ? retry : backoffDelay(s, attempt, multiplier);
          const jitteredDelay = server || base < 0 ? base : prev = jittered(policy.jitter, s, base, multiplier, prev);
          const delay = jitteredDelay >= 0 && after > jitteredDelay ? min(after, s[MAX]) : jitteredDelay;
          const b = { class: cls, attempt, quality: grade, [MULTIPLIER]: multiplier, status: r.status, source: server ? RETRY : POLICY, base, delay };
          state(0);
          last = r;
          if (delay < 0) end('give-up', b);
          else {
            emit('backoff', b);
            await new Promise((w) => setTimeout(stop = w, delay));
          }
        }
      }
    })();
  }

  // lastEventId
  get [LAST_EVENT_ID]() { return this.parser[LAST_ID]; }
}

export {
  DEFAULT_POLICY, classify, backoffDelay, jittered, mergePolicy, loadPolicy,
  Quality, Parser, discover, wsUrl, SSEClient,
};
