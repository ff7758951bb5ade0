// Copyright 2025-2026 The mod_sse_proxy authors
// SPDX-License-Identifier: Apache-2.0

// The mod_sse_proxy demo page: one EventSource on /events, what it sees,
// and buttons that make the demo origins fail.  No framework, no build
// step.  Everything that comes from the network is inserted with
// textContent, never as HTML.
'use strict';

const STREAM = '/events';
const MAX_ENTRIES = 50;
const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSED'];

const $ = (id) => document.getElementById(id);

let es = null;            // the current EventSource
let eventCount = 0;       // message events received, all connections
let openCount = 0;        // onopen calls, all connections
let lastEvent = null;     // {id, origin, at}
let proxyRetry = null;    // {retry, cls, at}: the last `sse-proxy` event
let retryThisConn = null; // the same, if it came on the current connection
let reconnectAt = null;   // performance.now() when the browser should retry

function clock(date) {
  return date.toLocaleTimeString('en-GB', { hour12: false }) + '.' +
    String(date.getMilliseconds()).padStart(3, '0');
}

function seconds(ms) {
  return (Math.max(0, ms) / 1000).toFixed(1) + ' s';
}

// One entry of the list, newest first: kind is event, proxy or note.
function addEntry(kind, parts) {
  const li = document.createElement('li');
  li.className = kind;
  const time = document.createElement('time');
  time.textContent = clock(new Date());
  li.append(time);
  for (const [cls, text] of parts) {
    const span = document.createElement('span');
    if (cls) span.className = cls;
    span.textContent = text;
    li.append(' ', span);
  }
  const list = $('events');
  list.insertBefore(li, list.firstChild);
  while (list.children.length > MAX_ENTRIES) list.lastChild.remove();
}

function onMessage(e) {
  let id = e.lastEventId;
  let origin = '?';
  try {
    const d = JSON.parse(e.data);
    if (d && typeof d === 'object') {
      if (d.id !== undefined) id = String(d.id);
      if (typeof d.origin === 'string') origin = d.origin;
    }
  } catch (err) {
    origin = 'not JSON: ' + e.data.slice(0, 60);
  }
  eventCount++;
  lastEvent = { id: e.lastEventId || id, origin, at: performance.now() };
  addEntry('event', [['id', '#' + id], ['origin', origin]]);
  render();
}

// The proxy's policy answer (no backend can serve): a retry: line the
// browser obeys, plus this named event so that the page can show it.
function onProxy(e) {
  let d = {};
  try { d = JSON.parse(e.data) || {}; } catch (err) { /* shown as unknown */ }
  const retry = Number(d.retry);
  proxyRetry = {
    retry: Number.isFinite(retry) ? retry : null,
    cls: typeof d.class === 'string' ? d.class : 'unknown class',
    at: new Date(),
  };
  retryThisConn = proxyRetry;
  addEntry('proxy', [['', 'proxy: no backend can serve (' + proxyRetry.cls +
    '); the browser is told to retry in ' + (proxyRetry.retry ?? '?') + ' ms']]);
  render();
}

function onOpen() {
  openCount++;
  retryThisConn = null;
  reconnectAt = null;
  addEntry('note', [['', 'connection open']]);
  render();
}

function onError() {
  if (es.readyState === EventSource.CONNECTING) {
    if (retryThisConn && retryThisConn.retry !== null) {
      reconnectAt = performance.now() + retryThisConn.retry;
      addEntry('note', [['', 'stream ended: the browser reconnects in ' +
        retryThisConn.retry + ' ms, as the proxy said']]);
    } else {
      reconnectAt = null;
      addEntry('note', [['', 'stream ended: the browser reconnects after the ' +
        'retry: the proxy sent']]);
    }
  } else if (es.readyState === EventSource.CLOSED) {
    reconnectAt = null;
    addEntry('note', [['', 'closed for good: the browser will not reconnect']]);
  }
  render();
}

function connect() {
  if (es) es.close();
  retryThisConn = null;
  reconnectAt = null;
  es = new EventSource(STREAM);
  es.addEventListener('message', onMessage);
  es.addEventListener('sse-proxy', onProxy);
  es.addEventListener('open', onOpen);
  es.addEventListener('error', onError);
  addEntry('note', [['', 'new EventSource(' + JSON.stringify(STREAM) + ')']]);
  render();
}

function render() {
  const rs = es ? es.readyState : EventSource.CLOSED;
  const state = $('state');
  state.textContent = STATE_NAMES[rs] + ' (readyState ' + rs + ')';
  state.className = 'state ' + STATE_NAMES[rs].toLowerCase();
  $('reconnect').hidden = rs !== EventSource.CLOSED;

  let countdown = '–';
  if (rs === EventSource.CONNECTING) {
    if (reconnectAt !== null) {
      const left = reconnectAt - performance.now();
      countdown = left > 0 ? 'in ' + seconds(left) : 'now (waiting for an answer)';
    } else {
      countdown = 'pending (delay set by a retry: line this page cannot see)';
    }
  } else if (rs === EventSource.CLOSED) {
    countdown = 'never: the EventSource is closed';
  }
  $('countdown').textContent = countdown;

  if (proxyRetry) {
    $('retry').textContent = (proxyRetry.retry ?? '?') + ' ms (' +
      proxyRetry.cls + '), at ' + clock(proxyRetry.at);
  }
  $('last-id').textContent = lastEvent ? lastEvent.id : '–';
  $('last-event').textContent = lastEvent
    ? 'from ' + lastEvent.origin + ', ' + seconds(performance.now() - lastEvent.at) + ' ago'
    : '–';
  $('counts').textContent = eventCount + ' events, ' + openCount +
    ' connection' + (openCount === 1 ? '' : 's') + ' opened';
}

function describeControl(origin, doc) {
  let text = origin + ': mode ' + doc.mode;
  if (doc.mode === 'status') text += ' (answers ' + doc.status + ')';
  if (typeof doc.revert_in_ms === 'number') {
    text += ', back to normal in ' + seconds(doc.revert_in_ms);
  }
  return text;
}

async function control(origin, query) {
  let text;
  try {
    const resp = await fetch('/' + origin + '/control?' + query, { cache: 'no-store' });
    if (resp.ok) {
      text = describeControl(origin, await resp.json());
    } else {
      text = origin + ': HTTP ' + resp.status +
        (resp.status >= 502 ? ' (the origin cannot be reached; is it down?)' : '');
    }
  } catch (err) {
    text = origin + ': request failed (' + err.message + ')';
  }
  const li = document.createElement('li');
  li.textContent = clock(new Date()) + '  ' + text;
  const list = $('control-results');
  list.insertBefore(li, list.firstChild);
  while (list.children.length > 4) list.lastChild.remove();
}

document.addEventListener('DOMContentLoaded', () => {
  for (const button of document.querySelectorAll('button[data-origin]')) {
    button.addEventListener('click', () => {
      const { origin, query } = button.dataset;
      const targets = origin === 'both' ? ['origin1', 'origin2'] : [origin];
      for (const o of targets) control(o, query);
    });
  }
  $('reconnect').addEventListener('click', connect);
  connect();
  // EventSource does not report every readyState change as an event.
  setInterval(render, 100);
});
