// The ESLint peer for `npm run bench`: ESLint with @typescript-eslint/parser running the
// published eslint-plugin-sql rule `sql/no-unsafe-query` (it parses every template literal
// with a SQL parser to decide whether it is a query) over the TS/JS files of a folder.
// Prints {ms, files, problems, peakRssMb} as JSON. Usage: node bench/eslint-peer.mjs <dir>
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dir = path.resolve(process.argv[2]);
const { ESLint } = require('eslint');
const tsParser = require('@typescript-eslint/parser');
const sqlPlugin = (await import('eslint-plugin-sql')).default;

function* walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile() && /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/.test(e.name)) yield p;
  }
}
const files = [...walk(dir)].sort();

const t0 = process.hrtime.bigint();
const eslint = new ESLint({
  cwd: dir,
  overrideConfigFile: true,
  cache: false,
  overrideConfig: [
    {
      files: ['**/*.{ts,tsx,mts,cts,js,jsx,mjs,cjs}'],
      languageOptions: { parser: tsParser, ecmaVersion: 'latest', sourceType: 'module' },
      linterOptions: { reportUnusedDisableDirectives: 'off' },
      plugins: { sql: sqlPlugin },
      rules: { 'sql/no-unsafe-query': 'error' },
    },
  ],
});
const results = await eslint.lintFiles(files);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const problems = results.reduce((n, r) => n + r.messages.filter((m) => m.ruleId === 'sql/no-unsafe-query').length, 0);
const fatal = results.reduce((n, r) => n + r.messages.filter((m) => m.fatal).length, 0);
process.stdout.write(JSON.stringify({ ms, files: results.length, problems, parseErrors: fatal, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
