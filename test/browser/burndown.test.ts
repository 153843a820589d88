/**
 * The burndown webview page in a real browser: Debian's Chromium through playwright-core (never
 * a downloaded browser). The page is served from a fake origin standing in for the webview's
 * resource origin, under its own Content-Security-Policy; the test fails on any CSP violation,
 * console error or page error. Screenshots go to test-artifacts/screenshots/.
 *
 *   node test/run.js browser
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { burndownHtml, newNonce, type BurndownData } from '../../client/webview/burndown';
import { buildBurndown, type HistoryPoint } from '../../server/src/history';
import { buildReport, toReportHtml } from '../../server/src/report';
import type { Baseline } from '../../server/src/ledger';
import { pgFile, TestRepo } from '../unit/history/repo';

// Browser globals used inside page.evaluate callbacks (this project compiles without the DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const window: any;
declare function getComputedStyle(el: unknown): any;

const ROOT = path.join(__dirname, '..', '..', '..');
const CHROMIUM = process.env.SQLMIGRATE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const ORIGIN = 'https://webview.sqlmigrate.test';
const HOSTILE = 'src/<img src=x onerror=alert(1)>';

const ASSETS: Record<string, { file: string; type: string }> = {
  '/uplot/uPlot.iife.min.js': { file: path.join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.iife.min.js'), type: 'text/javascript' },
  '/uplot/uPlot.min.css': { file: path.join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), type: 'text/css' },
  '/media/burndown.js': { file: path.join(ROOT, 'client', 'webview', 'media', 'burndown.js'), type: 'text/javascript' },
  '/media/burndown.css': { file: path.join(ROOT, 'client', 'webview', 'media', 'burndown.css'), type: 'text/css' },
};

const zero = () => ({ 'raw-sql': 0, 'session-legacy-query': 0, 'session-usage': 0, 'sync-in-async': 0, 'manual-transaction': 0, 'exception-missing-reason': 0 });

/** Ten weekly points of a migration going down, over three folders (one with a hostile name). */
function sampleData(): BurndownData {
  const points: HistoryPoint[] = [];
  const start = Date.parse('2024-03-04T10:00:00Z');
  const counts = [
    [18, 9, 4], [18, 8, 4], [16, 8, 5], [15, 7, 4], [13, 7, 4], [12, 5, 3], [10, 5, 3], [9, 4, 2], [7, 4, 2], [6, 3, 1],
  ];
  counts.forEach(([db, api, hostile], i) => {
    const totals = zero();
    const kept = zero();
    totals['raw-sql'] = db + hostile + 2;
    totals['session-legacy-query'] = api;
    kept['raw-sql'] = 2;
    points.push({
      commit: (i + 1).toString(16).padStart(40, 'a'),
      date: new Date(start + i * 7 * 86_400_000).toISOString(),
      totals,
      kept,
      files: { 'src/db/jobs.ts': { 'raw-sql': db + 2 }, 'app/api/users.py': { 'session-legacy-query': api }, [`${HOSTILE}/x.ts`]: { 'raw-sql': hostile } },
      keptFiles: { 'src/db/jobs.ts': { 'raw-sql': 2 } },
      filesScanned: 12,
      source: 'history',
      v: 1,
    });
  });
  const baseline: Baseline = {
    version: 1, recordedAt: points[0].date, commit: points[0].commit, rules: ['raw-sql', 'session-legacy-query', 'session-usage', 'sync-in-async', 'manual-transaction'],
    remaining: 31, kept: 2, perRule: {}, files: {},
  };
  return buildBurndown(points, { baseline, targetReduction: 0.75, now: new Date('2024-05-10T00:00:00Z') });
}

interface PageReport {
  violations: string[];
  errors: string[];
}

async function openChart(browser: Browser, data: BurndownData | null, opts: { dark?: boolean; width?: number } = {}): Promise<{ page: Page; report: PageReport }> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 980, height: 820 }, colorScheme: opts.dark ? 'dark' : 'light' });
  const page = await context.newPage();
  const report: PageReport = { violations: [], errors: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) report.errors.push(m.text());
  });
  page.on('pageerror', (e) => report.errors.push(String(e)));
  await page.exposeFunction('__reportViolation', (v: string) => report.violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: any) => {
      window.__reportViolation(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const html = burndownHtml({
    cspSource: ORIGIN,
    nonce: newNonce(),
    scriptUris: [`${ORIGIN}/uplot/uPlot.iife.min.js`, `${ORIGIN}/media/burndown.js`],
    styleUris: [`${ORIGIN}/uplot/uPlot.min.css`, `${ORIGIN}/media/burndown.css`],
    data,
    title: 'shop <svc>',
  });
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/index.html') return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html });
    const asset = ASSETS[url.pathname];
    if (!asset) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, contentType: asset.type, body: fs.readFileSync(asset.file) });
  });
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForSelector('body[data-rendered="true"]', { timeout: 15_000 });
  if (opts.dark) {
    // What VS Code does for a dark theme: variables on <html> (CSSOM, allowed by the CSP) and a body class.
    await page.evaluate(() => {
      const vars: Record<string, string> = {
        '--vscode-editor-background': '#1f1f1f', '--vscode-foreground': '#cccccc', '--vscode-descriptionForeground': '#9d9d9d',
        '--vscode-charts-foreground': '#cccccc', '--vscode-charts-lines': 'rgba(204,204,204,0.25)', '--vscode-charts-blue': '#3794ff',
        '--vscode-charts-green': '#89d185', '--vscode-charts-orange': '#d18616', '--vscode-charts-red': '#f14c4c',
        '--vscode-charts-purple': '#b180d7', '--vscode-charts-yellow': '#cca700', '--vscode-panel-border': '#2b2b2b',
        '--vscode-font-family': 'system-ui, sans-serif', '--vscode-font-size': '13px',
      };
      for (const [k, v] of Object.entries(vars)) document.documentElement.style.setProperty(k, v);
      document.body.classList.add('vscode-dark');
    });
    await page.waitForTimeout(200);
  }
  return { page, report };
}

/** Canvas pixels that are not transparent and not the page background. */
async function inkedPixels(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    let n = 0;
    for (const c of Array.from(document.querySelectorAll(`${sel} canvas`)) as any[]) {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    }
    return n;
  }, selector);
}

describe('burndown chart in Chromium', function () {
  this.timeout(90_000);
  let browser: Browser;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      if (/^(1|true|yes)$/i.test(process.env.CI ?? '')) throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`);
      this.skip();
    }
    fs.mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
  });

  it('draws the burndown with baseline, target, projection and the per-folder breakdown (dark theme)', async () => {
    const data = sampleData();
    assert.ok(data.projection?.completion, 'the sample has a projection');
    const { page, report } = await openChart(browser, data, { dark: true });
    assert.equal(await page.locator('#empty').isHidden(), true);
    assert.equal(await page.locator('#charts').isVisible(), true);
    assert.equal(await page.locator('#chart-total canvas').count(), 1);
    assert.equal(await page.locator('#chart-folders canvas').count(), 1);
    const box = await page.locator('#chart-total canvas').boundingBox();
    assert.ok(box && box.width > 600 && box.height > 200, JSON.stringify(box));
    assert.ok((await inkedPixels(page, '#chart-total')) > 2000, 'the total chart has lines on it');
    const legend = await page.locator('#chart-total .u-legend').innerText();
    for (const label of ['left to migrate', 'baseline', 'target', 'projection']) assert.ok(legend.includes(label), `${label} in legend: ${legend}`);
    const summary = await page.locator('#summary').innerText();
    assert.match(summary, /^\d+ left on 2024-05-06 · \d+% migrated since the baseline \(31, 2024-03-04\) · target 7 \(75% fewer\) · done by \d{4}-\d\d-\d\d at [\d.]+ per week/);
    // Workspace text is text: the hostile folder shows literally and injects nothing.
    const rows = await page.locator('#folder-table tbody tr').allInnerTexts();
    assert.equal(rows.length, 3);
    assert.ok(rows.some((r) => r.startsWith(HOSTILE)), rows.join('\n'));
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.locator('#title').innerText(), 'Migration burndown — shop <svc>');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(31, 31, 31)', 'the theme background is used');
    await page.screenshot({ path: path.join(SHOTS, 'burndown-dark.png'), fullPage: true });
    assert.deepEqual(report.violations, []);
    assert.deepEqual(report.errors, []);
    await page.context().close();
  });

  it('falls back to its own colours outside VS Code (light), and updates from a message', async () => {
    const { page, report } = await openChart(browser, sampleData(), { width: 760 });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(255, 255, 255)');
    assert.ok((await inkedPixels(page, '#chart-folders')) > 1000);
    await page.screenshot({ path: path.join(SHOTS, 'burndown-light.png'), fullPage: true });
    await page.evaluate(() => window.postMessage({ type: 'sqlmigrate.burndown', data: null }, '*'));
    await page.waitForSelector('#empty:not([hidden])');
    assert.equal(await page.locator('#charts').isHidden(), true);
    assert.deepEqual(report.violations, []);
    assert.deepEqual(report.errors, []);
    await page.context().close();
  });

  it('shows the empty state without data', async () => {
    for (const data of [null, buildBurndown([])]) {
      const { page, report } = await openChart(browser, data);
      assert.equal(await page.locator('#empty').isVisible(), true);
      assert.equal(await page.locator('#charts').isHidden(), true);
      assert.equal(await page.locator('canvas').count(), 0);
      assert.match(await page.locator('#empty').innerText(), /No history yet[\s\S]*sqlmigrate history/);
      assert.equal(await page.locator('#record-history').isVisible(), true);
      if (data === null) await page.screenshot({ path: path.join(SHOTS, 'burndown-empty.png'), fullPage: true });
      assert.deepEqual(report.violations, []);
      assert.deepEqual(report.errors, []);
      await page.context().close();
    }
  });

  it('a single point draws without errors', async () => {
    const one = sampleData();
    one.points = one.points.slice(0, 1);
    one.projection = null;
    const { page, report } = await openChart(browser, one);
    assert.equal(await page.locator('#chart-total canvas').count(), 1);
    // The baseline and target lines still span the chart (a day either side of the point): count
    // the target's green (the light fallback #388a34) on the canvas.
    const green = await page.evaluate(() => {
      const c = document.querySelector('#chart-total canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 0x38) < 24 && Math.abs(d[i + 1] - 0x8a) < 24 && Math.abs(d[i + 2] - 0x34) < 24 && d[i + 3] > 200) n++;
      return n as number;
    });
    assert.ok(green > 100, `target line pixels: ${green}`);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.violations, []);
    await page.context().close();
  });

  it('the HTML report renders its SVG trend chart under its own CSP', async () => {
    const repo = new TestRepo('sqlmigrate-report-browser-');
    try {
      repo.commit('start', '2024-02-01T10:00:00Z', {
        '.sqlmigrate.json': JSON.stringify({ target: { reduction: 0.5 } }),
        'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'DELETE FROM jobs WHERE id = $1', 'UPDATE jobs SET a = 1 WHERE id = $1', 'SELECT * FROM runs WHERE id = $1']),
        'app/health.ts': pgFile(['SELECT * FROM health WHERE id = $1', 'WITH x AS (SELECT 1) SELECT * FROM x WHERE 1 = $1']),
      });
      const { runBaselineCommand } = await import('../../server/src/ledger');
      await runBaselineCommand([repo.dir], { stdout: () => undefined, stderr: () => undefined });
      repo.commit('a', '2024-02-08T10:00:00Z', { 'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'DELETE FROM jobs WHERE id = $1', 'UPDATE jobs SET a = 1 WHERE id = $1']) });
      repo.commit('b', '2024-02-15T10:00:00Z', { 'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1']) });
      const { recordHistory } = await import('../../server/src/history');
      await recordHistory(repo.dir);
      const html = toReportHtml(await buildReport(repo.dir, { now: new Date('2024-02-16T00:00:00Z') }));
      const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.setContent(html);
      const svg = await page.locator('figure svg').boundingBox();
      assert.ok(svg && svg.width > 500 && svg.height > 200, JSON.stringify(svg));
      assert.ok((await page.locator('figure svg path.left').count()) === 1);
      await page.screenshot({ path: path.join(SHOTS, 'report-html.png'), fullPage: true });
      assert.deepEqual(errors, []);
      await context.close();
    } finally {
      repo.dispose();
    }
  });
});
