#!/bin/sh
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

# The shared library must export the ssep_* API and nothing else, and
# the module must use it.
lib=$(ls "${top_builddir:-.}"/libssepolicy/.libs/libssepolicy.so.* 2>/dev/null | head -n 1)
if [ -z "$lib" ]; then
    echo "libssepolicy.so not built"; exit 1
fi
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' \
      | sed 's/@.*//' | grep -v '^ssep_' | grep -v '^SSEPOLICY_')
if [ -n "$bad" ]; then
    echo "unexpected exported symbols:"; echo "$bad"; exit 1
fi
count=$(nm -D --defined-only "$lib" | grep -c ' T ssep_')
echo "exports ok: $count ssep_* functions"
case "$lib" in *libssepolicy.so.0*) ;; *) echo "unexpected soname file $lib"; exit 1;; esac

# The module uses that library rather than a copy of its own.
mod="${top_builddir:-.}"/mod_sse_proxy/.libs/mod_sse_proxy.so
if ! readelf -d "$mod" | grep -q 'NEEDED.*\[libssepolicy\.so\.0\]'; then
    echo "mod_sse_proxy.so does not link libssepolicy.so.0"; exit 1
fi
own=$(nm --defined-only "$mod" | awk '$3 ~ /^ssep_/ {print $3}')
if [ -n "$own" ]; then
    echo "mod_sse_proxy.so carries its own ssep_* code:"; echo "$own"; exit 1
fi
echo "module links libssepolicy.so.0"
