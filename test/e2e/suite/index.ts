/**
 * Runs the end-to-end mocha suite inside the VS Code extension host and writes the results to
 * the JSON file named by $SQLMIGRATE_E2E_RESULTS, which the outer runner (../run.ts) reads.
 *
 * Loaded two ways: by @vscode/test-electron as `extensionTestsPath` (it calls `run()` and
 * expects a rejection when tests fail), and under code-server by the small harness extension
 * the runner installs next to the packaged sqlmigrate .vsix. The shipped extension has no
 * test hook.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { E2eResults } from './protocol';

export type { E2eResults };

/** Notes the tests add for the runner to print (activation time and the like). */
export const notes: string[] = [];

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export async function run(): Promise<void> {
  const resultsFile = process.env.SQLMIGRATE_E2E_RESULTS;
  const results: E2eResults = { passed: 0, failed: 0, tests: [], notes, finishedAt: '' };
  try {
    // mocha 12 is an ES module: require() gives its namespace (default = the class) or the class itself.
    const loaded = require('mocha') as typeof import('mocha') & { default?: typeof import('mocha') };
    const Mocha = loaded.default ?? loaded;
    const mocha = new Mocha({ ui: 'bdd', timeout: 90000, color: false, reporter: 'spec' });
    // Every *.test.js here. extension.test.js first: it starts from the untouched workspace and
    // asserts the counts from there; the others (burndown.test.js, …) follow in name order.
    const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js'));
    files.sort((a, b) => (a === 'extension.test.js' ? -1 : b === 'extension.test.js' ? 1 : a < b ? -1 : a > b ? 1 : 0));
    if (!files.length) throw new Error(`no *.test.js in ${__dirname}`);
    for (const f of files) mocha.addFile(path.join(__dirname, f));
    await mocha.loadFilesAsync();
    await new Promise<void>((resolve) => {
      const runner = mocha.run(() => resolve());
      runner.on('pass', (t) => {
        results.passed++;
        results.tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration });
      });
      runner.on('fail', (t, err: Error) => {
        results.failed++;
        results.tests.push({ title: t.fullTitle(), state: 'failed', error: err?.stack ?? String(err) });
      });
    });
  } catch (e) {
    results.failed++;
    results.tests.push({ title: 'e2e suite set-up', state: 'failed', error: (e as Error)?.stack ?? String(e) });
  }
  results.finishedAt = new Date().toISOString();
  if (resultsFile) writeAtomic(resultsFile, JSON.stringify(results, null, 2));
  if (results.failed > 0) throw new Error(`${results.failed} end-to-end test(s) failed`);
}
