/**
 * End-to-end: "sqlmigrate: Show migration burndown" in a real VS Code, on the extension installed
 * from the packaged .vsix. Runs after extension.test.js (see ./index.ts), so the workspace has a
 * baseline recorded by then (7 left, target 75% from .sqlmigrate.json) and its history holds the
 * baseline's point.
 *
 * What the webview shows is read from the page itself: after each render the page posts what it
 * shows (empty state or charts, texts, legend, painted pixels of the chart's canvas) and the
 * hidden `sqlmigrate.burndownSnapshot` command returns it. The code-server runner adds the
 * workbench's view (tab title, palette, view title icon) and the screenshots.
 *
 * The history file is moved aside for the empty state and restored at the end.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BurndownSnapshot } from '../../../client/src/burndownPanel';
import type { SqlmigrateApi } from '../../../client/src/extension';
import { notes } from './index';
import type { UiRequest, UiResponse } from './protocol';

const EXTENSION_ID = 'sqlmigrate.sqlmigrate';

async function poll<T>(what: string, fn: () => T | undefined | false | PromiseLike<T | undefined | false>, timeoutMs = 30000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

let uiSeq = 0;
/** Asks the code-server runner to act on / read / screenshot the workbench; undefined under test-electron. */
async function ui(name: string, req: UiRequest = {}): Promise<UiResponse | undefined> {
  const dir = process.env.SQLMIGRATE_E2E_SIGNALS;
  if (!dir) return undefined;
  const id = `b${String(++uiSeq).padStart(2, '0')}-${name}`;
  fs.writeFileSync(path.join(dir, `${id}.request`), JSON.stringify({ screenshot: name, ...req }));
  const done = path.join(dir, `${id}.done`);
  await poll(`the runner to answer ${id}`, () => fs.existsSync(done), 45000);
  const res = JSON.parse(fs.readFileSync(done, 'utf8')) as UiResponse;
  if (res.error) throw new Error(`the runner could not do ${id}: ${res.error}`);
  return res;
}

const root = () => vscode.workspace.workspaceFolders![0].uri.fsPath;
const historyFile = () => path.join(root(), '.sqlmigrate', 'history.jsonl');
const snapshot = (waitForRenderMs?: number) => vscode.commands.executeCommand<BurndownSnapshot>('sqlmigrate.burndownSnapshot', waitForRenderMs ? { waitForRenderMs } : undefined);
const burndownTabs = () =>
  vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('sqlmigrate.burndown'));

const RULES = ['raw-sql', 'session-legacy-query', 'session-usage', 'sync-in-async', 'manual-transaction', 'exception-missing-reason'];
const counts = (raw: number) => Object.fromEntries(RULES.map((r) => [r, r === 'raw-sql' ? raw : 0]));

/** Eight weekly history points over the fixture's files, the last one a day ago: 12 → 6 left. */
function historyLines(): string[] {
  const left = [[8, 4], [7, 4], [7, 4], [6, 3], [5, 3], [5, 3], [4, 3], [3, 3]];
  const now = Date.now();
  return left.map(([users, jobs], i) => {
    const date = new Date(now - (left.length - i) * 7 * 86_400_000 + 6 * 86_400_000).toISOString();
    return JSON.stringify({
      commit: (0xc0ffee0 + i).toString(16).padStart(40, '0'),
      date,
      totals: counts(users + jobs + 1),
      files: { 'src/db/users.ts': { 'raw-sql': users }, 'app/api/jobs.py': { 'raw-sql': jobs }, 'src/routes/health.ts': { 'raw-sql': 1 } },
      kept: counts(1),
      keptFiles: { 'src/routes/health.ts': { 'raw-sql': 1 } },
      filesScanned: 6,
      source: 'history',
      v: 1,
    });
  });
}

describe('sqlmigrate burndown panel (packaged .vsix)', () => {
  let saved: string | null = null;

  before(async () => {
    const ext = vscode.extensions.getExtension<SqlmigrateApi>(EXTENSION_ID)!;
    await ext.activate();
    // extension.test.js may have opened the panel (its baseline case): start from none.
    for (const t of burndownTabs()) await vscode.window.tabGroups.close(t);
    await poll('no burndown panel open', async () => !(await snapshot()).open);
    saved = fs.existsSync(historyFile()) ? fs.readFileSync(historyFile(), 'utf8') : null;
  });

  after(async () => {
    for (const t of burndownTabs()) await vscode.window.tabGroups.close(t);
    if (saved === null) fs.rmSync(historyFile(), { force: true });
    else fs.writeFileSync(historyFile(), saved);
  });

  it('declares limited support in Restricted Mode and hides the write commands there', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    assert.equal(pkg.capabilities?.untrustedWorkspaces?.supported, 'limited');
    assert.match(pkg.capabilities.untrustedWorkspaces.description, /baseline/);
    const menus = pkg.contributes.menus;
    const viewTitle = menus['view/title'].find((m: { command: string }) => m.command === 'sqlmigrate.recordBaseline');
    assert.match(viewTitle.when, /isWorkspaceTrusted/);
    const palette = menus.commandPalette.find((m: { command: string }) => m.command === 'sqlmigrate.recordBaseline');
    assert.match(palette.when, /isWorkspaceTrusted/);
    assert.equal(vscode.workspace.isTrusted, true, 'the e2e workbench runs with workspace trust disabled (trusted)');
  });

  it('passes the scan cache folder to the server, which persists its per-file cache there', async () => {
    const a = vscode.extensions.getExtension<SqlmigrateApi>(EXTENSION_ID)!.exports;
    assert.ok(a.cacheDir.includes(EXTENSION_ID), `the cache is in the extension's storage: ${a.cacheDir}`);
    const files = await poll('a scan cache file', () => {
      const f = fs.existsSync(a.cacheDir) ? fs.readdirSync(a.cacheDir).filter((n) => /^scan-.*\.json$/.test(n)) : [];
      return f.length > 0 && f;
    });
    const cache = JSON.parse(fs.readFileSync(path.join(a.cacheDir, files[0]), 'utf8')) as { entries?: Record<string, unknown> };
    assert.ok(cache.entries && Object.keys(cache.entries).some((k) => k.endsWith('users.ts')), `cached files: ${Object.keys(cache.entries ?? {}).join(', ')}`);
  });

  it('shows the empty state when there is no history', async () => {
    fs.rmSync(historyFile(), { force: true });
    const opened = await vscode.commands.executeCommand<BurndownSnapshot>('sqlmigrate.showBurndown');
    assert.ok(opened?.open, 'the command opens the panel');
    const s = await poll('the page to render the empty state', async () => {
      const x = await snapshot();
      return x.rendered && x.readies >= 1 && x.rendered.empty && x;
    });
    assert.equal(s.points, 0);
    assert.equal(s.rendered!.chartsVisible, false);
    assert.equal(s.rendered!.canvases, 0, 'no chart is drawn');
    assert.equal(s.rendered!.button, true, 'the empty state offers to record the history');
    assert.equal(s.rendered!.summary, 'No points recorded yet.');
    assert.equal(s.rendered!.title, `Migration burndown — ${vscode.workspace.workspaceFolders![0].name}`);
    assert.match(s.rendered!.theme, /vscode-(light|dark|high-contrast)/, 'the page gets the VS Code theme');
    const shown = await ui('burndown-empty', { collect: '.tabs-container .tab', settleMs: 1500 });
    if (shown) assert.ok(shown.texts.some((t) => t.includes('Migration burndown')), `tabs: ${shown.texts.join(' | ')}`);
  });

  it('"Record history from git" on the empty state offers the CLI command (never runs it in the extension host)', async () => {
    // The panel has focus: Tab reaches the page's only control, Enter presses it.
    const clicked = await ui('burndown-record-history', { keys: ['Tab', 'Enter'], waitFor: '.notification-toast', collect: '.notification-toast', settleMs: 800 });
    if (!clicked) return; // test-electron: no runner to press keys
    assert.ok(clicked.texts.some((t) => t.includes('npx --no sqlmigrate history') && t.includes('Run in Terminal')), `notifications: ${clicked.texts.join(' | ')}`);
    const s = await poll('the button press to reach the extension', async () => {
      const x = await snapshot();
      return x.lastCommand === 'offered' && x;
    });
    assert.equal(s.rendered!.empty, true);
    assert.equal(vscode.window.terminals.filter((t) => t.name.startsWith('sqlmigrate history')).length, 0, 'nothing runs until the user chooses to');
    await vscode.commands.executeCommand('notifications.clearAll');
  });

  it('draws the chart when the history is written, without reopening the panel (file watcher)', async () => {
    const before = await snapshot();
    assert.ok(before.open && before.rendered?.empty);
    const lines = historyLines();
    fs.mkdirSync(path.dirname(historyFile()), { recursive: true });
    fs.writeFileSync(historyFile(), `${saved ?? ''}${saved && !saved.endsWith('\n') ? '\n' : ''}${lines.join('\n')}\n`);
    const s = await poll('the page to draw the chart', async () => {
      const x = await snapshot();
      return x.rendered && !x.rendered.empty && x.rendered.points >= lines.length && x.rendered.inked > 0 && x;
    });
    assert.equal(s.readies, before.readies, 'updated in place: the page was not reloaded');
    assert.ok(s.updates > before.updates, 'the data was posted to the page');
    assert.equal(s.rendered!.points, s.points, 'the page draws every point the extension sent');
    assert.equal(s.rendered!.chartsVisible, true);
    assert.deepEqual(s.rendered!.violations, [], 'no Content-Security-Policy violation in the webview');
    assert.ok(s.rendered!.canvases >= 2, `the total and per-folder charts: ${s.rendered!.canvases} canvases`);
    assert.ok(s.rendered!.inked > 200, `the chart's canvas is painted (${s.rendered!.inked} sampled pixels)`);
    assert.ok(s.rendered!.legend.includes('left to migrate'), `legend: ${s.rendered!.legend.join(', ')}`);
    assert.match(s.rendered!.summary, /^\d+ left on \d{4}-\d{2}-\d{2}/);
    assert.ok(s.rendered!.folderRows >= 2, `per-folder rows: ${s.rendered!.folderRows}`);
    // uPlot came from the package's dist/uplot/ (scripts/bundle.mjs): the .vsix has no node_modules.
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    assert.ok(fs.existsSync(path.join(ext.extensionPath, 'dist', 'uplot', 'uPlot.iife.min.js')));
    assert.ok(!fs.existsSync(path.join(ext.extensionPath, 'node_modules')));
    if (fs.existsSync(path.join(root(), '.sqlmigrate', 'baseline.json'))) {
      // Recorded by extension.test.js; .sqlmigrate.json asks for 75% fewer.
      assert.ok(s.rendered!.legend.includes('baseline') && s.rendered!.legend.includes('target'), `legend: ${s.rendered!.legend.join(', ')}`);
      assert.match(s.rendered!.summary, /migrated since the baseline/);
    }
    notes.push(`burndown: ${s.points} points (${s.source === 'server' ? 'from the language server' : 'read by the client'}); page: "${s.rendered!.summary}"`);
    const shown = await ui('burndown-vscode', { collect: '.tabs-container .tab', settleMs: 1500 });
    if (shown) assert.ok(shown.texts.some((t) => t.includes('Migration burndown')), `tabs: ${shown.texts.join(' | ')}`);
  });

  it('reveals the one panel again, and a hidden panel gets its data back when shown', async () => {
    const before = await snapshot();
    const users = vscode.Uri.file(path.join(root(), 'src', 'db', 'users.ts'));
    await vscode.window.showTextDocument(users, { viewColumn: vscode.ViewColumn.Active, preview: false });
    await poll('the panel to be hidden', async () => !(await snapshot()).visible);
    await vscode.commands.executeCommand('sqlmigrate.showBurndown');
    assert.equal(burndownTabs().length, 1, 'one burndown panel per window');
    const s = await poll('the page to be reloaded and draw again', async () => {
      const x = await snapshot();
      return x.visible && x.readies > before.readies && x.rendered && !x.rendered.empty && x.rendered.inked > 0 && x;
    });
    assert.equal(s.rendered!.points, before.rendered!.points, 'the same chart after being hidden');
  });

  it('is in the command palette and in the Migration progress view title', async () => {
    const shown = await ui('palette-burndown', { keys: ['F1'], type: 'migration burndown', waitFor: '.quick-input-widget .monaco-list-row', collect: '.quick-input-widget .monaco-list-row', keysAfter: ['Escape'] });
    if (shown) assert.ok(shown.texts.some((t) => t.includes('sqlmigrate: Show migration burndown')), `palette rows: ${shown.texts.join(' | ')}`);
    await vscode.commands.executeCommand('sqlmigrate.openProgress');
    const icon = await ui('progress-title-burndown', { collect: '.part.sidebar .action-label[aria-label^="Show migration burndown"]' });
    if (icon) assert.ok(icon.texts.length >= 1, 'the view title has the burndown icon');
  });
});
