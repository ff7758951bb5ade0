#!/usr/bin/env python3
# Copyright 2025-2026 The mod_sse_proxy authors
# SPDX-License-Identifier: Apache-2.0

"""Writes the minified ssep-client.js: comments and whitespace dropped,
names untouched, a line break kept only where one may end a statement.
Enough for this file (no template literals with ${}), not a general
minifier.

    python3 client/minify.py client/ssep-client.js > client/ssep-client.min.js
    python3 client/minify.py --check client/ssep-client.js client/ssep-client.min.js
"""
import re
import sys

HEADER = ("// Copyright 2025-2026 The mod_sse_proxy authors\n"
          "// SPDX-License-Identifier: Apache-2.0\n"
          "// ssep-client.js, minified by client/minify.py: read that file.\n")
REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {"return", "typeof", "case", "do",
                                             "else", "in", "of", "new", "delete",
                                             "void", "throw", None}
WORD = re.compile(r"[A-Za-z0-9_$.]+")


def tokens(src):
    """(token, whitespace before it contained a line break)."""
    i, n, nl, prev = 0, len(src), False, None
    while i < n:
        c = src[i]
        if c in " \t\r\n":
            nl |= c == "\n"
            i += 1
            continue
        if src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
            continue
        if src.startswith("/*", i):
            j = src.index("*/", i) + 2
            nl |= "\n" in src[i:j]
            i = j
            continue
        if c in "'\"`":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            tok = src[i:j + 1]
        elif c == "/" and prev in REGEX_AFTER:
            j, cls = i + 1, False
            while cls or src[j] != "/":
                if src[j] == "\\":
                    j += 1
                elif src[j] == "[":
                    cls = True
                elif src[j] == "]":
                    cls = False
                j += 1
            j += 1
            while j < n and src[j].isalpha():
                j += 1
            tok = src[i:j]
        else:
            m = WORD.match(src, i)
            tok = m.group(0) if m else c
            # operators of several characters stay together
            if not m:
                for op in ("===", "!==", "**", "=>", "??", "...", "&&", "||",
                           "<=", ">=", "==", "!=", "++", "--", "+=", "-="):
                    if src.startswith(op, i):
                        tok = op
                        break
        yield tok, nl
        nl = False
        prev = tok
        i += len(tok)


def minify(src):
    out, prev = [], None
    for tok, nl in tokens(src):
        if prev is not None:
            word = WORD.match(prev[-1]) and WORD.match(tok[0])
            if nl and prev[-1] not in ";{},([" and tok[0] not in ")]};,.":
                out.append("\n")
            elif word or (prev[-1] in "+-" and tok[0] in "+-"):
                out.append(" ")
        out.append(tok)
        prev = tok
    return HEADER + "".join(out) + "\n"


def main(argv):
    if argv[:1] == ["--check"]:
        with open(argv[1]) as f, open(argv[2]) as g:
            if minify(f.read()) != g.read():
                print("%s is not %s minified: run client/minify.py" % (argv[2], argv[1]))
                return 1
        return 0
    with open(argv[0]) as f:
        sys.stdout.write(minify(f.read()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
