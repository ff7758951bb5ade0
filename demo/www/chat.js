// Copyright 2025-2026 The mod_sse_proxy authors
// SPDX-License-Identifier: Apache-2.0

// The chat demo page: POSTs an OpenAI-style chat completion request with
// "stream": true and reads the text/event-stream answer with fetch() and
// a ReadableStream reader, token by token; Stop aborts the request.  No
// framework, no build step.  Everything that comes from the network is
// inserted with textContent, never as HTML.
//
// For tests (and the curious), window.chatState describes the last
// request: {url, sentAt, status, tokens: [{text, t}], done, aborted,
// abortedAt, tokensAtAbort, error, protocol, endedAt}.  Times are ms
// since the request was sent (sentAt, in performance.now() time), t
// being when the read() that brought the token returned.  Each token
// also fires a `chat:token` event on window (detail: {n, text, t}), and
// the end of a request `chat:end`.
'use strict';

const DEFAULT_ENDPOINT = '/v1/chat/completions';
const DEFAULT_MODEL = 'sse-origin';

const $ = (id) => document.getElementById(id);

// ?endpoint=... (a path of this site, query included) and ?model=...
function settings() {
  const params = new URLSearchParams(window.location.search);
  let endpoint = DEFAULT_ENDPOINT;
  const asked = params.get('endpoint');
  if (asked) {
    try {
      const url = new URL(asked, window.location.href);
      // the page only talks to its own site
      if (url.origin === window.location.origin) endpoint = url.pathname + url.search;
    } catch (err) { /* keep the default */ }
  }
  return { endpoint, model: params.get('model') || DEFAULT_MODEL };
}

const SETTINGS = settings();
const history = [];        // the conversation: {role, content}
let controller = null;     // the AbortController of the request under way

function newState(url) {
  return {
    url, sentAt: null, status: null, tokens: [], done: false, aborted: false,
    abortedAt: null, tokensAtAbort: null, error: null, protocol: null,
    endedAt: null, readAt: null,
  };
}
window.chatState = newState(null);

// A text/event-stream parser (the subset a chat stream needs: data
// fields, comments, any line ending); onData gets each event's data.
function sseParser(onData) {
  let buf = '';
  let data = [];
  const line = (l) => {
    if (l === '') {
      if (data.length) onData(data.join('\n'));
      data = [];
      return;
    }
    if (l[0] === ':') return;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') data.push(value);
  };
  return (text) => {
    buf += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buf);
      if (!m) break;
      // a CR at the very end may be the first half of a CRLF
      if (m[0] === '\r' && m.index === buf.length - 1) break;
      line(buf.slice(0, m.index));
      buf = buf.slice(m.index + m[0].length);
    }
  };
}

// The protocol the request went over, from its resource timing entry
// (recorded once the body is complete, or not at all when aborted).
function watchProtocol(state) {
  const href = new URL(state.url, window.location.href).href;
  const pick = (entries) => {
    for (const e of entries) {
      if (e.name === href && e.startTime >= state.sentAt - 1 && e.nextHopProtocol) {
        state.protocol = e.nextHopProtocol;
        renderStatus();
      }
    }
  };
  pick(performance.getEntriesByType('resource'));
  if (state.protocol || typeof PerformanceObserver === 'undefined') return;
  const observer = new PerformanceObserver((list) => {
    pick(list.getEntries());
    if (state.protocol) observer.disconnect();
  });
  observer.observe({ type: 'resource' });
  setTimeout(() => observer.disconnect(), 30000);
}

function addTurn(role, text) {
  const li = document.createElement('li');
  li.className = role;
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = role === 'user' ? 'you' : 'assistant';
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  li.append(who, body);
  $('transcript').append(li);
  li.scrollIntoView({ block: 'nearest' });
  return li;
}

function note(li, text) {
  const span = document.createElement('span');
  span.className = 'note';
  span.textContent = text;
  li.append(span);
}

function stateLabel(s) {
  if (!s.url) return ['idle', ''];
  if (s.error) return ['error', 'closed'];
  if (s.aborted) return ['stopped', 'closed'];
  if (s.done) return ['done', 'open'];
  if (s.status === null) return ['waiting for the answer', 'connecting'];
  return [s.tokens.length ? 'streaming' : 'thinking', 'connecting'];
}

function renderStatus() {
  const s = window.chatState;
  const [label, cls] = stateLabel(s);
  const state = $('state');
  state.textContent = label + (s.status !== null ? ' (HTTP ' + s.status + ')' : '');
  state.className = 'state ' + cls;
  $('protocol').textContent = s.protocol || '–';
  $('token-count').textContent = s.url ? String(s.tokens.length) : '–';
  $('first-token').textContent = s.tokens.length
    ? Math.round(s.tokens[0].t) + ' ms after sending' : '–';
  const busy = controller !== null;
  $('send').disabled = busy;
  $('stop').disabled = !busy;
}

async function send(text) {
  if (controller) return;
  history.push({ role: 'user', content: text });
  addTurn('user', text);
  const li = addTurn('assistant', '');
  li.classList.add('streaming');
  const out = li.querySelector('.text');

  const state = newState(SETTINGS.endpoint);
  window.chatState = state;
  controller = new AbortController();
  const { signal } = controller;
  let content = '';
  const now = () => performance.now() - state.sentAt;

  const onData = (data) => {
    if (state.aborted) return;   // the rest of a read that came with Stop
    if (data === '[DONE]') {
      state.done = true;
      renderStatus();
      return;
    }
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch (err) {
      return;   // not JSON: not a chunk
    }
    if (chunk && chunk.error) {
      state.error = String(chunk.error.message || 'error event');
      return;
    }
    const choice = chunk && Array.isArray(chunk.choices) ? chunk.choices[0] : null;
    const piece = choice && choice.delta ? choice.delta.content : null;
    if (typeof piece !== 'string' || piece === '') return;
    const token = { text: piece, t: state.readAt };
    state.tokens.push(token);
    content += piece;
    out.textContent = content;
    window.dispatchEvent(new CustomEvent('chat:token',
      { detail: { n: state.tokens.length, ...token } }));
  };

  state.sentAt = performance.now();
  renderStatus();
  try {
    const resp = await fetch(SETTINGS.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ model: SETTINGS.model, messages: history, stream: true }),
      cache: 'no-store',
      signal,
    });
    state.status = resp.status;
    watchProtocol(state);
    renderStatus();
    const type = resp.headers.get('Content-Type') || '';
    if (!resp.ok || !type.startsWith('text/event-stream')) {
      const body = await resp.text();
      let message = null;
      try {
        const doc = JSON.parse(body);
        if (resp.ok) message = doc.choices[0].message.content;
        else state.error = 'HTTP ' + resp.status + ': ' + (doc.error.message || body);
      } catch (err) {
        state.error = 'HTTP ' + resp.status + ' (' + (type || 'no type') + '): ' +
          body.slice(0, 200);
      }
      if (message !== null) {
        content = String(message);
        out.textContent = content;
        state.done = true;
      }
    } else {
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      const feed = sseParser(onData);
      for (;;) {
        const { value, done } = await reader.read();
        state.readAt = now();
        if (done) break;
        feed(decoder.decode(value, { stream: true }));
        renderStatus();
      }
      feed(decoder.decode());
      if (!state.done && !state.error) state.error = 'the stream ended without [DONE]';
    }
  } catch (err) {
    if (!state.aborted) state.error = String(err && err.message || err);
  }
  state.endedAt = now();
  controller = null;
  li.classList.remove('streaming');
  if (state.error) {
    li.classList.add('error');
    note(li, state.error);
  } else if (state.aborted) {
    note(li, 'stopped after ' + state.tokens.length + ' tokens');
  }
  if (content) history.push({ role: 'assistant', content });
  renderStatus();
  window.dispatchEvent(new CustomEvent('chat:end', { detail: { state } }));
}

function stop() {
  if (!controller) return;
  const state = window.chatState;
  state.aborted = true;
  state.abortedAt = performance.now() - state.sentAt;
  state.tokensAtAbort = state.tokens.length;
  controller.abort();
  renderStatus();
}

document.addEventListener('DOMContentLoaded', () => {
  $('endpoint').textContent = SETTINGS.endpoint;
  const message = $('message');
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = message.value.trim();
    if (!text || controller) return;
    message.value = '';
    send(text);
  });
  message.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('stop').addEventListener('click', stop);
  renderStatus();
});
