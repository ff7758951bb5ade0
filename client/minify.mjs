// Copyright 2025-2026 The mod_sse_proxy authors
// SPDX-License-Identifier: Apache-2.0

// Writes the shipped ssep-client.min.js with terser (local names mangled,
// dead code dropped, exports kept, every const a let), so that the source
// can keep its comments and clear names.  terser is pinned in
// test/browser's lockfile (./bootstrap --browser installs it); the build
// never runs this: the minified file is committed, and test_client_js.py
// checks it is current.  Its header is the copyright and licence lines
// only: every byte of it is downloaded.
//
//   node client/minify.mjs client/ssep-client.js > client/ssep-client.min.js
//   node client/minify.mjs --check client/ssep-client.js client/ssep-client.min.js
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const HEADER = '// Copyright 2025-2026 The mod_sse_proxy authors\n'
  + '// SPDX-License-Identifier: Apache-2.0';

const OPTIONS = {
  module: true,
  ecma: 2020,
  // unsafe: String(x) as x + '', Error() without new; booleans as 0 and 1
  compress: { passes: 3, unsafe: true, booleans_as_integers: true },
  mangle: true,
  format: { preamble: HEADER },
};

// Every const declared as let: the same program (nothing is assigned
// twice), two bytes shorter a declaration, and joined with the lets next
// to it.  terser reads the source's tree in ESTree form and minifies that.
function constAsLet(node) {
  if (Array.isArray(node)) node.forEach(constAsLet);
  else if (node && typeof node === 'object') {
    if (node.type === 'VariableDeclaration' && node.kind === 'const') node.kind = 'let';
    Object.values(node).forEach(constAsLet);
  }
}

function terser() {
  const require = createRequire(new URL('../test/browser/package.json', import.meta.url));
  try {
    return require('terser');
  } catch (e) {
    process.stderr.write('terser is not installed: run ./bootstrap --browser '
      + '(or cd test/browser && npm ci)\n');
    process.exit(2);
  }
}

async function minify(path) {
  const { minify: run } = terser();
  const { ast } = await run(readFileSync(path, 'utf8'), {
    module: true, compress: false, mangle: false, format: { ast: true, code: false },
  });
  const tree = ast.to_mozilla_ast();
  constAsLet(tree);
  const out = await run(tree, { ...OPTIONS, parse: { spidermonkey: true } });
  return out.code + '\n';
}

const args = process.argv.slice(2);
if (args[0] === '--check') {
  if (await minify(args[1]) !== readFileSync(args[2], 'utf8')) {
    process.stderr.write(`${args[2]} is not ${args[1]} minified: run client/minify.mjs\n`);
    process.exit(1);
  }
} else if (args.length === 1) {
  process.stdout.write(await minify(args[0]));
} else {
  process.stderr.write('usage: node client/minify.mjs [--check] ssep-client.js [ssep-client.min.js]\n');
  process.exit(2);
}
