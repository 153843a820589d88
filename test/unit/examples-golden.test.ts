/**
 * The bundled example's inventory, as the README's first command prints it, compared with
 * reviewed golden files. `UPDATE_GOLDEN=1 npm test` rewrites them after a deliberate change.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toJson, toMarkdown, toTable } from '../../server/src/engine/report/inventory';
import { scanDirectory, type ScanReport } from '../../server/src/engine/scan';

const ROOT = path.join(__dirname, '..', '..', '..');
const GOLDEN = path.join(ROOT, 'test', 'golden');

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  assert.ok(fs.existsSync(file), `missing golden file ${name}; run UPDATE_GOLDEN=1 npm test and review it`);
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `${name} differs; if the change is deliberate run UPDATE_GOLDEN=1 npm test and review the diff`);
}

describe('the bundled example', () => {
  let report: ScanReport;
  before(async () => {
    report = await scanDirectory(path.join(ROOT, 'examples'));
  });

  it('prints the table inventory', () => golden('examples.table.txt', toTable(report)));
  it('prints the markdown inventory', () => golden('examples.md', toMarkdown(report, undefined, new Date('2026-01-01T00:00:00Z'))));

  it('keeps the JSON contract', () => {
    const json = JSON.parse(toJson(report)) as { summary: Record<string, unknown>; findings: Array<Record<string, unknown>> };
    for (const key of ['totals', 'kept', 'remaining', 'filesScanned', 'filesWithFindings', 'skipped']) assert.ok(key in json.summary, `summary.${key}`);
    assert.ok(json.findings.length > 0);
    for (const f of json.findings) {
      for (const key of ['rule', 'file', 'startLine', 'endLine', 'language', 'driver', 'kind', 'tables', 'complexity', 'dynamic', 'exception']) assert.ok(key in f, `finding.${key}`);
      assert.match(f.file as string, /^[^/\\][^\\]*$/, 'relative, forward slashes');
      assert.ok((f.startLine as number) >= 1 && (f.endLine as number) >= (f.startLine as number));
    }
  });

  it('records the config exception and the inline one with their reasons', () => {
    const kept = report.findings.filter((f) => f.exception);
    assert.ok(kept.some((f) => f.file === 'py-service/app/api/health.py' && f.exception?.source === 'config'));
    assert.ok(kept.some((f) => f.file === 'ts-service/src/routes/health.ts' && f.exception?.source === 'inline'));
  });
});
