/**
 * `sqlmigrate/burndown` over stdio: the server answers what `loadBurndown` reads from the folder
 * (history, baseline, target) and adds a `current` point from its index once the scan is done,
 * only when something was recorded before. Read only: the folder is byte-identical afterwards.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendPoints, pointFromFindings } from '../../server/src/history/points';
import { buildBaseline, countedRules, writeBaseline } from '../../server/src/ledger/baseline';
import { BurndownRequest, type BurndownResult } from '../../server/src/protocol';
import { fileUri, startServer, waitReady } from './client';

const JOBS = `import { Pool } from 'pg';
const pool = new Pool();
export const one = (id: number) => pool.query('SELECT * FROM jobs WHERE id = $1', [id]);
export const all = () => pool.query('SELECT * FROM jobs');
`;

function workspace(history: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-lsp-burndown-'));
  fs.writeFileSync(path.join(dir, 'jobs.ts'), JOBS);
  fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ target: { reduction: 0.5 } }));
  const points = Array.from({ length: history }, (_, i) =>
    pointFromFindings([{ path: 'jobs.ts', findings: Array.from({ length: 5 - i }, () => ({ rule: 'raw-sql' as const, kept: false })) }], { commit: `${i + 1}`.repeat(40), date: new Date(Date.UTC(2026, 9, 1 + 7 * i)), source: 'history' }),
  );
  if (points.length) appendPoints(dir, points);
  if (history < 0) writeBaseline(dir, buildBaseline([{ path: 'jobs.ts', findings: [{ rule: 'raw-sql', kept: false }, { rule: 'raw-sql', kept: false }] }], countedRules(), { commit: null }));
  return dir;
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = fs.readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return out;
}

const CASES: Array<{ name: string; history: number; sources: string[]; lastRemaining?: number }> = [
  { name: 'no history: the empty state (no lone live point)', history: 0, sources: [] },
  { name: 'a baseline but no history: still the empty state', history: -1, sources: [] },
  { name: 'three recorded points and the live one from the index', history: 3, sources: ['history', 'history', 'history', 'current'], lastRemaining: 2 },
];

describe('language server: sqlmigrate/burndown', function () {
  this.timeout(60000);
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = workspace(c.history);
      const before = snapshot(dir);
      const s = await startServer({ workspace: dir, settings: { debounce: 20 } });
      try {
        await waitReady(s);
        const r = (await s.connection.sendRequest(BurndownRequest.method, { folderUri: fileUri(dir) })) as BurndownResult;
        assert.deepEqual(r.warnings, []);
        assert.deepEqual(r.data.points.map((p) => p.source), c.sources);
        if (c.lastRemaining !== undefined) assert.equal(r.data.points.at(-1)!.remaining, c.lastRemaining, 'the live point counts what the scan found in jobs.ts');
        if (c.history > 0) assert.equal(r.data.points[0].remaining, 5);
        assert.deepEqual(snapshot(dir), before, 'nothing written');
      } finally {
        await s.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
