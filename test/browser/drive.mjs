#!/usr/bin/env node
// Copyright 2025-2026 The mod_sse_proxy authors
// SPDX-License-Identifier: Apache-2.0

// Headless Chromium for the browser tests (test_browser.py):
//
//   node drive.mjs <scenario> '<json arguments>'
//
// runs one scenario in one page and prints one JSON line on stdout (the
// outage scenario also prints READY, the chat scenario with stop_after
// ABORTED, and waits for a line on stdin).  It
// exits 0 whenever it could run the scenario, whatever the page saw: the
// Python side judges.  Exit 1 means a driver error (the JSON line then
// has "error").
//
// Common arguments: chromium (path), profile (a fresh --user-data-dir the
// caller removes; a temporary one otherwise), deadline_ms (the driver
// gives up after this long, default 120000).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

// Flags for a machine with no network and no GPU.
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-dev-shm-usage', '--ignore-certificate-errors',
];

const [scenarioName, rawArgs = '{}'] = process.argv.slice(2);
const args = JSON.parse(rawArgs);

let context = null;
let tmpProfile = null;
const stdinLines = [];
let stdinWaiter = null;

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function shutdown(code) {
  try {
    if (context) await context.close();
  } catch (err) { /* the browser may be gone already */ }
  context = null;
  if (tmpProfile) fs.rmSync(tmpProfile, { recursive: true, force: true });
  process.exit(code);
}

async function launch() {
  let profile = args.profile;
  if (!profile) profile = tmpProfile = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    ignoreHTTPSErrors: true,
    viewport: { width: args.width || 1280, height: args.height || 860 },
    timeout: 60000,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(30000);
  // The protocol of every response, as the network stack saw it.
  const cdp = await context.newCDPSession(page);
  const protocols = [];
  cdp.on('Network.responseReceived', (e) => {
    protocols.push({ url: e.response.url, status: e.response.status,
                     protocol: e.response.protocol || null });
  });
  // Requests that failed, with Chromium's reason when CORS blocked them:
  // the page itself only ever gets a bare error event.
  const urls = new Map();
  const failures = [];
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFailed', (e) => {
    failures.push({ url: urls.get(e.requestId) || null, errorText: e.errorText,
                    corsError: e.corsErrorStatus ? e.corsErrorStatus.corsError : null,
                    canceled: !!e.canceled });
  });
  await cdp.send('Network.enable');
  return { page, protocols, failures };
}

// Installed in the page: an EventSource on `stream` and a record of what
// it does.  Times (t) are ms since the EventSource was created; n orders
// all records (events, sse-proxy events, log entries) of one page.
function installRecorder({ stream, withCredentials = false }) {
  const t0 = performance.now();
  const now = () => Math.round(performance.now() - t0);
  let n = 0;
  const es = new EventSource(stream, { withCredentials });
  const rec = {
    stream, events: [], proxy: [], log: [], mark: null, markN: null,
    lastRs: es.readyState, seq: () => n++,
  };
  const note = (kind) => {
    const rs = es.readyState;
    if (kind === 'poll' && rs === rec.lastRs) return;
    rec.lastRs = rs;
    rec.log.push({ n: n++, t: now(), kind, rs });
  };
  rec.log.push({ n: n++, t: 0, kind: 'created', rs: es.readyState });
  es.onopen = () => note('open');
  es.onerror = () => note('error');
  es.onmessage = (e) => {
    let origin = null;
    let id = e.lastEventId;
    try {
      const d = JSON.parse(e.data);
      origin = d.origin;
      if (d.id !== undefined) id = String(d.id);
    } catch (err) { /* not JSON: keep the raw id */ }
    note('poll');
    rec.events.push({ n: n++, t: now(), id, lastEventId: e.lastEventId, origin });
  };
  es.addEventListener('sse-proxy', (e) => {
    let d = {};
    try { d = JSON.parse(e.data); } catch (err) { d = { raw: e.data }; }
    note('poll');
    rec.proxy.push({ n: n++, t: now(), retry: d.retry ?? null, cls: d.class ?? null });
  });
  // a page may hold several recorders in turn (cors): one polls
  clearInterval(window.__poll);
  window.__poll = setInterval(() => note('poll'), 50);
  window.__es = es;
  window.__rec = rec;
  window.__now = now;
}

function snapshot(page) {
  return page.evaluate(() => {
    const r = window.__rec;
    return {
      readyState: window.__es.readyState, events: r.events, proxy: r.proxy,
      log: r.log, mark: r.mark, mark_n: r.markN, elapsed: window.__now(),
    };
  });
}

function timing(page) {
  return page.evaluate(() => ({
    navigation: performance.getEntriesByType('navigation')
      .map((e) => ({ name: e.name, nextHopProtocol: e.nextHopProtocol })),
    resources: performance.getEntriesByType('resource')
      .map((e) => ({ name: e.name, initiatorType: e.initiatorType,
                     nextHopProtocol: e.nextHopProtocol })),
  }));
}

function nextStdinLine(timeoutMs) {
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stdinWaiter = null;
      reject(new Error('no line on stdin within ' + timeoutMs + ' ms'));
    }, timeoutMs);
    stdinWaiter = (line) => { clearTimeout(timer); resolve(line); };
  });
}

// The page's clock (performance.now()) against CLOCK_MONOTONIC (libuv's
// hrtime, the clock of the origin's log and of the Python harness):
// mono_ms = page_ms + offset_ms, from the quickest of a few round trips
// (rtt_ms bounds the error).
async function clockSync(page) {
  let best = null;
  for (let i = 0; i < 7; i++) {
    const before = process.hrtime.bigint();
    const pageMs = await page.evaluate(() => performance.now());
    const after = process.hrtime.bigint();
    const rtt = Number(after - before) / 1e6;
    const mid = Number((before + after) / 2n) / 1e6;
    if (!best || rtt < best.rtt_ms) best = { offset_ms: mid - pageMs, rtt_ms: rtt };
  }
  return best;
}

async function openStream(page) {
  await page.goto(args.url, { waitUntil: 'load' });
  await page.evaluate(installRecorder, { stream: args.stream });
}

const scenarios = {
  // {url, stream, count, wait_ms}: collect `count` events.  A stream
  // that ends (count=N at the origin) gets a resource timing entry, with
  // its nextHopProtocol: it is waited for briefly (resource_ms).
  async events() {
    const { page, protocols } = await launch();
    await openStream(page);
    let complete = true;
    try {
      await page.waitForFunction((n) => window.__rec.events.length >= n,
        args.count || 5, { timeout: args.wait_ms || 20000, polling: 50 });
    } catch (err) {
      complete = false;
    }
    const rec = await snapshot(page);
    if (args.resource_ms) {
      await page.waitForFunction((url) => performance.getEntriesByType('resource')
        .some((e) => e.name === url), new URL(args.stream, page.url()).href,
        { timeout: args.resource_ms, polling: 50 }).catch(() => {});
    }
    await page.evaluate(() => window.__es.close());
    return { complete, ...rec, ...(await timing(page)), protocols };
  },

  // {url, stream, before, handshake, min_ms, record_ms, stop, resume_events,
  // pages}: wait for `before` events, print READY and wait for a stdin line
  // (with handshake), then record for up to record_ms.  It stops early, once
  // min_ms have passed, when `stop` holds: "closed" (readyState 2) or
  // "resumed" (after an error, an open that brought resume_events events).
  // With pages > 1, as many pages (one EventSource each) of one browser
  // stream at once; all of them wait for `before` events and are marked,
  // `stop` watches the first, and `pages` has every page's record.
  async outage() {
    const { page, protocols } = await launch();
    const pages = [page];
    while (pages.length < (args.pages || 1)) pages.push(await context.newPage());
    for (const p of pages) await openStream(p);
    for (const p of pages) {
      await p.waitForFunction((n) => window.__rec.events.length >= n,
        args.before || 0, { timeout: args.wait_ms || 20000, polling: 50 });
    }
    if (args.handshake !== false) {
      process.stdout.write('READY\n');
      await nextStdinLine(args.handshake_ms || 60000);
    }
    for (const p of pages) {
      await p.evaluate(() => {
        window.__rec.mark = window.__now();
        window.__rec.markN = window.__rec.seq();
      });
    }
    const stop = { stop: args.stop || null, min: args.min_ms || 0,
                   resume: args.resume_events || 3 };
    let stopped = true;
    try {
      await page.waitForFunction((s) => {
        const r = window.__rec;
        if (window.__now() - r.mark < s.min) return false;
        if (s.stop === 'closed') return window.__es.readyState === 2;
        if (s.stop === 'resumed') {
          const errors = r.log.filter((l) => l.kind === 'error' && l.n > r.markN);
          if (!errors.length) return false;
          const lastError = errors[errors.length - 1].n;
          const open = r.log.find((l) => l.kind === 'open' && l.n > lastError);
          return !!open && r.events.filter((e) => e.n > open.n).length >= s.resume;
        }
        return false;
      }, stop, { timeout: args.record_ms || 30000, polling: 50 });
    } catch (err) {
      stopped = false;
    }
    const recs = [];
    for (const p of pages) recs.push(await snapshot(p));
    const rec = recs[0];
    // reconnected: an open after the first error since the mark
    const firstError = rec.log.find((l) => l.kind === 'error' && l.n > rec.mark_n);
    const reconnected = !!firstError &&
      rec.log.some((l) => l.kind === 'open' && l.n > firstError.n);
    return { stopped, reconnected, ...rec, pages: recs, protocols };
  },

  // {url, cookies, cases: [{name, stream, withCredentials, count, until}]}:
  // from the page at url, one EventSource per case in turn, each recorded
  // until it is CLOSED or (until "events", the default) has `count`
  // events or (until "reconnecting") went back to CONNECTING after an
  // open; or wait_ms passed.  cookies go into the browser first
  // (playwright's addCookies).
  async cors() {
    const { page, failures } = await launch();
    if (args.cookies) await context.addCookies(args.cookies);
    const resp = await page.goto(args.url, { waitUntil: 'load' });
    const cases = [];
    for (const c of args.cases) {
      await page.evaluate(installRecorder, c);
      let settled = true;
      try {
        await page.waitForFunction(({ count = 3, until = 'events' }) => {
          const es = window.__es;
          const r = window.__rec;
          if (es.readyState === 2) return true;
          if (until === 'reconnecting') {
            return es.readyState === 0 && r.log.some((l) => l.kind === 'open');
          }
          return r.events.length >= count;
        }, c, { timeout: args.wait_ms || 10000, polling: 50 });
      } catch (err) {
        settled = false;
      }
      const rec = await snapshot(page);
      await page.evaluate(() => window.__es.close());
      cases.push({ name: c.name, settled, withCredentials: await page.evaluate(
        () => window.__es.withCredentials), ...rec });
    }
    return { status: resp ? resp.status() : null, origin: await page.evaluate(
      () => window.location.origin), cases, failures };
  },

  // {url, message, stop_after, wait_ms, resource_ms, screenshot}: the chat
  // page (demo/www/chat.html) at url: type message, Send, and wait for
  // the request to end (done, error, or stopped).  With stop_after N,
  // Stop is clicked from the page's own chat:token event for the Nth
  // token, so that no later token is read first; the driver then prints
  // ABORTED and waits for a line on stdin before it goes on (and closes
  // the browser), so that the caller sees what the abort alone did.
  // clock converts the page's times (chatState.sentAt + t) to
  // CLOCK_MONOTONIC ms.
  async chat() {
    const { page, protocols, failures } = await launch();
    const resp = await page.goto(args.url, { waitUntil: 'load' });
    if (args.stop_after) {
      await page.evaluate((n) => {
        window.addEventListener('chat:token', (e) => {
          if (e.detail.n === n) document.getElementById('stop').click();
        });
      }, args.stop_after);
    }
    await page.fill('#message', args.message || 'Hello');
    const clock = await clockSync(page);
    await page.click('#send');
    let ended = true;
    try {
      await page.waitForFunction(() => {
        const s = window.chatState;
        return s.url !== null && s.endedAt !== null;
      }, null, { timeout: args.wait_ms || 30000, polling: 20 });
    } catch (err) {
      ended = false;
    }
    if (args.stop_after) {
      process.stdout.write('ABORTED\n');
      await nextStdinLine(args.handshake_ms || 60000);
    }
    // the resource timing entry (and so chatState.protocol) comes once
    // the body is complete
    if (ended && args.resource_ms) {
      await page.waitForFunction(() => window.chatState.protocol !== null, null,
        { timeout: args.resource_ms, polling: 50 }).catch(() => {});
    }
    if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
    const info = await page.evaluate(() => ({
      title: document.title,
      chat: window.chatState,
      endpoint: document.getElementById('endpoint').textContent,
      state: document.getElementById('state').textContent,
      transcript: [...document.querySelectorAll('#transcript li')]
        .map((li) => ({ role: li.className, text: li.textContent })),
      resources: performance.getEntriesByType('resource')
        .map((e) => ({ name: e.name, initiatorType: e.initiatorType,
                       nextHopProtocol: e.nextHopProtocol })),
    }));
    return { status: resp ? resp.status() : null, ended, clock, ...info, protocols,
             failures };
  },

  // {url, screenshot}: the status page.
  async status() {
    const { page } = await launch();
    const resp = await page.goto(args.url, { waitUntil: 'load' });
    await page.screenshot({ path: args.screenshot, fullPage: true });
    const info = await page.evaluate(() => {
      const h2 = [...document.querySelectorAll('h2')]
        .find((h) => h.textContent.trim() === 'Members');
      let table = h2 ? h2.nextElementSibling : null;
      if (table && table.tagName !== 'TABLE') table = null;
      const rows = table ? [...table.querySelectorAll('tr')]
        .filter((tr) => tr.querySelector('td'))
        .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)) : [];
      return { title: document.title, members_table: !!table, members: rows,
               tables: document.querySelectorAll('table').length };
    });
    return { status: resp ? resp.status() : null, ...info };
  },

  // {url, script, ready, until, ready_ms, until_ms}: a page that runs
  // code of its own (the ssep-client tests: test_client_js.py).  At url,
  // `script` (an expression, awaited) sets up window.__rec; with `ready`
  // (an expression), once it holds the driver prints READY, waits for a
  // line on stdin and sets __rec.mark to the number of events so far;
  // then it waits until `until` holds (done: false if it never did) and
  // returns __rec.
  async script() {
    const { page, protocols, failures } = await launch();
    const resp = await page.goto(args.url, { waitUntil: 'load' });
    await page.evaluate(args.script);
    const holds = (expr, ms) => page.waitForFunction(expr, null, { timeout: ms, polling: 50 })
      .then(() => true, () => false);
    let ready = null;
    if (args.ready) {
      ready = await holds(args.ready, args.ready_ms || 20000);
      process.stdout.write('READY\n');
      await nextStdinLine(args.handshake_ms || 60000);
      await page.evaluate(() => { window.__rec.mark = window.__rec.events.length; });
    }
    const done = args.until ? await holds(args.until, args.until_ms || 30000) : true;
    const rec = await page.evaluate(() => JSON.parse(JSON.stringify(window.__rec)));
    return { status: resp ? resp.status() : null, ready, done, ...rec, protocols, failures };
  },

  // {url, events, click, wait_text, screenshot}: the demo page once it
  // lists `events` events; optionally after clicking a button (CSS
  // selector) and waiting for a text to appear in the page.
  async demo() {
    const { page, protocols } = await launch();
    const resp = await page.goto(args.url, { waitUntil: 'load' });
    await page.waitForFunction((n) => document.querySelectorAll('#events li.event').length >= n,
      args.events || 5, { timeout: args.wait_ms || 20000, polling: 100 });
    if (args.click) await page.click(args.click);
    if (args.wait_text) {
      await page.waitForFunction((t) => document.body.innerText.includes(t),
        args.wait_text, { timeout: args.wait_ms || 20000, polling: 100 });
    }
    await page.screenshot({ path: args.screenshot, fullPage: !!args.full_page });
    const info = await page.evaluate(() => ({
      title: document.title,
      state: document.getElementById('state').textContent,
      countdown: document.getElementById('countdown').textContent,
      retry: document.getElementById('retry').textContent,
      last_id: document.getElementById('last-id').textContent,
      events: document.querySelectorAll('#events li.event').length,
      entries: [...document.querySelectorAll('#events li')].map((li) => li.textContent),
      status_link: !!document.querySelector('a[href="/debug/sse-stats"]'),
    }));
    return { status: resp ? resp.status() : null, ...info, protocols };
  },
};

async function main() {
  const scenario = scenarios[scenarioName];
  if (!scenario) {
    emit({ error: 'unknown scenario ' + scenarioName, scenarios: Object.keys(scenarios) });
    process.exit(2);
  }
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (stdinWaiter) { const w = stdinWaiter; stdinWaiter = null; w(line); } else stdinLines.push(line);
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => { emit({ error: 'killed by ' + sig }); shutdown(1); });
  }
  const deadline = setTimeout(() => {
    emit({ scenario: scenarioName, error: 'driver deadline passed' });
    shutdown(1);
  }, args.deadline_ms || 120000);
  try {
    const result = await scenario();
    clearTimeout(deadline);
    emit({ scenario: scenarioName, ...result });
    rl.close();
    await shutdown(0);
  } catch (err) {
    clearTimeout(deadline);
    emit({ scenario: scenarioName, error: String(err && err.stack || err) });
    rl.close();
    await shutdown(1);
  }
}

main();
