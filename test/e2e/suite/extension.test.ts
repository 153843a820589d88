/**
 * End-to-end, inside a real VS Code extension host, against the `vscode` API, on the extension
 * installed from the packaged .vsix: activation, diagnostics for a TypeScript and a Python file,
 * hover, Explorer badges, the "Migration progress" tree and its counts after an edit, the
 * baseline, the status bar, the command palette, the quick-fix menu, every quick-fix family the
 * server offers (and undo), keeping a statement on purpose, the output channel, and the server
 * coming back after a kill and after the restart command.
 *
 * Waits poll for state. What only the workbench shows (palette entries, the quick-fix menu, tree
 * rows, status bar, squiggles) is read from the DOM by the code-server runner through `ui()`,
 * which also takes the screenshots; under @vscode/test-electron `ui()` answers undefined.
 *
 * Fixture: test/fixtures/workspace-basic — users.ts 4 raw (lines 5, 10, 14 dynamic, 19),
 * jobs.py 3 raw (7, 14, 21 dynamic), health.ts 1 kept on purpose; the runner adds the knex
 * instance the rewrites import (`rewrite.knex` → src/db/knex.ts, no SQL). The cases run in order
 * and each states the counts it leaves (a rewrite case undoes what it applied).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProgressResult, ServerInfo } from '../../../server/src/protocol';
import type { SqlmigrateApi } from '../../../client/src/extension';
import { notes } from './index';
import type { UiRequest, UiResponse } from './protocol';

interface Snapshot {
  data: ProgressResult | undefined;
  items: Array<{ label: string; description?: string; children?: Snapshot['items'] }>;
}

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
    await new Promise((r) => setTimeout(r, 100));
  }
}

let uiSeq = 0;
/**
 * Asks the runner to act on the workbench (keys), read it (collect) and take a screenshot; waits
 * for the answer. Undefined when no runner answers (test-electron).
 */
async function ui(name: string, req: UiRequest = {}): Promise<UiResponse | undefined> {
  const dir = process.env.SQLMIGRATE_E2E_SIGNALS;
  if (!dir) return undefined;
  const id = `${String(++uiSeq).padStart(2, '0')}-${name}`;
  fs.writeFileSync(path.join(dir, `${id}.request`), JSON.stringify({ screenshot: name, ...req }));
  const done = path.join(dir, `${id}.done`);
  await poll(`the runner to answer ${id}`, () => fs.existsSync(done), 45000);
  const res = JSON.parse(fs.readFileSync(done, 'utf8')) as UiResponse;
  if (res.error) throw new Error(`the runner could not do ${id}: ${res.error}`);
  return res;
}

const root = () => vscode.workspace.workspaceFolders![0].uri;
const file = (rel: string) => vscode.Uri.joinPath(root(), rel);
const ours = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'sqlmigrate');
const snapshot = () => vscode.commands.executeCommand<Snapshot>('sqlmigrate.treeSnapshot');
const statusText = () => vscode.commands.executeCommand<string>('sqlmigrate.statusText');
const serverInfo = () => vscode.commands.executeCommand<ServerInfo | undefined>('sqlmigrate.serverInfo');
const api = () => vscode.extensions.getExtension<SqlmigrateApi>(EXTENSION_ID)!.exports;
const codeActions = (uri: vscode.Uri, range: vscode.Range, kind = vscode.CodeActionKind.QuickFix.value) =>
  vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, range, kind, 20).then((a) => a ?? []);

function findItem(items: Snapshot['items'], label: string): Snapshot['items'][number] | undefined {
  for (const i of items) {
    if (i.label === label) return i;
    const inner = i.children && findItem(i.children, label);
    if (inner) return inner;
  }
  return undefined;
}

async function counts(remaining: number, kept: number, what: string): Promise<Snapshot> {
  let seen = 'nothing yet';
  try {
    return await poll(`${what}: ${remaining} left, ${kept} kept`, async () => {
      const s = await snapshot();
      seen = `${s.data?.state}: ${s.data?.folders[0]?.remaining} left, ${s.data?.folders[0]?.kept} kept`;
      return s.data?.state === 'ready' && s.data.folders[0]?.remaining === remaining && s.data.folders[0].kept === kept && s;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message} (last seen: ${seen})`);
  }
}

/**
 * The quick-fix families the suite covers. A family the server offers that is not listed here
 * fails "every quick-fix family the server offers has a case" below, so a new rewrite cannot
 * land without an end-to-end case.
 */
const COVERED_FAMILIES: Record<string, string> = {
  'Keep this statement on purpose…': 'keeps a statement on purpose through the quick fix (Python); undo of an applied quick fix (TypeScript)',
  'Show in migration progress': 'reveals a finding in the migration progress from its quick fix',
  'Rewrite with Knex': 'rewrites a pg call with the Knex quick fix (preferred) from the quick-fix menu; undo restores it',
  'Wrap in db.raw': 'wraps a pg call in db.raw() with its own quick fix; undo restores it',
  'Rewrite all verified statements in this file': 'rewrites every verified statement with "Rewrite all verified statements in this file"; undo restores them',
  'Rewrite in SQLAlchemy 2.0 style': 'rewrites a session.query() chain with the SQLAlchemy 2.0 quick fix; fix-all rewrites the rest; undo restores them',
  'Rewrite as db.transaction': 'rewrites a hand-written transaction as db.transaction(), whose statements get no rewrite of their own; undo restores it',
  'Run in a worker thread': 'moves a blocking call in async def to asyncio.to_thread with its quick fix; undo restores it',
  'Move to a repository': 'moves a pg call into a new repository file with its quick fix (CreateFile applied by VS Code); restoring the files restores the counts',
};

/**
 * Runs `body` on a file of its own (created with `text`), then empties it: VS Code keeps a closed
 * document open in the extension host for a while and an open document counts from its buffer,
 * so a deleted file would linger in the counts the other cases expect.
 */
async function withScratchFile(uri: vscode.Uri, text: string, body: (editor: vscode.TextEditor) => Promise<void>): Promise<void> {
  await vscode.workspace.fs.writeFile(uri, Buffer.from(text));
  try {
    await body(await vscode.window.showTextDocument(uri));
  } finally {
    const doc = await vscode.workspace.openTextDocument(uri);
    const empty = new vscode.WorkspaceEdit();
    empty.replace(uri, new vscode.Range(0, 0, doc.lineCount, 0), uri.fsPath.endsWith('.py') ? '"""Moved to the repository."""\n' : '// Moved to the repository.\n');
    await vscode.workspace.applyEdit(empty);
    await doc.save();
  }
}

/** The fix-all (source.fixAll) actions the suite covers, by title: anything else offered fails "fix-all … offered only with a case here". */
const COVERED_FIX_ALL: Record<string, string> = {
  'sqlmigrate: rewrite all verified statements with Knex': 'runs source.fixAll.sqlmigrate: every verified statement rewritten, the findings gone; undo restores them',
};

/**
 * The rewrites of users.ts the cases expect, as [before, after] snippets of the file (the
 * Knex chain layout is the shipped templates/knex one).
 */
const REWRITES = {
  import: ["import { Pool } from 'pg';\n", "import { Pool } from 'pg';\nimport { db } from './knex';\n"],
  findUserKnex: [
    "  const result = await pool.query('SELECT id, email, display_name FROM users WHERE id = $1', [id]);\n  return result.rows[0];",
    "  const result = await db('users')\n    .select('id', 'email', 'display_name')\n    .where('id', '=', id)\n    .first();\n  return result;",
  ],
  findUserRaw: [
    "  const result = await pool.query('SELECT id, email, display_name FROM users WHERE id = $1', [id]);\n  return result.rows[0];",
    "  const result = await db.raw('SELECT id, email, display_name FROM users WHERE id = :id', { id });\n  return result.rows[0];",
  ],
  teamsKnex: [
    "  const result = await pool.query(\n    'SELECT t.id, t.name, count(u.id) AS members FROM teams t LEFT JOIN users u ON u.team_id = t.id GROUP BY t.id, t.name',\n  );\n  return result.rows;",
    "  const result = await db('teams as t')\n    .select('t.id', 't.name')\n    .count('u.id as members')\n    .leftJoin('users as u', 'u.team_id', 't.id')\n    .groupBy('t.id', 't.name');\n  return result;",
  ],
} satisfies Record<string, [string, string]>;

/** `text` with each [before, after] applied; every `before` must occur exactly once. */
function rewritten(text: string, ...pairs: Array<[string, string]>): string {
  for (const [from, to] of pairs) {
    assert.equal(text.split(from).length, 2, `exactly one occurrence of:\n${from}`);
    text = text.replace(from, () => to);
  }
  return text;
}

/** Undoes until the document is back to `before` (at most 5 steps), then checks it is. */
async function undoTo(editor: vscode.TextEditor, before: string): Promise<void> {
  await vscode.window.showTextDocument(editor.document);
  for (let i = 0; i < 5 && editor.document.getText() !== before; i++) await vscode.commands.executeCommand('undo');
  assert.equal(editor.document.getText(), before, 'undo restored the file');
}

const codeOf = (d: vscode.Diagnostic) => (typeof d.code === 'object' ? d.code.value : d.code);
const familyOf = (title: string) =>
  title.startsWith('Keep this statement on purpose')
    ? 'Keep this statement on purpose…'
    : /^(Use \w+Repository\.|Move to \w+Repository\.|Move this statement to the repository)/.test(title)
      ? 'Move to a repository'
      : title.replace(/\s*[:(].*$/, '');

describe('sqlmigrate in VS Code (packaged .vsix)', () => {
  const users = () => file('src/db/users.ts');
  const jobs = () => file('app/api/jobs.py');
  const health = () => file('src/routes/health.ts');

  it('is installed from the packaged .vsix: bundles, grammar .wasm and data files, no sources', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, 'the extension is installed');
    const dir = ext.extensionPath;
    const extensionsDir = process.env.SQLMIGRATE_E2E_EXTENSIONS_DIR;
    if (extensionsDir) assert.ok(dir.startsWith(extensionsDir), `${dir} is in the extensions folder the .vsix was installed into`);
    assert.equal(ext.packageJSON.main, './dist/extension.js');
    for (const f of ['dist/extension.js', 'dist/server.js', 'dist/web-tree-sitter.wasm', 'dist/tree-sitter-python.wasm', 'templates/knex/chain.liquid', 'templates/knex/import-esm.liquid', 'docs/rules/raw-sql.md', 'schemas/sqlmigrate.schema.json', 'client/media/sqlmigrate.svg']) {
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} is shipped`);
    }
    for (const f of ['out', 'node_modules', 'test', 'server/src', 'client/src', 'tsconfig.json']) {
      assert.ok(!fs.existsSync(path.join(dir, f)), `${f} is not shipped`);
    }
    const events: string[] = ext.packageJSON.activationEvents;
    assert.ok(!events.includes('*') && !events.includes('onStartupFinished'), `lazy activation events: ${events.join(', ')}`);
    assert.ok(events.includes('workspaceContains:.sqlmigrate.json') && events.includes('onLanguage:python') && events.includes('onView:sqlmigrate.progress'));
  });

  it('activates without blocking, starts the bundled server and scans the workspace in it', async () => {
    const ext = vscode.extensions.getExtension<SqlmigrateApi>(EXTENSION_ID)!;
    await ext.activate();
    const a = ext.exports;
    assert.match(a.serverModule.replace(/\\/g, '/'), /\/dist\/server\.js$/, 'the server runs from the bundle');
    const info = await poll('the server to answer', () => serverInfo());
    assert.ok(info.pid > 0 && info.pid !== process.pid, 'the server is its own process');
    const t = await poll('the first finished scan', () => a.activation.firstReadyMs !== undefined && a.activation);
    assert.ok(t.activateMs !== undefined && t.serverRunningMs !== undefined);
    assert.ok(t.activateMs <= t.serverRunningMs!, 'activate() returns before the server is up');
    assert.ok(t.activateMs < 1000, `activate() took ${t.activateMs} ms`);
    const line = `activation: activate() returned after ${t.activateMs} ms; server running after ${t.serverRunningMs} ms; first workspace scan ready after ${t.firstReadyMs} ms (from the start of activate())`;
    notes.push(line);
    console.log(line);
  });

  it('shows diagnostics (squiggles) for a TypeScript file', async () => {
    await vscode.window.showTextDocument(users());
    const diags = await poll('sqlmigrate diagnostics in users.ts', () => ours(users()).length === 4 && ours(users()));
    assert.deepEqual(diags.map((d) => d.range.start.line), [5, 10, 14, 19]);
    assert.ok(diags.every((d) => (typeof d.code === 'object' ? d.code.value : d.code) === 'raw-sql'));
    const dynamic = diags.find((d) => d.range.start.line === 14)!;
    assert.equal(dynamic.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(dynamic.message, /injection risk/);
    const code = dynamic.code as { value: string; target: vscode.Uri };
    assert.ok(code.target && fs.existsSync(code.target.fsPath), 'the rule page link points at the shipped docs/rules/raw-sql.md');
    const shown = await ui('editor-typescript', { waitFor: '.monaco-editor .squiggly-warning', collect: '.monaco-editor .squiggly-warning, .monaco-editor .squiggly-info' });
    if (shown) assert.ok(shown.texts.length >= 4, `squiggles drawn: ${shown.texts.length}`);
  });

  it('shows the statement on hover', async () => {
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', users(), new vscode.Position(5, 40));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
    assert.match(text, /FROM users/);
    const editor = vscode.window.activeTextEditor!;
    editor.selection = new vscode.Selection(5, 40, 5, 40);
    await vscode.commands.executeCommand('editor.action.showHover');
    const shown = await ui('editor-hover', { waitFor: '.monaco-hover', collect: '.monaco-hover', keysAfter: ['Escape'] });
    if (shown) assert.match(shown.texts.join('\n'), /users/);
  });

  it('shows diagnostics for a Python file (tree-sitter grammar loaded from the bundle)', async () => {
    await vscode.window.showTextDocument(jobs());
    const diags = await poll('sqlmigrate diagnostics in jobs.py', () => ours(jobs()).length === 3 && ours(jobs()));
    assert.deepEqual(diags.map((d) => d.range.start.line), [7, 14, 21]);
    assert.match(diags[2].message, /injection risk/);
    await ui('editor-python');
  });

  it('puts badges with the statements left on files in the Explorer', async () => {
    const deco = api().decorations;
    await poll('badges', () => deco.provideFileDecoration(users())?.badge === '4');
    assert.equal(deco.provideFileDecoration(jobs())?.badge, '3');
    assert.match(deco.provideFileDecoration(jobs())?.tooltip ?? '', /3 raw SQL statements left/);
    assert.equal(deco.provideFileDecoration(health()), undefined, 'a file with only kept statements has no badge');
    await vscode.commands.executeCommand('workbench.view.explorer');
    await vscode.commands.executeCommand('revealInExplorer', users());
    await ui('explorer-badges');
  });

  it('fills the Migration progress tree (API and the rendered rows)', async () => {
    const snap = await counts(7, 1, 'the tree after the scan');
    assert.equal(snap.items[0].label, '7 left · no baseline yet');
    assert.equal(findItem(snap.items, 'src/db')?.description, '1 file · 4 raw');
    assert.equal(findItem(snap.items, 'users.ts')?.description, '4 raw');
    assert.equal(findItem(snap.items, 'jobs.py')?.description, '3 raw');
    assert.equal(findItem(snap.items, 'health.ts')?.description, '0 raw · 1 kept');
    await vscode.commands.executeCommand('sqlmigrate.openProgress');
    const shown = await ui('sidebar', { waitFor: '.part.sidebar .monaco-list-row', collect: '.part.sidebar .monaco-list-row' });
    if (shown) assert.ok(shown.texts.some((t) => t.includes('7 left')), `tree rows: ${shown.texts.join(' | ')}`);
  });

  it('records a baseline', async () => {
    const r = await vscode.commands.executeCommand<{ ok: boolean }>('sqlmigrate.recordBaseline', { force: false });
    assert.ok(r?.ok, JSON.stringify(r));
    const saved = JSON.parse(fs.readFileSync(path.join(root().fsPath, '.sqlmigrate', 'baseline.json'), 'utf8')) as { remaining?: number; totals?: { remaining?: number } };
    assert.ok(saved, 'baseline.json is JSON');
    const snap = await snapshot();
    assert.equal(snap.items[0].label, '0% migrated · 7 left');
    assert.equal(snap.data!.folders[0].baseline?.remaining, 7);
    const all = await vscode.commands.getCommands(true);
    const burndown = all.find((c) => /^sqlmigrate\..*burndown/i.test(c));
    if (burndown) {
      // #7: the burndown view, once it exists.
      await vscode.commands.executeCommand(burndown);
      await ui('burndown', { settleMs: 2000 });
    }
  });

  it('shows the progress in the status bar', async () => {
    await poll('the status bar with the baseline', async () => (await statusText()) === '$(database) SQL 0% · 7 left');
    const shown = await ui('status-bar', { collect: '.part.statusbar .statusbar-item' });
    if (shown) assert.ok(shown.texts.some((t) => /SQL 0% · 7 left/.test(t)), `status bar items: ${shown.texts.join(' | ')}`);
  });

  it('lists its commands in the command palette', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    const contributed: Array<{ command: string; title: string }> = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands;
    for (const c of contributed) assert.ok(all.has(c.command), `${c.command} is registered`);
    const shown = await ui('command-palette', { keys: ['F1'], type: 'sqlmigrate', waitFor: '.quick-input-widget .monaco-list-row', collect: '.quick-input-widget .monaco-list-row', keysAfter: ['Escape'] });
    if (shown) {
      const rows = shown.texts.join('\n');
      for (const title of ['sqlmigrate: Record baseline', 'sqlmigrate: Restart the language server', 'sqlmigrate: Show migration progress', 'sqlmigrate: Show output']) {
        assert.ok(rows.includes(title), `"${title}" in the palette:\n${rows}`);
      }
      assert.ok(!rows.includes('Tree snapshot (tests)'), 'test-only commands are hidden from the palette');
    }
  });

  it('opens the quick-fix menu on a finding', async () => {
    const editor = await vscode.window.showTextDocument(users(), { preserveFocus: false });
    editor.selection = new vscode.Selection(14, 40, 14, 40);
    await poll('diagnostics in users.ts', () => ours(users()).length === 4);
    await vscode.commands.executeCommand('editor.action.quickFix');
    const shown = await ui('quick-fix-menu', { waitFor: '.action-widget', collect: '.action-widget .monaco-list-row', keysAfter: ['Escape'] });
    if (shown) {
      const rows = shown.texts.join('\n');
      assert.ok(rows.includes('Keep this statement on purpose…'), `menu rows:\n${rows}`);
      assert.ok(rows.includes('Show in migration progress'), `menu rows:\n${rows}`);
    }
  });

  it('updates the diagnostics, the tree, the badges and the status bar after an edit', async () => {
    const doc = await vscode.workspace.openTextDocument(users());
    const line = doc.lineAt(10);
    assert.match(line.text, /UPDATE users/);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(users(), line.range, '  await users.update(id, { displayName: name });');
    assert.ok(await vscode.workspace.applyEdit(edit));
    await poll('3 diagnostics in users.ts', () => ours(users()).length === 3);
    const snap = await counts(6, 1, 'the tree after the edit');
    assert.equal(snap.items[0].label, '14% migrated · 6 left');
    assert.equal(findItem(snap.items, 'users.ts')?.description, '3 raw · 25%');
    assert.equal(snap.data!.folders[0].files.find((f) => f.path === 'src/db/users.ts')?.status, 'in-progress');
    await poll('the badge after the edit', () => api().decorations.provideFileDecoration(users())?.badge === '3');
    await poll('the status bar after the edit', async () => (await statusText()) === '$(database) SQL 14% · 6 left');
    await vscode.commands.executeCommand('sqlmigrate.openProgress');
    const shown = await ui('sidebar-after-edit', { collect: '.part.sidebar .monaco-list-row' });
    if (shown) assert.ok(shown.texts.some((t) => t.includes('14% migrated')), `tree rows: ${shown.texts.join(' | ')}`);
  });

  it('undo of an applied quick fix restores the file and the counts (TypeScript)', async () => {
    const editor = await vscode.window.showTextDocument(users());
    const before = editor.document.getText();
    const target = ours(users()).find((d) => d.range.start.line === 19)!;
    assert.ok(target, 'the finding on line 19');
    const actions = await codeActions(users(), target.range);
    const keep = actions.find((a) => a.title === 'Keep this statement on purpose…');
    assert.ok(keep?.edit, actions.map((a) => a.title).join(', '));
    assert.ok(await vscode.workspace.applyEdit(keep.edit));
    assert.match(editor.document.lineAt(19).text, /^\s*\/\/ sqlmigrate-keep: <reason>$/);
    // The placeholder is no reason: until it is replaced the comment keeps nothing.
    await poll('exception-missing-reason on the placeholder', () => ours(users()).some((d) => (typeof d.code === 'object' ? d.code.value : d.code) === 'exception-missing-reason'));
    const reason = new vscode.WorkspaceEdit();
    const at = editor.document.lineAt(19).text.indexOf('<reason>');
    reason.replace(users(), new vscode.Range(19, at, 19, at + '<reason>'.length), 'a report query the ORM cannot express');
    assert.ok(await vscode.workspace.applyEdit(reason));
    await counts(5, 2, 'the statement kept by the applied quick fix');
    await vscode.window.showTextDocument(editor.document);
    for (let i = 0; i < 5 && editor.document.getText() !== before; i++) await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), before, 'undo restored the file');
    await counts(6, 1, 'the counts after undo');
    await poll('the diagnostic back to raw', () => ours(users()).find((d) => d.range.start.line === 19)?.severity === vscode.DiagnosticSeverity.Information);
  });

  it('groups the tree by status and by rule, and shows remaining only', async () => {
    await vscode.commands.executeCommand('sqlmigrate.groupByStatus');
    let snap = await snapshot();
    assert.deepEqual(snap.items.slice(1).map((i) => [i.label, i.description]), [
      ['Not started', '1 file · 3 raw'],
      ['In progress', '1 file · 3 raw'],
      ['Kept on purpose', '1 file · 0 raw · 1 kept'],
    ]);
    await vscode.commands.executeCommand('sqlmigrate.groupByRule');
    snap = await snapshot();
    assert.deepEqual(snap.items.slice(1).map((i) => [i.label, i.description]), [
      ['raw-sql', '2 files · 6 left'],
      ['kept on purpose', '1 file · 1 kept'],
    ]);
    await vscode.commands.executeCommand('sqlmigrate.showRemainingOnly');
    snap = await snapshot();
    assert.deepEqual(snap.items.slice(1).map((i) => i.label), ['raw-sql']);
    assert.equal(findItem(snap.items, 'health.ts'), undefined);
    await ui('sidebar-by-rule');
    await vscode.commands.executeCommand('sqlmigrate.showAll');
    await vscode.commands.executeCommand('sqlmigrate.groupByFolder');
    snap = await snapshot();
    assert.ok(findItem(snap.items, 'health.ts'));
  });

  it('keeps a statement on purpose through the quick fix (Python)', async () => {
    const editor = await vscode.window.showTextDocument(jobs());
    const range = ours(jobs())[0].range;
    const actions = await codeActions(jobs(), range);
    const keep = actions.find((a) => a.title === 'Keep this statement on purpose…');
    assert.ok(keep?.edit, actions.map((a) => a.title).join(', '));
    assert.ok(await vscode.workspace.applyEdit(keep.edit));
    if (keep.command) await vscode.commands.executeCommand(keep.command.command, ...(keep.command.arguments ?? []));
    assert.equal(editor.document.lineAt(7).text, '    # sqlmigrate-keep: <reason>');
    assert.equal(editor.document.getText(editor.selection), '<reason>', 'the placeholder is selected, ready to type over');
    await editor.edit((b) => b.replace(editor.selection, 'the CLI tool reads jobs without the ORM'));
    await counts(5, 2, 'the kept statement counted apart');
    await poll('the kept diagnostic as a hint', () => ours(jobs()).find((d) => d.range.start.line === 8)?.severity === vscode.DiagnosticSeverity.Hint);
    assert.ok(await editor.document.save());
  });

  it('reveals a finding in the migration progress from its quick fix', async () => {
    const target = ours(users()).find((d) => d.range.start.line === 5)!;
    const show = (await codeActions(users(), target.range)).find((a) => a.title === 'Show in migration progress');
    assert.ok(show?.command, 'the action runs a command');
    await vscode.commands.executeCommand(show.command.command, ...(show.command.arguments ?? []));
    const shown = await ui('sidebar-reveal', { collect: '.part.sidebar .monaco-list-row.selected' });
    if (shown) assert.ok(shown.texts.length === 1 && /SELECT|users/i.test(shown.texts[0]), `selected row: ${shown.texts.join(' | ')}`);
  });

  it('rewrites a pg call with the Knex quick fix (preferred) from the quick-fix menu; undo restores it', async () => {
    const editor = await vscode.window.showTextDocument(users());
    const before = editor.document.getText();
    await poll('3 diagnostics in users.ts', () => ours(users()).length === 3);
    const target = ours(users()).find((d) => d.range.start.line === 5)!;
    assert.ok(target, 'the finding on line 5');
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', users(), new vscode.Position(5, 40));
    const hover = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
    assert.match(hover, /Rewrite with Knex available \(verified\)/);
    assert.match(hover, /select "id", "email", "display_name" from "users" where "id" = \$1 limit \$2/);

    // The menu as a person sees it: the rewrite first (preferred), db.raw() as its own entry.
    editor.selection = new vscode.Selection(5, 40, 5, 40);
    await vscode.commands.executeCommand('editor.action.quickFix');
    const shown = await ui('quick-fix-rewrite-menu', { waitFor: '.action-widget', collect: '.action-widget .monaco-list-row', keysAfter: ['Escape'] });
    if (shown) {
      const rows = shown.texts.map((t) => t.trim());
      const at = (title: string) => rows.findIndex((r) => r.includes(title));
      assert.ok(at('Rewrite with Knex') >= 0, `menu rows:\n${rows.join('\n')}`);
      assert.ok(at('Wrap in db.raw() (SQL kept, values bound by name)') > at('Rewrite with Knex'), `menu rows:\n${rows.join('\n')}`);
      assert.ok(at('Rewrite all verified statements in this file') >= 0, `menu rows:\n${rows.join('\n')}`);
      assert.ok(at('Keep this statement on purpose…') >= 0, `menu rows:\n${rows.join('\n')}`);
    }

    const actions = await codeActions(users(), target.range);
    const knex = actions.find((a) => a.title === 'Rewrite with Knex');
    assert.ok(knex?.edit, actions.map((a) => a.title).join(', '));
    assert.equal(knex.isPreferred, true);
    assert.equal(knex.kind?.value, 'quickfix');
    assert.ok(await vscode.workspace.applyEdit(knex.edit));
    assert.equal(editor.document.getText(), rewritten(before, REWRITES.import, REWRITES.findUserKnex));
    // Re-analysed: the rewritten statement is no finding any more (the others moved down a line).
    await poll('2 diagnostics after the rewrite', () => ours(users()).length === 2 && ours(users()));
    assert.deepEqual(ours(users()).map((d) => d.range.start.line), [18, 23]);
    await counts(4, 2, 'the counts after the rewrite');
    await undoTo(editor, before);
    await counts(5, 2, 'the counts after undo');
  });

  it('wraps a pg call in db.raw() with its own quick fix; undo restores it', async () => {
    const editor = await vscode.window.showTextDocument(users());
    const before = editor.document.getText();
    const target = ours(users()).find((d) => d.range.start.line === 5)!;
    const wrap = (await codeActions(users(), target.range)).find((a) => a.title === 'Wrap in db.raw() (SQL kept, values bound by name)');
    assert.ok(wrap?.edit, 'offered, with its edit');
    assert.notEqual(wrap.isPreferred, true, 'never the preferred fix');
    assert.ok(await vscode.workspace.applyEdit(wrap.edit));
    assert.equal(editor.document.getText(), rewritten(before, REWRITES.import, REWRITES.findUserRaw));
    await undoTo(editor, before);
    // db.raw() keeps the statement a finding: wait for the lines of the undone text, not only the count.
    await poll('the 3 diagnostics back on their lines after undo', () => ours(users()).map((d) => d.range.start.line).sort((a, b) => a - b).join() === '5,14,19');
  });

  it('moves a pg call into a new repository file with its quick fix (CreateFile applied by VS Code); restoring the files restores the counts', async () => {
    const editor = await vscode.window.showTextDocument(users());
    const before = editor.document.getText();
    const target = await poll('the finding on line 6', () => ours(users()).find((d) => d.range.start.line === 5));
    const actions = await codeActions(users(), target.range);
    const move = actions.find((a) => a.title === 'Use userRepository.findById() (new src/repositories/userRepository.ts)');
    assert.ok(move?.edit, actions.map((a) => a.title).join(', '));
    assert.notEqual(move.isPreferred, true, 'the Knex rewrite stays the preferred fix');
    const repoUri = file('src/repositories/userRepository.ts');
    assert.ok(await vscode.workspace.applyEdit(move.edit));
    try {
      assert.equal(
        editor.document.getText(),
        rewritten(
          before,
          ["import { Pool } from 'pg';\n", "import { Pool } from 'pg';\nimport { userRepository } from '../repositories/userRepository';\n"],
          [REWRITES.findUserKnex[0], '  const result = await userRepository.findById(id);\n  return result;'],
        ),
      );
      const repo = await vscode.workspace.openTextDocument(repoUri);
      assert.match(repo.getText(), /export class UserRepository \{[\s\S]*async findById\(id: Knex\.Value\) \{\n    return this\.db\('users'\)\.select\('id', 'email', 'display_name'\)\.where\('id', '=', id\)\.first\(\);/);
      assert.match(repo.getText(), /^export const userRepository = new UserRepository\(db\);$/m);
      await repo.save();
      await poll('2 diagnostics after the move', () => ours(users()).length === 2);
      await counts(4, 2, 'the counts after the move');
    } finally {
      const restore = new vscode.WorkspaceEdit();
      restore.replace(users(), new vscode.Range(0, 0, editor.document.lineCount, 0), before);
      restore.deleteFile(repoUri, { ignoreIfNotExists: true });
      assert.ok(await vscode.workspace.applyEdit(restore));
      await editor.document.save();
    }
    assert.equal(editor.document.getText(), before);
    await poll('the 3 diagnostics back on their lines', () => ours(users()).map((d) => d.range.start.line).sort((a, b) => a - b).join() === '5,14,19');
    await counts(5, 2, 'the counts after restoring');
  });

  it('rewrites every verified statement with "Rewrite all verified statements in this file"; undo restores them', async () => {
    const editor = await vscode.window.showTextDocument(users());
    const before = editor.document.getText();
    const target = await poll('the finding on line 20', () => ours(users()).find((d) => d.range.start.line === 19));
    const all = (await codeActions(users(), target.range)).find((a) => a.title === 'Rewrite all verified statements in this file');
    assert.ok(all?.edit, 'offered, with its edit');
    assert.ok(await vscode.workspace.applyEdit(all.edit));
    assert.equal(editor.document.getText(), rewritten(before, REWRITES.import, REWRITES.findUserKnex, REWRITES.teamsKnex));
    // What is left is the statement built at run time, which is never rewritten.
    await poll('only the dynamic statement left', () => ours(users()).length === 1 && /injection risk/.test(ours(users())[0].message));
    await counts(3, 2, 'the counts after rewriting all');
    await undoTo(editor, before);
    await counts(5, 2, 'the counts after undo');
  });

  it('runs source.fixAll.sqlmigrate: every verified statement rewritten, the findings gone; undo restores them', async () => {
    const editor = await vscode.window.showTextDocument(users());
    const before = editor.document.getText();
    await poll('3 diagnostics in users.ts', () => ours(users()).length === 3);
    // The way editor.codeActionsOnSave runs it: the kind, applied through the editor (resolve included).
    await vscode.commands.executeCommand('editor.action.codeAction', { kind: 'source.fixAll.sqlmigrate', apply: 'first' });
    const expected = rewritten(before, REWRITES.import, REWRITES.findUserKnex, REWRITES.teamsKnex);
    await poll('the file rewritten by source.fixAll.sqlmigrate', () => editor.document.getText() === expected);
    await poll('only the dynamic statement left', () => ours(users()).length === 1 && codeOf(ours(users())[0]) === 'raw-sql' && /injection risk/.test(ours(users())[0].message));
    await counts(3, 2, 'the counts after fix-all');
    await ui('after-fix-all');
    await undoTo(editor, before);
    await counts(5, 2, 'the counts after undo');
  });

  it('rewrites a session.query() chain with the SQLAlchemy 2.0 quick fix; fix-all rewrites the rest; undo restores them', async () => {
    // A file of its own (created, then emptied), so the counts the other cases expect stay.
    const reports = file('app/api/reports.py');
    const before = [
      'from sqlalchemy.orm import Session',
      '',
      'from app.models import Job',
      '',
      '',
      'def running(session: Session) -> int:',
      '    return session.query(Job).filter_by(status="running").count()',
      '',
      '',
      'def newest(session: Session):',
      '    return session.query(Job).order_by(Job.id.desc()).first()',
      '',
    ].join('\n');
    await withScratchFile(reports, before, async (editor) => {
      await poll('2 session-legacy-query diagnostics in reports.py', () => ours(reports).filter((d) => codeOf(d) === 'session-legacy-query').length === 2);
      const target = ours(reports).find((d) => d.range.start.line === 6)!;
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', reports, new vscode.Position(6, 20));
      const hover = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
      assert.match(hover, /Rewrite in SQLAlchemy 2\.0 style available \(verified/);
      const fix = (await codeActions(reports, target.range)).find((a) => a.title === 'Rewrite in SQLAlchemy 2.0 style');
      assert.ok(fix?.edit, 'offered, with its edit');
      assert.equal(fix.isPreferred, true);
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      const count = '    return session.execute(select(func.count()).select_from(Job).filter_by(status="running")).scalar_one()';
      const imports = 'from sqlalchemy import select, func\nfrom sqlalchemy.orm import Session';
      assert.equal(editor.document.getText(), before.replace('from sqlalchemy.orm import Session', imports).replace('    return session.query(Job).filter_by(status="running").count()', count));
      await poll('1 legacy query left', () => ours(reports).filter((d) => codeOf(d) === 'session-legacy-query').length === 1);
      await undoTo(editor, before);
      await poll('2 legacy queries after undo', () => ours(reports).filter((d) => codeOf(d) === 'session-legacy-query').length === 2);
      // Fix-all: both chains, one import line.
      await vscode.commands.executeCommand('editor.action.codeAction', { kind: 'source.fixAll.sqlmigrate', apply: 'first' });
      await poll('no legacy query left after fix-all', () => ours(reports).filter((d) => codeOf(d) === 'session-legacy-query').length === 0);
      const after = editor.document.getText();
      assert.ok(after.includes(count) && after.includes(imports) && !after.includes('session.query('), after);
      await undoTo(editor, before);
    });
    await counts(5, 2, 'the counts once reports.py holds no query');
  });

  it('rewrites a hand-written transaction as db.transaction(), whose statements get no rewrite of their own; undo restores it', async () => {
    const transfer = file('src/db/transfer.ts');
    const before = [
      "import { Pool } from 'pg';",
      '',
      'const pool = new Pool();',
      '',
      'export async function transfer(from: number, to: number, cents: number): Promise<void> {',
      '  const client = await pool.connect();',
      '  try {',
      "    await client.query('BEGIN');",
      "    await client.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [cents, from]);",
      "    await client.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [cents, to]);",
      "    await client.query('COMMIT');",
      '  } catch (err) {',
      "    await client.query('ROLLBACK');",
      '    throw err;',
      '  } finally {',
      '    client.release();',
      '  }',
      '}',
      '',
    ].join('\n');
    await withScratchFile(transfer, before, async (editor) => {
      const tx = await poll('the manual-transaction diagnostic', () => ours(transfer).find((d) => codeOf(d) === 'manual-transaction'));
      const inside = ours(transfer).filter((d) => codeOf(d) === 'raw-sql');
      assert.equal(inside.length, 2);
      for (const d of inside) {
        const titles = (await codeActions(transfer, d.range)).map((a) => a.title);
        assert.ok(!titles.some((t) => /^Rewrite with Knex|^Wrap in db\.raw/.test(t)), `a statement inside the transaction was offered: ${titles.join(', ')}`);
      }
      const fix = (await codeActions(transfer, tx.range)).find((a) => a.title.startsWith('Rewrite as db.transaction()'));
      assert.ok(fix?.edit, 'offered, with its edit');
      assert.equal(fix.isPreferred, true);
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      const after = editor.document.getText();
      assert.ok(after.includes("import { db } from './knex';") && after.includes('await db.transaction(async (trx) => {') && after.includes('trx.raw('), after);
      assert.ok(!/client\.query\('(BEGIN|COMMIT|ROLLBACK)'\)/.test(after) && !after.includes('client.release()'), after);
      await poll('no manual transaction left', () => !ours(transfer).some((d) => codeOf(d) === 'manual-transaction'));
      await undoTo(editor, before);
      await poll('the manual transaction back after undo', () => ours(transfer).some((d) => codeOf(d) === 'manual-transaction'));
    });
    await counts(5, 2, 'the counts once transfer.ts holds no transaction');
  });

  it('moves a blocking call in async def to asyncio.to_thread with its quick fix; undo restores it', async () => {
    const worker = file('app/api/worker.py');
    const call = '    return db.execute(select(Job.name)).scalars().all()';
    const before = ['from sqlalchemy import select', 'from sqlalchemy.orm import Session', '', 'from app.models import Job', '', '', 'async def names(db: Session):', call, ''].join('\n');
    await withScratchFile(worker, before, async (editor) => {
      const blocking = await poll('the sync-in-async diagnostic', () => ours(worker).find((d) => codeOf(d) === 'sync-in-async'));
      const fix = (await codeActions(worker, blocking.range)).find((a) => a.title === 'Run in a worker thread (asyncio.to_thread)');
      assert.ok(fix?.edit, 'offered, with its edit');
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      assert.equal(editor.document.getText(), `import asyncio\n\n${before.replace(call, '    return await asyncio.to_thread(lambda: db.execute(select(Job.name)).scalars().all())')}`);
      await poll('the blocking call gone', () => !ours(worker).some((d) => codeOf(d) === 'sync-in-async'));
      await undoTo(editor, before);
      await poll('the blocking call back after undo', () => ours(worker).some((d) => codeOf(d) === 'sync-in-async'));
    });
    await counts(5, 2, 'the counts once worker.py holds no call');
  });

  // Quick-fix families. Every family the server offers (Knex and SQLAlchemy rewrites, keep, show)
  // needs a case of its own in COVERED_FAMILIES (apply → file contents → undo), next to the ones
  // above; otherwise this case fails.
  it('every quick-fix family the server offers has a case (Knex / SQLAlchemy rewrites: add cases here)', async () => {
    const offered = new Map<string, string>();
    for (const uri of [users(), jobs()]) {
      for (const d of ours(uri)) for (const a of await codeActions(uri, d.range)) offered.set(familyOf(a.title), `${path.basename(uri.fsPath)}:${d.range.start.line + 1}`);
    }
    assert.ok(offered.has('Keep this statement on purpose…'));
    const uncovered = [...offered.keys()].filter((f) => !(f in COVERED_FAMILIES));
    assert.deepEqual(uncovered, [], `quick-fix families without an end-to-end case: ${uncovered.map((f) => `"${f}" (${offered.get(f)})`).join(', ')} — add cases to test/e2e/suite/extension.test.ts`);
    notes.push(`quick-fix families offered: ${[...offered.keys()].join('; ')}`);
  });

  it('fix-all (source.fixAll): offered only with a case here', async () => {
    const offered = new Set<string>();
    for (const uri of [users(), jobs()]) {
      const doc = await vscode.workspace.openTextDocument(uri);
      const whole = new vscode.Range(0, 0, doc.lineCount, 0);
      const fixAll = (await codeActions(uri, whole, vscode.CodeActionKind.SourceFixAll.value)).filter((a) => (a.kind?.value ?? '').startsWith('source.fixAll'));
      for (const a of fixAll.filter((x) => /sqlmigrate|rewrite|knex|sqlalchemy/i.test(`${x.title} ${x.kind?.value}`))) {
        assert.equal(a.kind?.value, 'source.fixAll.sqlmigrate', `${a.title}: our fix-all kind`);
        offered.add(a.title);
      }
    }
    const uncovered = [...offered].filter((t) => !(t in COVERED_FIX_ALL));
    assert.deepEqual(uncovered, [], 'a fix-all without a case: add one that applies it, checks every rewritten statement and the counts, and undoes it');
    assert.deepEqual([...offered], Object.keys(COVERED_FIX_ALL), 'every covered fix-all is still offered (users.ts has verified rewrites)');
    notes.push(`fix-all offered: ${[...offered].join('; ')}`);
  });

  it('writes to its output channel, and "Show output" opens it', async () => {
    const lines = api().output.recent();
    assert.ok(lines.some((l) => l.includes('[client] server state')), 'client state changes are logged');
    assert.ok(lines.some((l) => l.includes('[client] workspace scanned')), 'the first scan is logged');
    await vscode.commands.executeCommand('sqlmigrate.showOutput');
    const shown = await ui('output-channel', { waitFor: '.part.panel .monaco-editor', collect: '.part.panel .view-line' });
    if (shown) assert.ok(shown.texts.some((t) => t.includes('[client]')), `output panel: ${shown.texts.slice(0, 5).join(' | ')}`);
    await vscode.commands.executeCommand('workbench.action.closePanel');
  });

  it('rescans the workspace on command', async () => {
    await vscode.commands.executeCommand('sqlmigrate.rescan');
    await counts(5, 2, 'the counts after the rescan');
  });

  it('restarts the server after it is killed, and diagnostics come back', async () => {
    const before = (await serverInfo())!;
    process.kill(before.pid, 'SIGKILL');
    const after = await poll('a new server process', async () => {
      const info = await serverInfo();
      return info && info.pid !== before.pid && info;
    });
    assert.notEqual(after.pid, before.pid);
    await vscode.window.showTextDocument(users());
    await poll('diagnostics from the new server', () => ours(users()).length === 3);
    await poll('the status bar back', async () => /^\$\(database\) SQL \d+% · \d+ left$/.test(await statusText()));
    await counts(5, 2, 'the tree from the new server');
  });

  it('restarts the server with "Restart the language server"', async () => {
    const before = (await serverInfo())!;
    await vscode.commands.executeCommand('sqlmigrate.restartServer');
    const after = await poll('a restarted server', async () => {
      const info = await serverInfo();
      return info && info.pid !== before.pid && info;
    });
    assert.ok(after.pid > 0);
    await poll('diagnostics after the restart', () => ours(users()).length === 3);
    await counts(5, 2, 'the tree after the restart');
    await poll('the status bar after the restart', async () => (await statusText()) === '$(database) SQL 29% · 5 left');
    await vscode.window.showTextDocument(users());
    await ui('after-restart');
  });
});
