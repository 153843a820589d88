/**
 * Runs the end-to-end mocha suite inside the VS Code extension host and writes the results to
 * a JSON file the outer runner (../run.ts) reads. Started by the extension when
 * SQLMIGRATE_E2E_RESULTS is set (see client/src/extension.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface E2eResults {
  passed: number;
  failed: number;
  tests: Array<{ title: string; state: 'passed' | 'failed'; durationMs?: number; error?: string }>;
  finishedAt: string;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export async function run(resultsFile: string): Promise<void> {
  const results: E2eResults = { passed: 0, failed: 0, tests: [], finishedAt: '' };
  try {
    // mocha 12 is an ES module: require() gives its namespace (default = the class) or the class itself.
    const loaded = require('mocha') as typeof import('mocha') & { default?: typeof import('mocha') };
    const Mocha = loaded.default ?? loaded;
    const mocha = new Mocha({ ui: 'bdd', timeout: 90000, color: false, reporter: 'spec' });
    mocha.addFile(path.join(__dirname, 'extension.test.js'));
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
  writeAtomic(resultsFile, JSON.stringify(results, null, 2));
}
