#!/usr/bin/env node
'use strict';
// The `sqlmigrate` command. The TypeScript sources are built into out/ by `npm run build`.
const path = require('node:path');
const entry = path.join(__dirname, '..', 'out', 'server', 'src', 'cli', 'main.js');
let cli;
try {
  cli = require(entry);
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('main.js')) {
    process.stderr.write('sqlmigrate: not built yet; run `npm run build` in ' + path.join(__dirname, '..') + '\n');
    process.exit(2);
  }
  throw e;
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
