/**
 * End-to-end, inside a real VS Code extension host, against the `vscode` API: the extension
 * activates on the fixture workspace (test/fixtures/workspace-basic), shows diagnostics for a
 * TypeScript and a Python file, fills the "Migration progress" tree, follows an edit, keeps a
 * statement on purpose through the quick fix, and survives its server being killed.
 * Waits poll for state; screenshots are requested from the outer runner by name.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ProgressResult, ServerInfo } from '../../../server/src/protocol';

interface Snapshot {
  data: ProgressResult | undefined;
  items: Array<{ label: string; description?: string; children?: Snapshot['items'] }>;
}

async function poll<T>(what: string, fn: () => T | undefined | false | PromiseLike<T | undefined | false>, timeoutMs = 60000): Promise<T> {
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

/** Asks the runner for a screenshot and waits until it is taken (no-op without a runner). */
async function screenshot(name: string): Promise<void> {
  const dir = process.env.SQLMIGRATE_E2E_SIGNALS;
  if (!dir) return;
  fs.writeFileSync(path.join(dir, `${name}.request`), '');
  await poll(`screenshot ${name}`, () => fs.existsSync(path.join(dir, `${name}.done`)), 30000);
}

const root = () => vscode.workspace.workspaceFolders![0].uri;
const file = (rel: string) => vscode.Uri.joinPath(root(), rel);
const ours = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'sqlmigrate');
const snapshot = () => vscode.commands.executeCommand<Snapshot>('sqlmigrate.treeSnapshot');
const statusText = () => vscode.commands.executeCommand<string>('sqlmigrate.statusText');

function findItem(items: Snapshot['items'], label: string): Snapshot['items'][number] | undefined {
  for (const i of items) {
    if (i.label === label) return i;
    const inner = i.children && findItem(i.children, label);
    if (inner) return inner;
  }
  return undefined;
}

describe('sqlmigrate in VS Code', () => {
  const users = () => file('src/db/users.ts');
  const jobs = () => file('app/api/jobs.py');

  it('activates and starts its language server', async () => {
    const ext = vscode.extensions.getExtension('sqlmigrate.sqlmigrate');
    assert.ok(ext, 'the extension is installed');
    await ext.activate();
    const info = await poll('the server to answer', () => vscode.commands.executeCommand<ServerInfo | undefined>('sqlmigrate.serverInfo'));
    assert.ok(info.pid > 0);
  });

  it('shows diagnostics for a TypeScript file', async () => {
    await vscode.window.showTextDocument(users());
    const diags = await poll('sqlmigrate diagnostics in users.ts', () => ours(users()).length === 4 && ours(users()));
    assert.deepEqual(diags.map((d) => d.range.start.line), [5, 10, 14, 19]);
    assert.ok(diags.every((d) => (typeof d.code === 'object' ? d.code.value : d.code) === 'raw-sql'));
    const dynamic = diags.find((d) => d.range.start.line === 14)!;
    assert.equal(dynamic.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(dynamic.message, /injection risk/);
    await screenshot('editor-typescript');
  });

  it('shows the statement on hover', async () => {
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', users(), new vscode.Position(5, 40));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
    assert.match(text, /FROM users/);
    assert.match(text, /No rewrite available yet/);
    const editor = vscode.window.activeTextEditor!;
    editor.selection = new vscode.Selection(5, 40, 5, 40);
    await vscode.commands.executeCommand('editor.action.showHover');
    await screenshot('editor-hover');
  });

  it('shows diagnostics for a Python file', async () => {
    await vscode.window.showTextDocument(jobs());
    const diags = await poll('sqlmigrate diagnostics in jobs.py', () => ours(jobs()).length === 3 && ours(jobs()));
    assert.deepEqual(diags.map((d) => d.range.start.line), [7, 14, 21]);
    assert.match(diags[2].message, /injection risk/);
    await screenshot('editor-python');
  });

  it('fills the Migration progress tree and records a baseline', async () => {
    let snap = await poll('the tree after the scan', async () => {
      const s = await snapshot();
      return s.data?.state === 'ready' && s.data.folders[0]?.remaining === 7 && s;
    });
    assert.equal(snap.data!.folders[0].kept, 1);
    assert.equal(snap.items[0].label, '7 left · no baseline yet');
    assert.equal(findItem(snap.items, 'src/db')?.description, '1 file · 4 raw');
    assert.equal(findItem(snap.items, 'users.ts')?.description, '4 raw');
    assert.equal(findItem(snap.items, 'jobs.py')?.description, '3 raw');
    assert.equal(findItem(snap.items, 'health.ts')?.description, '0 raw · 1 kept');

    const r = await vscode.commands.executeCommand<{ ok: boolean }>('sqlmigrate.recordBaseline', { force: false });
    assert.ok(r?.ok, JSON.stringify(r));
    assert.ok(fs.existsSync(path.join(root().fsPath, '.sqlmigrate', 'baseline.json')));
    snap = await snapshot();
    assert.equal(snap.items[0].label, '0% migrated · 7 left');
    await poll('the status bar with the baseline', async () => (await statusText()) === '$(database) SQL 0% · 7 left');

    await vscode.commands.executeCommand('sqlmigrate.openProgress');
    await vscode.commands.executeCommand('sqlmigrate.showInProgress', users().toString(), { start: { line: 5, character: 0 }, end: { line: 5, character: 0 } });
    await screenshot('sidebar');
  });

  it('updates the counts after an edit', async () => {
    const doc = await vscode.workspace.openTextDocument(users());
    const line = doc.lineAt(10);
    assert.match(line.text, /UPDATE users/);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(users(), line.range, '  await users.update(id, { displayName: name });');
    assert.ok(await vscode.workspace.applyEdit(edit));
    await poll('3 diagnostics in users.ts', () => ours(users()).length === 3);
    const snap = await poll('the tree after the edit', async () => {
      const s = await snapshot();
      return s.data?.folders[0]?.remaining === 6 && s;
    });
    assert.equal(snap.items[0].label, '14% migrated · 6 left');
    assert.equal(findItem(snap.items, 'users.ts')?.description, '3 raw · 25%');
    assert.equal(snap.data!.folders[0].files.find((f) => f.path === 'src/db/users.ts')?.status, 'in-progress');
    await poll('the status bar after the edit', async () => (await statusText()) === '$(database) SQL 14% · 6 left');
    await screenshot('sidebar-after-edit');
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
    await screenshot('sidebar-by-rule');
    await vscode.commands.executeCommand('sqlmigrate.showAll');
    await vscode.commands.executeCommand('sqlmigrate.groupByFolder');
    snap = await snapshot();
    assert.ok(findItem(snap.items, 'health.ts'));
  });

  it('keeps a statement on purpose through the quick fix', async () => {
    const editor = await vscode.window.showTextDocument(jobs());
    const range = ours(jobs())[0].range;
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', jobs(), range, vscode.CodeActionKind.QuickFix.value, 10);
    const keep = actions.find((a) => a.title === 'Keep this statement on purpose…');
    assert.ok(keep?.edit, actions.map((a) => a.title).join(', '));
    assert.ok(actions.some((a) => a.title === 'Show in migration progress'));
    assert.ok(await vscode.workspace.applyEdit(keep.edit));
    if (keep.command) await vscode.commands.executeCommand(keep.command.command, ...(keep.command.arguments ?? []));
    assert.equal(editor.document.lineAt(7).text, '    # sqlmigrate-keep: <reason>');
    assert.equal(editor.document.getText(editor.selection), '<reason>', 'the placeholder is selected, ready to type over');
    await editor.edit((b) => b.replace(editor.selection, 'the CLI tool reads jobs without the ORM'));
    await poll('the kept statement counted apart', async () => {
      const s = await snapshot();
      return s.data?.folders[0]?.kept === 2 && s.data.folders[0].remaining === 5;
    });
  });

  it('restarts the server after it is killed, and diagnostics come back', async () => {
    const before = await vscode.commands.executeCommand<ServerInfo>('sqlmigrate.serverInfo');
    process.kill(before.pid, 'SIGKILL');
    const after = await poll('a new server process', async () => {
      const info = await vscode.commands.executeCommand<ServerInfo | undefined>('sqlmigrate.serverInfo');
      return info && info.pid !== before.pid && info;
    });
    assert.notEqual(after.pid, before.pid);
    await vscode.window.showTextDocument(users());
    await poll('diagnostics from the new server', () => ours(users()).length === 3);
    await poll('the status bar back', async () => /^\$\(database\) SQL \d+% · \d+ left$/.test(await statusText()));
    await poll('the tree from the new server', async () => (await snapshot()).data?.folders[0]?.remaining === 5);
  });
});
