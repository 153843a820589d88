/**
 * The burndown panel's data (client/src/burndownData.ts), outside VS Code:
 *  - the client's local fallback reads a folder as the server's `loadBurndown`
 *    (server/src/history/load.ts) does — random histories, baselines and targets on disk
 *    (fast-check), and a folder with unusable lines and a broken baseline;
 *  - `fetchBurndown` asks the server first and falls back only on "method not found";
 *  - the fallback stays cheap to bundle into the client (no engine, no TypeScript compiler).
 *
 *   node test/run.js browser     (or: npx mocha out/test/browser/burndownData.test.js)
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { fetchBurndown, loadLocalBurndown, METHOD_NOT_FOUND, type BurndownResult } from '../../client/src/burndownData';
import { buildBurndown, loadBurndown, type HistoryPoint } from '../../server/src/history';
import { buildBaseline, MIGRATION_RULES, writeBaseline, type Baseline } from '../../server/src/ledger';
import { RULES, type RuleId } from '../../server/src/engine/types';

const ROOT = path.join(__dirname, '..', '..', '..');
const NOW = new Date('2025-06-01T00:00:00Z');
const FILES = ['src/db/jobs.ts', 'src/db/users.ts', 'src/api/a.ts', 'app/api/users.py', 'app/models/m.py', 'lib/x.js', 'top.ts', 'a/b/c/d.py', 'e/f.ts', 'g/h/i.ts', 'k/l.py', 'm/n.ts'];

const zero = () => Object.fromEntries(RULES.map((r) => [r, 0])) as Record<RuleId, number>;

/** A well-formed history point from per-file counts (totals and kept consistent with the files). */
function point(commit: string | null, date: string, files: Record<string, Partial<Record<RuleId, number>>>, keptFiles: Record<string, Partial<Record<RuleId, number>>>, source: HistoryPoint['source']): HistoryPoint {
  const totals = zero();
  const kept = zero();
  for (const counts of Object.values(files)) for (const [r, n] of Object.entries(counts)) totals[r as RuleId] += n ?? 0;
  for (const counts of Object.values(keptFiles)) for (const [r, n] of Object.entries(counts)) kept[r as RuleId] += n ?? 0;
  return { commit, date, totals, files, kept, keptFiles, filesScanned: Object.keys(files).length, source, v: 1 };
}

const countsArb = fc.dictionary(fc.constantFrom(...RULES), fc.integer({ min: 1, max: 9 }), { maxKeys: 3 });
const pointArb = fc.record({
  commit: fc.option(fc.integer({ min: 1, max: 40 }).map((n) => n.toString(16).padStart(40, '0')), { nil: null }),
  day: fc.integer({ min: 0, max: 200 }),
  files: fc.dictionary(fc.constantFrom(...FILES), countsArb, { maxKeys: 10 }),
  keptFile: fc.option(fc.constantFrom(...FILES), { nil: null }),
  source: fc.constantFrom<HistoryPoint['source']>('history', 'history', 'baseline'),
});

function toPoint(p: { commit: string | null; day: number; files: Record<string, Partial<Record<RuleId, number>>>; keptFile: string | null; source: HistoryPoint['source'] }): HistoryPoint {
  const files = Object.fromEntries(Object.entries(p.files).filter(([, c]) => Object.keys(c).length));
  const keptFiles: Record<string, Partial<Record<RuleId, number>>> = {};
  if (p.keptFile && files[p.keptFile]) {
    const [r, n] = Object.entries(files[p.keptFile])[0] as [RuleId, number];
    keptFiles[p.keptFile] = { [r]: Math.max(1, Math.floor(n / 2)) };
  }
  return point(p.commit, new Date(Date.parse('2025-01-01T09:00:00Z') + p.day * 86_400_000).toISOString(), files, keptFiles, p.source);
}

describe('burndown data for the VS Code panel (client/src/burndownData.ts)', () => {
  it('reads any folder as loadBurndown does: random histories, baselines and targets on disk (fast-check)', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-burndown-prop-')));
    try {
      fc.assert(
        fc.property(
          fc.array(pointArb, { maxLength: 25 }),
          fc.option(fc.integer({ min: 0, max: 200 }), { nil: null }),
          fc.option(fc.double({ min: 0.05, max: 1, noNaN: true }), { nil: undefined }),
          fc.option(fc.subarray([...MIGRATION_RULES], { minLength: 1 }), { nil: undefined }),
          (raw, base, reduction, rules) => {
            fs.rmSync(path.join(dir, '.sqlmigrate'), { recursive: true, force: true });
            fs.rmSync(path.join(dir, '.sqlmigrate.json'), { force: true });
            const target = { ...(reduction !== undefined ? { reduction } : {}), ...(rules ? { rules } : {}) };
            if (Object.keys(target).length) fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ target }));
            if (base !== null) {
              const files = [{ path: 'src/db/jobs.ts', findings: Array.from({ length: base }, () => ({ rule: 'raw-sql' as RuleId, kept: false })) }];
              writeBaseline(dir, buildBaseline(files, rules ?? [...MIGRATION_RULES], { commit: null, now: new Date('2025-01-15T00:00:00Z') }));
            }
            fs.mkdirSync(path.join(dir, '.sqlmigrate'), { recursive: true });
            fs.writeFileSync(path.join(dir, '.sqlmigrate', 'history.jsonl'), raw.map((p) => JSON.stringify(toPoint(p)) + '\n').join(''));
            assert.deepEqual(loadLocalBurndown(dir, NOW), loadBurndown(dir, { now: NOW }));
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a folder as loadBurndown does: history, baseline, target and unusable lines', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-burndown-data-')));
    try {
      // Nothing recorded yet: no points, the empty state.
      assert.deepEqual(loadLocalBurndown(dir, NOW), loadBurndown(dir, { now: NOW }));
      assert.equal(loadLocalBurndown(dir, NOW).data.points.length, 0);

      fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ target: { reduction: 0.5 } }));
      const b = buildBaseline([{ path: 'src/db/jobs.ts', findings: [{ rule: 'raw-sql', kept: false }, { rule: 'raw-sql', kept: false }, { rule: 'raw-sql', kept: true }] }], [...MIGRATION_RULES], { commit: null, now: new Date('2025-02-01T00:00:00Z') });
      writeBaseline(dir, b);
      const lines = [
        point('a'.repeat(40), '2025-01-10T00:00:00Z', { 'src/db/jobs.ts': { 'raw-sql': 4 }, 'app/api/u.py': { 'session-legacy-query': 2 } }, {}, 'history'),
        point('b'.repeat(40), '2025-01-20T00:00:00Z', { 'src/db/jobs.ts': { 'raw-sql': 3 }, 'app/api/u.py': { 'session-legacy-query': 1 } }, { 'src/db/jobs.ts': { 'raw-sql': 1 } }, 'history'),
        point(null, '2025-02-01T00:00:00Z', { 'src/db/jobs.ts': { 'raw-sql': 3 } }, { 'src/db/jobs.ts': { 'raw-sql': 1 } }, 'baseline'),
      ].map((p) => JSON.stringify(p));
      fs.writeFileSync(path.join(dir, '.sqlmigrate', 'history.jsonl'), [lines[0], '{not json', lines[1], lines[2], ''].join('\n'));
      const local = loadLocalBurndown(dir, NOW);
      assert.deepEqual(local, loadBurndown(dir, { now: NOW }));
      assert.equal(local.data.points.length, 3);
      assert.deepEqual(local.data.target, { reduction: 0.5, remaining: 1 });
      assert.equal(local.data.baseline?.remaining, 2);
      assert.match(local.warnings.join('\n'), /line 2 skipped/);

      // A baseline that cannot be used is a warning, not an error, on both sides.
      fs.writeFileSync(path.join(dir, '.sqlmigrate', 'baseline.json'), '<<<<<<< HEAD\n{}\n');
      const broken = loadLocalBurndown(dir, NOW);
      assert.equal(broken.data.baseline, null);
      assert.deepEqual(broken.warnings, loadBurndown(dir, { now: NOW }).warnings);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('asks the server first and reads locally only when the server does not handle the request', async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-burndown-fetch-')));
    try {
      const fromServer: BurndownResult = { data: { ...buildBurndown([], { now: NOW }), folders: ['from-server'] }, warnings: ['w'] };
      const asked: string[] = [];
      const ok = await fetchBurndown(dir, 'file:///x', async (p) => {
        asked.push(p.folderUri);
        return fromServer;
      });
      assert.equal(ok.source, 'server');
      assert.deepEqual(ok.data.folders, ['from-server']);
      assert.deepEqual(asked, ['file:///x']);

      const missing = await fetchBurndown(dir, 'file:///x', async () => {
        throw Object.assign(new Error('Unhandled method sqlmigrate/burndown'), { code: METHOD_NOT_FOUND });
      });
      assert.equal(missing.source, 'client');
      assert.deepEqual(missing.data.points, []);

      const none = await fetchBurndown(dir, 'file:///x');
      assert.equal(none.source, 'client');

      await assert.rejects(
        fetchBurndown(dir, 'file:///x', async () => {
          throw Object.assign(new Error('internal'), { code: -32603 });
        }),
        /internal/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stays cheap to bundle into the extension (no engine, no TypeScript compiler)', async () => {
    const esbuild = await import('esbuild');
    const r = await esbuild.build({
      entryPoints: [path.join(ROOT, 'client', 'src', 'burndownData.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
      absWorkingDir: ROOT,
    });
    const inputs = Object.keys(r.metafile!.inputs);
    const heavy = inputs.filter((f) => /node_modules\/(typescript|node-sql-parser|web-tree-sitter|knex|ajv)\/|server\/src\/engine\/(scan|analyze|config)\.ts/.test(f));
    assert.deepEqual(heavy, [], 'the panel data must not pull the engine into dist/extension.js');
    const bytes = r.outputFiles![0].contents.length;
    assert.ok(bytes < 150_000, `burndownData bundles to ${bytes} bytes`);
  });
});
