#!/bin/sh
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

# Runs the demo: two sse-origin processes behind an httpd (event MPM)
# with mod_sse_proxy, all on localhost, in the foreground.  Ctrl-C stops
# everything.  Nothing outside the build directory is touched.
#
#   DEMO_HOST (127.0.0.1)  DEMO_PORT (8080)
set -eu

builddir=$1
srcdir=$2
httpd=$3
moddir=$4
host=${DEMO_HOST:-127.0.0.1}
port=${DEMO_PORT:-8080}
root="$builddir/demo-root"
origin="$builddir/test/origin/sse-origin"
pids=""

stop() {
    trap - INT TERM EXIT
    for pid in $pids; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    echo "demo stopped"
}
trap stop INT TERM EXIT

rm -rf "$root"
mkdir -p "$root/run"
chmod 755 "$root"

for n in 1 2; do
    "$origin" --host 127.0.0.1 --port 0 --port-file "$root/origin$n.port" \
        --name "origin$n" --log "$root/origin$n.log" >/dev/null &
    pids="$pids $!"
done
for n in 1 2; do
    i=0
    while [ ! -s "$root/origin$n.port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "origin$n did not start" >&2; exit 1; }
        sleep 0.05
    done
done
o1=$(cat "$root/origin1.port")
o2=$(cat "$root/origin2.port")

user=""
if [ "$(id -u)" = 0 ]; then
    user="User nobody
Group nogroup"
fi
sed -e "s|@root@|$root|g" -e "s|@host@|$host|g" -e "s|@port@|$port|g" \
    -e "s|@moddir@|$moddir|g" -e "s|@www@|$srcdir/demo/www|g" \
    -e "s|@client@|$srcdir/client|g" \
    -e "s|@sse_module@|$builddir/mod_sse_proxy/.libs/mod_sse_proxy.so|g" \
    -e "s|@origin1@|$o1|g" -e "s|@origin2@|$o2|g" \
    "$srcdir/conf/demo.conf.in" | awk -v user="$user" '{ if ($0 == "@user@") print user; else print }' \
    > "$root/httpd.conf"

"$httpd" -t -f "$root/httpd.conf" >/dev/null 2>&1 || {
    "$httpd" -t -f "$root/httpd.conf"; exit 1; }
"$httpd" -f "$root/httpd.conf" -DFOREGROUND &
pids="$pids $!"

cat <<INFO

mod_sse_proxy demo on http://$host:$port/  (origins on 127.0.0.1:$o1 and :$o2)

  http://$host:$port/                                 the demo page (a live EventSource)
  curl -N http://$host:$port/events                  a stream (1 event/s, heartbeats every 15 s)
  curl -N 'http://$host:$port/events?rate=10&size=100'
  curl -N -H 'Last-Event-ID: 100' http://$host:$port/events     resumes at id 101
  curl -N --http2-prior-knowledge http://$host:$port/stream     the same over HTTP/2 (h2c)
  http://$host:$port/chat.html                        a chat page reading a POST token stream (fetch)
  http://$host:$port/client.html                      the same stream read by ssep-client.js (discovery, policy, backoff)
  curl -N http://$host:$port/v1/chat/completions -d '{"stream":true}'    LLM tokens
  curl -N 'http://$host:$port/v1/chat/completions?think_ms=8000&tokens=30' -d '{"stream":true}'
                                                      a model that thinks 8 s first
  curl -i http://$host:$port/mcp -H 'Accept: application/json, text/event-stream' \
       -d '{"jsonrpc":"2.0","id":1,"method":"initialize"}'   an MCP session (see Mcp-Session-Id)
  curl -N http://$host:$port/mcp -H 'Mcp-Session-Id: <id>' -H 'Accept: application/json, text/event-stream' \
       -d '{"jsonrpc":"2.0","id":2,"method":"tools/call"}'    served by the member that made it
  http://$host:$port/debug/sse-stats                  what the policy sees and decides
  curl 'http://$host:$port/origin1/control?mode=status&status=503'   make origin 1 fail
  curl 'http://$host:$port/origin1/control?mode=normal'              and recover

Logs: $root/error.log, $root/access.log.  Ctrl-C stops everything.

INFO
wait
