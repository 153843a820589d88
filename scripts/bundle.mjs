#!/usr/bin/env node
/**
 * Bundles the VS Code extension for packaging (`npm run bundle`; `npm run package` makes the .vsix):
 *
 *   dist/extension.js   the client (client/src/extension.ts); `vscode` stays external
 *   dist/server.js      the language server (server/src/server.ts) with everything it imports:
 *                       the engine, the TypeScript compiler (the TS/JS detector parses with it),
 *                       node-sql-parser, web-tree-sitter, Ajv + the config schema, LiquidJS, Knex
 *   dist/*.wasm         web-tree-sitter's runtime and the Python grammar; the client passes
 *                       SQLMIGRATE_WASM_DIR=<dist> to the server process
 *   dist/uplot/         uPlot's script, stylesheet and licence for the burndown webview
 *
 * The other files the runtime reads are shipped as they are (see .vscodeignore): templates/
 * (rewrite templates, found upwards from dist/), docs/rules/ (rule pages linked from diagnostics,
 * found the same way), schemas/ (jsonValidation), client/media/ (icons, walkthrough).
 * The package therefore has no node_modules (`vsce package --no-dependencies`).
 *
 *   node scripts/bundle.mjs [--dev]     --dev: no minification, inline source maps
 */
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const dev = process.argv.includes('--dev');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(dist, { recursive: true });

// Knex picks its dialect module at run time from the client name (knex/lib/dialects/index.js, a
// table of require() calls). The rewrite verifier only ever asks for the three dialects below
// (server/src/engine/rewrite/verify.ts: pg, mysql2, better-sqlite3), so the bundle holds exactly
// those: the table is replaced by one naming them, so they are bundled and resolvable, and the
// other dialects (and the drivers they would require, e.g. mariadb/callback) stay out.
export const KNEX_DIALECTS = ['postgres', 'mysql2', 'better-sqlite3'];
const knexDialects = {
  name: 'knex-dialects',
  setup(build) {
    build.onLoad({ filter: /[\\/]knex[\\/]lib[\\/]dialects[\\/]index\.js$/ }, (args) => ({
      contents: [
        "'use strict';",
        "const { resolveClientNameWithAliases } = require('../util/helpers');",
        `const loaders = { ${KNEX_DIALECTS.map((d) => `${JSON.stringify(d)}: () => require(${JSON.stringify(`./${d}`)})`).join(', ')} };`,
        'exports.getDialectByNameOrAlias = function getDialectByNameOrAlias(clientName) {',
        '  const load = loaders[resolveClientNameWithAliases(clientName)];',
        `  if (!load) throw new Error('Invalid clientName given: ' + clientName + ' (sqlmigrate bundles the ${KNEX_DIALECTS.join(', ')} dialects)');`,
        '  return load();',
        '};',
      ].join('\n'),
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root,
  // Database drivers Knex loads only when it connects; the rewrite's verifier compiles SQL without
  // a connection, so they are never required at run time. Optional helpers of other packages too.
  external: ['vscode', 'pg', 'pg-native', 'pg-query-stream', 'mysql', 'mysql2', 'sqlite3', 'better-sqlite3', 'oracledb', 'tedious', 'mssql', 'source-map-support'],
  logOverride: { 'require-resolve-not-external': 'silent', 'empty-import-meta': 'silent', 'direct-eval': 'silent' },
  metafile: true,
  plugins: [knexDialects],
  // ES modules bundled into CommonJS (web-tree-sitter's createRequire(import.meta.url)) get the
  // bundle's own URL.
  define: { 'import.meta.url': '__sqlmigrate_import_meta_url' },
  banner: { js: "var __sqlmigrate_import_meta_url = require('url').pathToFileURL(__filename).href;" },
};

const started = Date.now();
const results = await Promise.all([
  esbuild.build({ ...common, entryPoints: { extension: 'client/src/extension.ts' }, outdir: dist }),
  esbuild.build({ ...common, entryPoints: { server: 'server/src/server.ts' }, outdir: dist }),
]);
// The knex dialects the verifier needs must be in the server bundle (see knexDialects above).
const inBundle = Object.keys(results[1].metafile.inputs);
for (const d of KNEX_DIALECTS) {
  if (!inBundle.some((f) => f.replace(/\\/g, '/').endsWith(`knex/lib/dialects/${d}/index.js`))) throw new Error(`dist/server.js lacks the knex ${d} dialect`);
}
for (const [name, spec] of [
  ['web-tree-sitter.wasm', 'web-tree-sitter/web-tree-sitter.wasm'],
  ['tree-sitter-python.wasm', 'tree-sitter-python/tree-sitter-python.wasm'],
]) {
  fs.copyFileSync(require.resolve(spec), path.join(dist, name));
}
// uPlot for the burndown webview (client/webview/burndown.ts), with its licence.
const uplot = path.dirname(require.resolve('uplot/package.json'));
fs.mkdirSync(path.join(dist, 'uplot'), { recursive: true });
for (const f of ['dist/uPlot.iife.min.js', 'dist/uPlot.min.css', 'LICENSE']) {
  if (fs.existsSync(path.join(uplot, f))) fs.copyFileSync(path.join(uplot, f), path.join(dist, 'uplot', path.basename(f)));
}

const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
for (const f of fs.readdirSync(dist).sort()) if (fs.statSync(path.join(dist, f)).isFile()) console.log(`  dist/${f.padEnd(26)} ${kb(fs.statSync(path.join(dist, f)).size)}`);
if (process.argv.includes('--analyze')) {
  for (const r of results) console.log(await esbuild.analyzeMetafile(r.metafile, { verbose: false }));
}
console.log(`bundled in ${Date.now() - started} ms${dev ? ' (dev)' : ''}`);
