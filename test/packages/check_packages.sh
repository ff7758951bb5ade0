#!/bin/sh
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

# make check-packages: the Debian packages from make deb, installed on
# this machine and used the way an administrator would: apt-get install,
# a2enmod sse_proxy, a stream route in Debian's /etc/apache2 layout
# (conf-available, a2enconf), the system's httpd started with apache2ctl,
# a stream relayed to curl and to sse-tail; then everything is stopped,
# the packages are purged, and the machine must be exactly as it was
# found.  Whatever fails, the trap puts
# the configuration, the packages and httpd's state back.
#
# Needs root.  Environment: top_builddir, top_srcdir, DEB_DIR (the .deb
# files).  The test origin is the build tree's test/origin/sse-origin.
set -eu

builddir=${top_builddir:?top_builddir is not set}
srcdir=${top_srcdir:?top_srcdir is not set}
debdir=${DEB_DIR:-$builddir/deb-out}
PKGS="libssepolicy0 libssepolicy-dev libapache2-mod-sse-proxy sse-tail"
CONF=sse-proxy-package-check
MODDIR=/usr/lib/apache2/modules
LIBDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

say() { echo "check-packages: $*"; }
fail() { echo "check-packages: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (it installs packages and runs the system's apache2)"
for tool in apt-get dpkg-query apache2ctl a2enmod a2dismod a2enconf a2disconf curl man flock; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found"
done
origin_bin="$builddir/test/origin/sse-origin"
[ -x "$origin_bin" ] || fail "$origin_bin missing: run make first"
# The four packages only (a build with -dbgsym packages has more).
debs=""
for p in $PKGS; do
    deb=$(ls "$debdir/${p}_"*.deb 2>/dev/null) || fail "$debdir has no $p package: run make deb"
    [ "$(echo "$deb" | wc -l)" = 1 ] || fail "$debdir has several $p packages"
    debs="$debs $deb"
done

# One run at a time: the system's httpd and /etc/apache2 are shared.
exec 9>/run/lock/mod-sse-proxy-check-packages.lock
flock -n 9 || fail "another check-packages run holds /run/lock/mod-sse-proxy-check-packages.lock"

# --- the state to find again at the end ---------------------------------
# shellcheck disable=SC1091
pidfile=$(set +u; . /etc/apache2/envvars && echo "$APACHE_PID_FILE")
# shellcheck disable=SC1091
logdir=$(set +u; . /etc/apache2/envvars && echo "$APACHE_LOG_DIR")
if [ -z "$pidfile" ] || [ -z "$logdir" ]; then
    fail "/etc/apache2/envvars names no pid file or log directory"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check-packages.XXXXXX")

pkg_state() {
    for p in $PKGS; do
        st=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null) || st=not-installed
        echo "$p ${st:-not-installed}"
    done
}
# Every name, type, mode, owner and link target under httpd's
# configuration and a2enmod's records, and every file's checksum.
apache_state() {
    for d in /etc/apache2 /var/lib/apache2; do
        if [ -e "$d" ]; then
            find "$d" -printf '%p %y %m %u:%g %l\n'
            find "$d" -type f -exec sha256sum {} +
        else
            echo "$d absent"
        fi
    done | LC_ALL=C sort
}
httpd_running() {
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo running
    else
        echo stopped
    fi
}

pkg_state > "$work/pkgs.before"
if grep -qv ' not-installed$' "$work/pkgs.before"; then
    cat "$work/pkgs.before" >&2
    rm -rf "$work"
    fail "some of the packages are installed already; remove them first (apt-get purge $PKGS)"
fi
apache_state > "$work/apache.before"
was_running=$(httpd_running)
for m in proxy proxy_http sse_proxy; do
    [ -e "/etc/apache2/mods-enabled/$m.load" ] && echo "$m"
done > "$work/mods.before" || true
tar -C / -cpf "$work/apache.tar" etc/apache2 var/lib/apache2
say "state recorded: $(tr '\n' ' ' < "$work/pkgs.before")apache2 $was_running"

origin_pid=""
we_started=no
restore() {
    rc=$?
    trap - EXIT INT TERM
    set +e
    if [ "$we_started" = yes ]; then
        apache2ctl -k stop >/dev/null 2>&1
        i=0
        while [ "$(httpd_running)" = running ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    [ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null && wait "$origin_pid" 2>/dev/null
    if [ "$rc" != 0 ]; then
        echo "check-packages: restoring the system after the failure" >&2
        installed=""
        for p in $PKGS; do
            st=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)
            [ -n "$st" ] && [ "$st" != not-installed ] && installed="$installed $p"
        done
        # shellcheck disable=SC2086
        [ -n "$installed" ] && DEBIAN_FRONTEND=noninteractive \
            apt-get purge -y -qq $installed >/dev/null 2>&1
        rm -rf /etc/apache2 /var/lib/apache2
        tar -C / -xpf "$work/apache.tar"
        [ -s "$work/error.log.check" ] && cat "$work/error.log.check" >&2
    fi
    if [ "$was_running" = running ] && [ "$(httpd_running)" != running ]; then
        apache2ctl -k start >/dev/null 2>&1
    fi
    rm -rf "$work"
    exit "$rc"
}
trap restore EXIT
trap 'exit 130' INT TERM

if [ "$was_running" = running ]; then
    say "stopping the running apache2 for the test; it is started again at the end"
    apache2ctl -k stop >/dev/null 2>&1 || true
    i=0
    while [ "$(httpd_running)" = running ]; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "apache2 did not stop"; sleep 0.1
    done
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- install, as the README says ----------------------------------------
say "apt-get install $(for d in $debs; do basename "$d"; done | tr '\n' ' ')"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $debs \
    > "$work/apt-install.log" 2>&1 || { cat "$work/apt-install.log" >&2; fail "apt-get install"; }
for p in $PKGS; do
    [ "$(dpkg-query -W -f '${db:Status-Status}' "$p")" = installed ] || fail "$p is not installed"
done

so=$MODDIR/mod_sse_proxy.so
[ -f "$so" ] || fail "$so missing"
[ -f /etc/apache2/mods-available/sse_proxy.load ] || fail "sse_proxy.load missing"
[ -f /etc/apache2/mods-available/sse_proxy.conf ] || fail "sse_proxy.conf missing"
grep -q '^# Depends: proxy proxy_http$' /etc/apache2/mods-available/sse_proxy.load ||
    fail "sse_proxy.load does not declare its dependency on proxy and proxy_http"
grep -q "^LoadModule sse_proxy_module $so\$" /etc/apache2/mods-available/sse_proxy.load ||
    fail "sse_proxy.load does not load $so"
[ -e /etc/apache2/mods-enabled/sse_proxy.load ] &&
    ! grep -qx sse_proxy "$work/mods.before" && fail "installing the package enabled the module"
# The module finds the packaged library, not one in a build tree.
ldd "$so" > "$work/ldd"
resolved=$(sed -n 's/^[[:space:]]*libssepolicy\.so\.0 => \([^ ]*\) .*/\1/p' "$work/ldd")
if [ -z "$resolved" ] ||
   [ "$(readlink -f "$resolved")" != "$(readlink -f "$LIBDIR/libssepolicy.so.0")" ]; then
    cat "$work/ldd" >&2
    fail "$so does not resolve libssepolicy.so.0 from $LIBDIR"
fi
if readelf -d "$so" /usr/bin/sse-tail | grep -Eq 'RPATH|RUNPATH'; then
    readelf -d "$so" /usr/bin/sse-tail | grep -E 'RPATH|RUNPATH' >&2
    fail "an installed binary carries a run path"
fi
for f in ssep-client.js ssep-client.min.js; do
    cmp -s "/usr/share/mod_sse_proxy/$f" "$srcdir/client/$f" ||
        fail "/usr/share/mod_sse_proxy/$f is not client/$f"
done
[ -f /usr/include/ssepolicy.h ] || fail "ssepolicy.h missing"
[ "$(pkg-config --modversion ssepolicy)" = "$(dpkg-query -W -f '${Version}' libssepolicy-dev | sed 's/-[^-]*$//')" ] ||
    fail "pkg-config ssepolicy does not give the package's version"

# --- enable the module and a stream route, Debian's way -----------------
a2enmod -q sse_proxy
for m in proxy proxy_http sse_proxy; do
    [ -e "/etc/apache2/mods-enabled/$m.load" ] || fail "a2enmod sse_proxy did not enable $m"
done
"$origin_bin" --host 127.0.0.1 --port 0 --port-file "$work/origin.port" \
    --name pkgcheck --log "$work/origin.log" > /dev/null &
origin_pid=$!
i=0
while [ ! -s "$work/origin.port" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "the test origin did not start"; sleep 0.05
done
origin_port=$(cat "$work/origin.port")
port=$(free_port)

# Only this run's port: the stock Listen 80 would collide with whatever
# else the machine runs.
cat > /etc/apache2/ports.conf <<EOF
# written by make check-packages; restored at its end
Listen 127.0.0.1:$port
EOF
# The route as the README shows it, in conf-available.
cat > "/etc/apache2/conf-available/$CONF.conf" <<EOF
# written by make check-packages; removed at its end
<Location /events>
    ProxyPass http://127.0.0.1:$origin_port/events
    SSEProxy On
    SSEProxyHeartbeat 1
</Location>
Alias /ssep-client/ /usr/share/mod_sse_proxy/
<Directory /usr/share/mod_sse_proxy>
    Require all granted
</Directory>
EOF
a2enconf -q "$CONF"
apache2ctl configtest > "$work/configtest" 2>&1 || { cat "$work/configtest" >&2; fail "apache2ctl configtest"; }

log_before=$(stat -c %s "$logdir/error.log" 2>/dev/null || echo 0)
say "apache2ctl start (127.0.0.1:$port, origin 127.0.0.1:$origin_port)"
we_started=yes
apache2ctl -k start > "$work/start" 2>&1 || { cat "$work/start" >&2; fail "apache2ctl start"; }
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "apache2 does not answer on 127.0.0.1:$port"; sleep 0.1
done
[ "$(httpd_running)" = running ] || fail "apache2 is not running after apache2ctl start"

# --- a stream through the system's httpd --------------------------------
url="http://127.0.0.1:$port/events"
curl -sS -N --max-time 20 -D "$work/head" -o "$work/body" "$url?rate=20&count=5" ||
    fail "curl $url failed"
head -n 1 "$work/head" | grep -q ' 200' || { cat "$work/head" >&2; fail "stream status is not 200"; }
grep -qi '^content-type: text/event-stream' "$work/head" || { cat "$work/head" >&2; fail "no event-stream content type"; }
n=$(grep -c '^id: ' "$work/body" || true)
[ "$n" = 5 ] || { cat "$work/body" >&2; fail "expected 5 events through the proxy, got $n"; }
for id in 1 2 3 4 5; do
    grep -qx "id: $id" "$work/body" || fail "event $id missing from the relayed stream"
done
# The route is the module's, not mod_proxy_http's: it answers discovery.
curl -sS -I -H 'Accept: text/event-stream' "$url" > "$work/discovery"
grep -qi '^x-sse-relay: mod_sse_proxy' "$work/discovery" ||
    { cat "$work/discovery" >&2; fail "HEAD discovery not answered by mod_sse_proxy"; }
curl -sS -f -o "$work/client.js" "http://127.0.0.1:$port/ssep-client/ssep-client.js" ||
    fail "the packaged browser client is not served at /ssep-client/"
cmp -s "$work/client.js" "$srcdir/client/ssep-client.js" || fail "/ssep-client/ssep-client.js is not client/ssep-client.js"
say "curl: 5 events relayed (ids 1-5), discovery answered by the module, ssep-client.js served"

# --- sse-tail, the packaged client --------------------------------------
rc=0
timeout 60 sse-tail --quiet --json --max-events 3 --timeout 30 "$url?rate=20" > "$work/tail" 2> "$work/tail.err" || rc=$?
[ "$rc" = 0 ] || { cat "$work/tail.err" >&2; fail "sse-tail exited $rc"; }
n=$(grep -c '"data"' "$work/tail" || true)
[ "$n" = 3 ] || { cat "$work/tail" >&2; fail "sse-tail printed $n events, not 3"; }
sse-tail --help > "$work/help" || fail "sse-tail --help failed"
grep -q -- '--max-events' "$work/help" || fail "sse-tail --help does not describe --max-events"
man_page=$(man -w sse-tail) || fail "man -w sse-tail finds no page"
MANWIDTH=80 man -P cat -l "$man_page" > "$work/man" 2> "$work/man.err" || { cat "$work/man.err" >&2; fail "man -l $man_page"; }
grep -q 'max-events' "$work/man" || fail "the man page does not render"
say "sse-tail: 3 events, --help and man -l $man_page work"

# --- stop, and take everything away again -------------------------------
apache2ctl -k stop > /dev/null 2>&1 || fail "apache2ctl stop"
i=0
while [ "$(httpd_running)" = running ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "apache2 did not stop"; sleep 0.1
done
we_started=no
tail -c +"$((log_before + 1))" "$logdir/error.log" > "$work/error.log.check" 2>/dev/null || true
if grep -Eq 'exit signal|Segmentation|AH00052|\[(crit|alert|emerg)\]|sse_proxy:error' "$work/error.log.check"; then
    fail "the error log shows trouble"
fi
kill "$origin_pid"
wait "$origin_pid" 2>/dev/null || true
origin_pid=""

a2disconf -q -p "$CONF"
rm -f "/etc/apache2/conf-available/$CONF.conf"
tar -C / -xpf "$work/apache.tar" etc/apache2/ports.conf
a2dismod -q -p sse_proxy
for m in proxy_http proxy; do
    grep -qx "$m" "$work/mods.before" || a2dismod -q -p "$m"
done
# a2enmod and a2dismod -p leave their (now empty) record directories
# behind; those that were not there before go too.
find /var/lib/apache2 -mindepth 1 -type d -empty | while read -r d; do
    grep -q "^$d d " "$work/apache.before" || rmdir "$d"
done
say "apt-get purge $PKGS"
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $PKGS > "$work/apt-purge.log" 2>&1 ||
    { cat "$work/apt-purge.log" >&2; fail "apt-get purge"; }

pkg_state > "$work/pkgs.after"
apache_state > "$work/apache.after"
diff -u "$work/pkgs.before" "$work/pkgs.after" >&2 || fail "package states differ from before"
diff -u "$work/apache.before" "$work/apache.after" >&2 || fail "/etc/apache2 or /var/lib/apache2 differs from before"
[ "$(httpd_running)" = stopped ] || fail "apache2 still running"
if [ "$was_running" = running ]; then
    apache2ctl -k start > /dev/null 2>&1 || fail "apache2 could not be started again"
    i=0
    until [ "$(httpd_running)" = running ]; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "apache2 did not start again"; sleep 0.1
    done
fi
for f in "$so" "$LIBDIR/libssepolicy.so.0" /usr/bin/sse-tail /usr/share/mod_sse_proxy; do
    [ ! -e "$f" ] || fail "$f left behind"
done
say "purged: packages, /etc/apache2 and /var/lib/apache2 as found, apache2 $(httpd_running) as found"
say "PASS"
