/**
 * The migration report: built from a repository with history, a baseline and a target; its
 * sections and numbers; the trend SVG; and workspace text (file names, keep reasons) escaped
 * in Markdown, HTML and SVG.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildBurndown, recordHistory, type HistoryPoint } from '../../../server/src/history';
import { runBaselineCommand } from '../../../server/src/ledger';
import { buildReport, chartPathFor, niceTicks, runReportCommand, toReportHtml, toReportMarkdown, trendSvg } from '../../../server/src/report';
import { capture, pgFile, TestRepo } from '../history/repo';

const HOSTILE = 'src/<img src=x onerror=alert(1)>.ts';

describe('report', function () {
  this.timeout(120_000);
  let repo: TestRepo;

  before(async () => {
    repo = new TestRepo('sqlmigrate-report-');
    repo.commit('start', '2024-02-01T10:00:00Z', {
      '.sqlmigrate.json': JSON.stringify({ target: { reduction: 0.5 } }),
      'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'DELETE FROM jobs WHERE id = $1', 'UPDATE jobs SET a = 1 WHERE id = $1']),
      'src/db/report.ts': pgFile(['WITH x AS (SELECT id FROM jobs) SELECT * FROM x WHERE id = $1']),
      [HOSTILE]: "import { Pool } from 'pg';\nconst pool = new Pool();\n// sqlmigrate-keep: <script>alert('reason')</script> | pipes\npool.query('SELECT 1');\n",
      'app/health.ts': pgFile(['SELECT * FROM health WHERE id = $1']),
    });
    const c = capture();
    assert.equal(await runBaselineCommand([repo.dir], c.io), 0, c.out.stderr);
    repo.commit('migrate two', '2024-02-08T10:00:00Z', {
      'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1']),
    });
    repo.commit('migrate health', '2024-02-15T10:00:00Z', { 'app/health.ts': pgFile([]) });
    await recordHistory(repo.dir);
  });
  after(() => repo.dispose());

  it('summarises against the baseline and the target, with per-folder and ranked work tables', async () => {
    const model = await buildReport(repo.dir, { now: new Date('2024-02-16T00:00:00Z') });
    assert.equal(model.baseline?.remaining, 5);
    assert.equal(model.progress.remaining, 2);
    assert.equal(model.progress.migrated, 3);
    assert.deepEqual(model.progress.target, { reduction: 0.5, remaining: 2, reached: true });
    assert.deepEqual(model.folders.map((f) => [f.folder, f.baseline, f.remaining]), [['src/db', 4, 2], ['app', 1, 0], ['src', 0, 0]]);
    assert.equal(model.work[0].file, 'src/db/report.ts');
    assert.equal(model.work[0].complex, 1);
    assert.equal(model.kept.length, 1);
    assert.ok(model.burndown.projection && model.burndown.projection.ratePerWeek > 0);
    const md = toReportMarkdown(model, { chartHref: 'migration.trend.svg' });
    for (const h of ['## Summary', '## Trend', '## Per rule', '## Per folder', '## Kept on purpose', '## Remaining work, ranked by complexity']) assert.ok(md.includes(h), h);
    assert.match(md, /\| \*\*Left to migrate\*\* \| 2 \|/);
    assert.match(md, /\| Migrated since the baseline \| 3 \(60%\) \|/);
    assert.match(md, /50% fewer than the baseline: at most 2 left — reached/);
    assert.match(md, /!\[Statements left to migrate over time\]\(migration\.trend\.svg\)/);
    assert.match(md, /\| `src\/db\/report\.ts` \| 1 \| 1 \| 0 \| 0 \| 0 \| 0 \| 3 \|/);
  });

  it('escapes workspace text in Markdown, HTML and the SVG', async () => {
    const model = await buildReport(repo.dir);
    const md = toReportMarkdown(model);
    assert.ok(!md.includes('<script>'), 'no raw <script> in Markdown');
    assert.match(md, /\\<script\\>alert\('reason'\)\\<\/script\\> \\\| pipes/);
    assert.ok(md.includes('`src/<img src=x onerror=alert(1)>.ts`'), 'file names are code spans');
    const html = toReportHtml(model);
    assert.ok(!/<script/i.test(html) && !/<img/i.test(html), 'no script or img element');
    assert.ok(html.includes('&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;'));
    assert.ok(html.includes('<code>src/&lt;img src=x onerror=alert(1)&gt;.ts</code>'));
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.match(html, /<svg [^>]*role="img"/);
  });

  it('the SVG: scales, lines and an empty state', () => {
    assert.deepEqual(niceTicks(7), [0, 2, 4, 6, 8]);
    assert.deepEqual(niceTicks(100), [0, 20, 40, 60, 80, 100]);
    const empty = trendSvg(buildBurndown([]));
    assert.match(empty, /No history yet/);
    const p = (date: string, raw: number): HistoryPoint => ({
      commit: null, date, totals: { 'raw-sql': raw, 'session-legacy-query': 0, 'session-usage': 0, 'sync-in-async': 0, 'manual-transaction': 0, 'exception-missing-reason': 0 },
      kept: { 'raw-sql': 0, 'session-legacy-query': 0, 'session-usage': 0, 'sync-in-async': 0, 'manual-transaction': 0, 'exception-missing-reason': 0 },
      files: { 'a/<b>.ts': { 'raw-sql': raw } }, keptFiles: {}, filesScanned: 1, source: 'history', v: 1,
    });
    const data = buildBurndown([p('2024-01-01T00:00:00Z', 10), p('2024-01-08T00:00:00Z', 8), p('2024-01-15T00:00:00Z', 6)]);
    assert.equal(data.projection?.ratePerWeek, 2);
    assert.equal(data.projection?.completion?.slice(0, 10), '2024-02-05');
    assert.deepEqual(data.folders, ['a']);
    const svg = trendSvg(data);
    assert.match(svg, /class="left" d="M/);
    assert.match(svg, /class="projection"/);
    assert.ok(!svg.includes('<b>'));
  });

  it('the command writes Markdown with the chart beside it, or HTML; bad formats exit 2', async () => {
    const out = path.join(repo.dir, 'docs', 'migration.md');
    const c = capture();
    assert.equal(await runReportCommand([repo.dir, '--output', out], c.io), 0, c.out.stderr);
    assert.equal(chartPathFor(out), path.join(repo.dir, 'docs', 'migration.trend.svg'));
    assert.match(fs.readFileSync(out, 'utf8'), /\(migration\.trend\.svg\)/);
    assert.match(fs.readFileSync(chartPathFor(out), 'utf8'), /^<svg xmlns/);
    const h = capture();
    assert.equal(await runReportCommand([repo.dir, '--format', 'html'], h.io), 0);
    assert.match(h.out.stdout, /^<!DOCTYPE html>/);
    const md = capture();
    assert.equal(await runReportCommand([repo.dir], md.io), 0);
    assert.match(md.out.stdout, /^# Migration report/);
    assert.match(md.out.stdout, /<svg xmlns/);
    const bad = capture();
    assert.equal(await runReportCommand([repo.dir, '--format', 'pdf'], bad.io), 2);
    assert.match(bad.out.stderr, /--format must be markdown or html/);
  });
});
