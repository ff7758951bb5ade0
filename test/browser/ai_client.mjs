// Copyright 2025-2026 The mod_sse_proxy authors
// SPDX-License-Identifier: Apache-2.0

// Real AI-protocol client libraries (the openai SDK and the Model Context
// Protocol SDK, pinned in package.json) driving traffic, for
// test/integration/test_ai_clients.py.  One JSON object per line on
// stdout; the assertions are the caller's.
//
//   node ai_client.mjs chat --base http://127.0.0.1:PORT/v1
//        [--query 'think_ms=8000&tokens=5'] [--abort-after N] [--no-stream]
//     {"token": "tok1 ", "t_ms": 12}          one per content delta
//     {"done": true, "tokens": n, "t_ms": ...}
//     {"aborted": true, "tokens": N, "t_ms": ...}   with --abort-after N
//     {"content": "...", "t_ms": ...} then done    with --no-stream
//
//   node ai_client.mjs mcp --url http://127.0.0.1:PORT/mcp [--calls N]
//        [--sessions N] [--no-ping]
//     per session: {"session": id, "server": {...}, "protocol": ...},
//     one {"call": i, "text": ..., "progress": k, "t_ms": ...} per tool
//     call, {"ping": true}, then {"closed": id, "requests": [...],
//     "messages": m, "errors": [...]}; at the end {"done": true}.
//     "requests" lists the HTTP exchanges of the session as seen by the
//     SDK's fetch ("POST initialize 200", "GET - 200", "DELETE - 200"),
//     "messages" counts notifications/message received on the standalone
//     GET stream, "errors" what the SDK reported through onerror before
//     the session was closed (e.g. a refused GET stream).
//
// On an error: {"error": "...", "status": <HTTP status or null>} and exit 1.
// t_ms counts from the start of the request (chat) or of the call (mcp).

import OpenAI from 'openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

function out(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function args(argv) {
    const o = { _: [] };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith('--')) {
            o._.push(a);
        } else if (a.startsWith('--no-')) {
            o[a.slice(5)] = false;
        } else {
            const v = argv[i + 1];
            if (v === undefined)
                throw new Error('missing value for ' + a);
            o[a.slice(2)] = v;
            i++;
        }
    }
    return o;
}

function fail(err, status) {
    if (status === undefined) {
        // openai: APIError.status; MCP transport: StreamableHTTPError.code
        // is the HTTP status (McpError.code is a JSON-RPC code: not one)
        status = null;
        if (err && typeof err.status === 'number')
            status = err.status;
        else if (err && err.constructor && err.constructor.name === 'StreamableHTTPError'
                 && typeof err.code === 'number' && err.code >= 100)
            status = err.code;
    }
    const o = { error: String(err && err.message ? err.message : err), status };
    if (err && err.constructor && err.constructor.name)
        o.type = err.constructor.name;
    if (err && err.code !== undefined && err.code !== status)
        o.code = err.code;
    out(o);
    process.exit(1);
}

function ms(t0) {
    return Math.round(performance.now() - t0);
}

async function chat(o) {
    if (!o.base)
        throw new Error('chat needs --base');
    const query = Object.fromEntries(new URLSearchParams(o.query || ''));
    const client = new OpenAI({
        baseURL: o.base,
        apiKey: 'test',
        maxRetries: 0,
        // the origin takes its parameters from the URL's query string
        defaultQuery: query,
    });
    const messages = [{ role: 'user', content: 'Say something.' }];
    const abortAfter = o['abort-after'] !== undefined ? Number(o['abort-after']) : null;
    const t0 = performance.now();

    if (o.stream === false) {
        const r = await client.chat.completions.create({ model: 'm', messages, stream: false });
        const content = r.choices[0].message.content;
        out({ content, t_ms: ms(t0) });
        out({ done: true, tokens: content.split(' ').filter(Boolean).length, t_ms: ms(t0) });
        return;
    }
    const stream = await client.chat.completions.create({ model: 'm', messages, stream: true });
    let tokens = 0;
    for await (const chunk of stream) {
        const content = chunk.choices && chunk.choices[0] && chunk.choices[0].delta
            ? chunk.choices[0].delta.content : undefined;
        if (content === undefined || content === null || content === '')
            continue;
        tokens++;
        out({ token: content, t_ms: ms(t0) });
        if (abortAfter !== null && tokens >= abortAfter) {
            stream.controller.abort();
            out({ aborted: true, tokens, t_ms: ms(t0) });
            return;
        }
    }
    out({ done: true, tokens, t_ms: ms(t0) });
}

// The MCP transport's fetch, recording each exchange; a GET (the
// standalone stream the SDK opens by itself) is remembered so that the
// session is not deleted while that request is still on its way.
function recordingFetch(log, pending) {
    return async (url, init) => {
        const method = (init && init.method) || 'GET';
        let rpc = '-';
        if (init && typeof init.body === 'string') {
            try {
                const m = JSON.parse(init.body);
                rpc = m.method || (m.id !== undefined ? 'response' : '-');
            } catch {
                rpc = '?';
            }
        }
        const entry = { method, rpc, status: null };
        log.push(entry);
        const p = fetch(url, init).then(r => {
            entry.status = r.status;
            return r;
        }, e => {
            entry.status = 'error: ' + (e && e.name);
            throw e;
        });
        if (method === 'GET')
            pending.push(p.catch(() => null));
        return p;
    };
}

async function mcpSession(o, index) {
    const log = [];
    const pending = [];
    const errors = [];
    let closing = false;
    let messages = 0;
    const client = new Client({ name: 'mod-sse-proxy-ai-client', version: '1.0.0' },
                              { capabilities: {} });
    client.onerror = e => {
        if (!closing)
            errors.push(String(e && e.message ? e.message : e));
    };
    // notifications/message of the standalone GET stream (validated by
    // the SDK against the logging notification schema)
    client.setNotificationHandler(LoggingMessageNotificationSchema, () => {
        messages++;
    });
    const transport = new StreamableHTTPClientTransport(new URL(o.url), {
        fetch: recordingFetch(log, pending),
        // no reconnection of a stream the server ends: the tests would
        // rather see it
        reconnectionOptions: { initialReconnectionDelay: 1000, maxReconnectionDelay: 1000,
                               reconnectionDelayGrowFactor: 1, maxRetries: 0 },
    });
    await client.connect(transport);
    const sid = transport.sessionId;
    out({ session: sid, index, server: client.getServerVersion(),
          protocol: transport.protocolVersion });
    const calls = Number(o.calls ?? 1);
    for (let i = 0; i < calls; i++) {
        let progress = 0;
        const t0 = performance.now();
        const r = await client.callTool({ name: 'work', arguments: {} }, undefined, {
            onprogress: () => { progress++; },
        });
        const text = (r.content || []).filter(c => c.type === 'text').map(c => c.text).join('');
        out({ session: sid, call: i + 1, text, is_error: !!r.isError, progress, t_ms: ms(t0) });
    }
    if (o.ping !== false) {
        await client.ping();
        out({ session: sid, ping: true });
    }
    // the GET stream the SDK opened after notifications/initialized:
    // answered (or refused) before the session goes
    await Promise.race([Promise.all(pending), new Promise(r => setTimeout(r, 3000))]);
    await transport.terminateSession();
    closing = true;
    await client.close();
    out({ closed: sid, requests: log.map(e => `${e.method} ${e.rpc} ${e.status}`),
          messages, errors });
}

async function mcp(o) {
    if (!o.url)
        throw new Error('mcp needs --url');
    const sessions = Number(o.sessions ?? 1);
    for (let i = 0; i < sessions; i++)
        await mcpSession(o, i + 1);
    out({ done: true });
}

async function main() {
    const o = args(process.argv.slice(2));
    const mode = o._[0];
    if (mode === 'chat')
        await chat(o);
    else if (mode === 'mcp')
        await mcp(o);
    else
        fail('usage: ai_client.mjs chat --base URL ... | mcp --url URL ...', null);
    // idle keep-alive sockets must not hold the process
    process.exit(0);
}

main().catch(e => fail(e));
