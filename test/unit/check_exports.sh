#!/bin/sh
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

# The shared library must export the ssep_* API and nothing else.
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
