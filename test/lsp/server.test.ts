import { fileURLToPath } from 'node:url';
/**
 * The language server over stdio, as an editor drives it: diagnostics for TypeScript and Python
 * documents, hovers, code actions (and refusal of stale ones), the ledger requests, file
 * events, settings, guarded handlers, and edits arriving faster than analysis.
 * Every wait polls for a state; nothing sleeps and then asserts.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CodeAction, Hover, TextDocumentEdit } from 'vscode-languageserver-protocol';
import {
  FileFindingsRequest,
  ProgressRequest,
  RecordBaselineRequest,
  ServerInfoRequest,
  type ProgressResult,
} from '../../server/src/protocol';
import { fileUri, poll, startServer, waitReady, type TestServer } from './client';

const FIXTURE = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'workspace-basic');

export function copyFixture(name = 'workspace-basic'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sqlmigrate-lsp-${name}-`));
  fs.cpSync(path.join(__dirname, '..', '..', '..', 'test', 'fixtures', name), dir, { recursive: true });
  return dir;
}

function read(dir: string, rel: string): string {
  return fs.readFileSync(path.join(dir, rel), 'utf8');
}

async function progress(s: TestServer): Promise<ProgressResult> {
  return s.connection.sendRequest(ProgressRequest.type, {});
}

/** Applies LSP text edits (insertions/replacements on whole lines are enough here) to a text. */
function applyEdits(text: string, edits: Array<{ range: { start: { line: number; character: number }; end: { line: number; character: number } }; newText: string }>): string {
  const lines = text.split('\n');
  const offset = (p: { line: number; character: number }) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  let out = text;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
    out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  }
  return out;
}

describe('language server over stdio', function () {
  this.timeout(60000);
  let dir: string;
  let s: TestServer;
  let tsUri: string;
  let pyUri: string;
  let tsText: string;
  let pyText: string;

  before(async () => {
    assert.ok(fs.existsSync(FIXTURE), FIXTURE);
    dir = copyFixture();
    s = await startServer({ workspace: dir, settings: { debounce: 50 } });
    await waitReady(s);
    tsUri = fileUri(path.join(dir, 'src/db/users.ts'));
    pyUri = fileUri(path.join(dir, 'app/api/jobs.py'));
    tsText = read(dir, 'src/db/users.ts');
    pyText = read(dir, 'app/api/jobs.py');
  });

  after(async () => {
    await s?.stop();
  });

  it('reports the start-up scan with work-done progress', () => {
    const kinds = s.workDone.map((p) => p.value.kind);
    assert.ok(kinds.includes('begin'), `begin in ${kinds}`);
    assert.equal(kinds[kinds.length - 1], 'end');
    assert.match(s.workDone.find((p) => p.value.kind === 'begin')!.value.title!, /scanning/);
  });

  it('registers file watchers for sources, the config and the baseline', () => {
    const reg = s.registrations.find((r) => r.method === 'workspace/didChangeWatchedFiles');
    assert.ok(reg, JSON.stringify(s.registrations));
    const globs = (reg.registerOptions as { watchers: Array<{ globPattern: string }> }).watchers.map((w) => w.globPattern);
    assert.ok(globs.some((g) => g.includes('py}')) && globs.includes('**/.sqlmigrate.json') && globs.includes('**/.sqlmigrate/baseline.json'), globs.join(' '));
  });

  it('publishes TypeScript diagnostics with the document version, rule codes and documentation links', async () => {
    s.open(tsUri, 'typescript', tsText, 1);
    const d = await s.diagnosticsFor(tsUri, (p) => p.version === 1);
    assert.equal(d.diagnostics.length, 4);
    for (const x of d.diagnostics) {
      assert.equal(x.code, 'raw-sql');
      assert.equal(x.source, 'sqlmigrate');
      const href = x.codeDescription?.href ?? '';
      assert.match(href, /^file:\/\/.*\/docs\/rules\/raw-sql\.md$/);
      assert.ok(fs.existsSync(fileURLToPath(href)), `${href} exists`);
    }
    assert.deepEqual(d.diagnostics.map((x) => x.range.start.line), [5, 10, 14, 19]);
    const dynamic = d.diagnostics.find((x) => x.range.start.line === 14)!;
    assert.match(dynamic.message, /injection risk/);
    assert.equal(dynamic.severity, 2, 'dynamic SQL is a warning by default');
    assert.equal(d.diagnostics.find((x) => x.range.start.line === 5)!.severity, 3, 'plain raw SQL is information by default');
  });

  it('publishes Python diagnostics', async () => {
    s.open(pyUri, 'python', pyText, 1);
    const d = await s.diagnosticsFor(pyUri, (p) => p.version === 1);
    assert.deepEqual(d.diagnostics.map((x) => [x.range.start.line, x.code, x.severity]), [
      [7, 'raw-sql', 3],
      [14, 'raw-sql', 3],
      [21, 'raw-sql', 2],
    ]);
    assert.match(d.diagnostics[2].message, /built at run time from `column`/);
  });

  it('shows the statement, kind, tables, columns, parameters, complexity and the rewrite status on hover', async () => {
    const h = (await s.connection.sendRequest('textDocument/hover', { textDocument: { uri: tsUri }, position: { line: 5, character: 30 } })) as Hover;
    const md = (h.contents as { value: string }).value;
    assert.match(md, /```sql\nSELECT id, email, display_name\nFROM users\nWHERE id = \$1\n```/);
    assert.match(md, /\| kind \| select \|/);
    assert.match(md, /\| tables \| `users` \|/);
    assert.match(md, /\| columns \| `id`, `email`, `display_name` \|/);
    assert.match(md, /\| parameters \| 1 \(dollar\) \|/);
    assert.match(md, /\| complexity \| simple/);
    // workspace-basic configures no knex import, so the rewrite is not offered and the hover says why.
    assert.match(md, /\*\*No Knex rewrite:\*\* the knex instance `db` is not in scope in this file; set rewrite\.knex\.import/);
    const py = (await s.connection.sendRequest('textDocument/hover', { textDocument: { uri: pyUri }, position: { line: 7, character: 10 } })) as Hover;
    assert.match((py.contents as { value: string }).value, /\*\*No repository rewrite:\*\* no session factory is configured/);
  });

  it('shows the runtime parts and the injection risk on hover for dynamic SQL', async () => {
    const h = (await s.connection.sendRequest('textDocument/hover', { textDocument: { uri: pyUri }, position: { line: 21, character: 10 } })) as Hover;
    const md = (h.contents as { value: string }).value;
    assert.match(md, /Injection risk/);
    assert.match(md, /WHERE \$\{column\} = \?/);
  });

  it('has no hover away from findings', async () => {
    const h = await s.connection.sendRequest('textDocument/hover', { textDocument: { uri: tsUri }, position: { line: 0, character: 1 } });
    assert.equal(h, null);
  });

  it('offers "Keep this statement on purpose…", resolves it to a versioned edit, and the comment keeps the statement', async () => {
    const actions = (await s.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri: pyUri },
      range: { start: { line: 7, character: 4 }, end: { line: 7, character: 4 } },
      context: { diagnostics: [] },
    })) as CodeAction[];
    const keep = actions.find((a) => a.title === 'Keep this statement on purpose…');
    assert.ok(keep, JSON.stringify(actions));
    assert.equal(keep.edit, undefined, 'the edit is computed on resolve');
    assert.deepEqual({ uri: (keep.data as { uri: string }).uri, version: (keep.data as { version: number }).version }, { uri: pyUri, version: 1 });
    const resolved = (await s.connection.sendRequest('codeAction/resolve', keep)) as CodeAction;
    const change = resolved.edit!.documentChanges![0] as TextDocumentEdit;
    assert.deepEqual(change.textDocument, { uri: pyUri, version: 1 });
    assert.deepEqual(change.edits, [{ range: { start: { line: 7, character: 0 }, end: { line: 7, character: 0 } }, newText: '    # sqlmigrate-keep: <reason>\n' }]);

    const kept = applyEdits(pyText, change.edits).replace('<reason>', 'the lookup must stay on sqlite3 for the CLI tool');
    s.change(pyUri, 2, kept);
    const d = await s.diagnosticsFor(pyUri, (p) => p.version === 2);
    const first = d.diagnostics.find((x) => x.range.start.line === 8)!;
    assert.equal(first.severity, 4, 'kept statements are hints');
    assert.match(first.message, /kept on purpose \(inline\): the lookup must stay on sqlite3/);
    const none = (await s.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri: pyUri },
      range: { start: { line: 8, character: 4 }, end: { line: 8, character: 4 } },
      context: { diagnostics: [] },
    })) as CodeAction[];
    assert.equal(none.filter((a) => a.title.startsWith('Keep')).length, 0, 'no keep action on a kept statement');
  });

  it('indents the keep comment like the statement in TypeScript', async () => {
    const actions = (await s.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri: tsUri },
      range: { start: { line: 19, character: 10 }, end: { line: 21, character: 2 } },
      context: { diagnostics: [] },
    })) as CodeAction[];
    const resolved = (await s.connection.sendRequest('codeAction/resolve', actions[0])) as CodeAction;
    const change = resolved.edit!.documentChanges![0] as TextDocumentEdit;
    assert.equal(change.edits[0].newText, '  // sqlmigrate-keep: <reason>\n');
    assert.equal(change.edits[0].range.start.line, 19);
  });

  it('refuses a code action whose document version is stale', async () => {
    const actions = (await s.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri: tsUri },
      range: { start: { line: 5, character: 30 }, end: { line: 5, character: 30 } },
      context: { diagnostics: [] },
    })) as CodeAction[];
    const keep = actions.find((a) => a.title.startsWith('Keep'));
    assert.ok(keep, JSON.stringify(actions));
    s.change(tsUri, 2, tsText + '\n');
    await s.diagnosticsFor(tsUri, (p) => p.version === 2);
    const resolved = (await s.connection.sendRequest('codeAction/resolve', keep)) as CodeAction;
    assert.equal(resolved.edit, undefined);
    await poll('a message about the stale quick fix', () => s.messages.find((m) => /changed since this quick fix was offered/.test(m.message)));
  });

  it('answers the ledger requests: progress, file findings, record baseline (refusing to overwrite)', async () => {
    let p = await progress(s);
    assert.equal(p.state, 'ready');
    assert.equal(p.folders.length, 1);
    const f = p.folders[0];
    assert.equal(f.baseline, null);
    assert.equal(f.progress, null);
    assert.equal(f.remaining, 6, 'users.ts 4 + jobs.py 2 (one kept above)');
    assert.equal(f.kept, 2);
    assert.deepEqual(f.files.map((x) => [x.path, x.status, x.remaining, x.kept]), [
      ['app/api/jobs.py', 'not-started', 2, 1],
      ['src/db/users.ts', 'not-started', 4, 0],
      ['src/routes/health.ts', 'kept', 0, 1],
    ]);

    const items = await s.connection.sendRequest(FileFindingsRequest.type, { uri: pyUri });
    assert.deepEqual(items.map((i) => [i.range.start.line, i.kind, i.kept !== null]), [
      [8, 'select', true],
      [15, 'insert', false],
      [22, 'select', false],
    ]);

    const r = await s.connection.sendRequest(RecordBaselineRequest.type, {});
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.baseline.remaining, 6);
    const onDisk = JSON.parse(read(dir, '.sqlmigrate/baseline.json'));
    assert.equal(onDisk.remaining, 6);
    assert.equal(onDisk.files['src/db/users.ts'].remaining, 4);

    const again = await s.connection.sendRequest(RecordBaselineRequest.type, {});
    assert.equal(again.ok, false);
    assert.equal(!again.ok && again.reason, 'exists');

    p = await progress(s);
    assert.equal(p.folders[0].progress, 0);
    assert.deepEqual(p.folders[0].target, { reduction: 0.75, remaining: 1, reached: false });

    // Migrate one statement in the editor: progress and the file status follow the buffer.
    const migrated = tsText.replace("await pool.query('UPDATE users SET display_name = $2 WHERE id = $1', [id, name]);", 'await users.update(id, { displayName: name });');
    s.change(tsUri, 3, migrated);
    await s.diagnosticsFor(tsUri, (d) => d.version === 3 && d.diagnostics.length === 3);
    p = await poll('progress after the edit', async () => {
      const q = await progress(s);
      return q.folders[0].remaining === 5 && q;
    });
    assert.equal(Math.round(p.folders[0].progress! * 1000), 167);
    assert.equal(p.folders[0].files.find((x) => x.path === 'src/db/users.ts')!.status, 'in-progress');
    await poll('a progressChanged notification with the new count', () => s.progressChanged.find((n) => n.remaining === 5));
  });

  it('reports a hand-edited baseline clearly and does not overwrite it', async () => {
    const file = path.join(dir, '.sqlmigrate/baseline.json');
    const original = fs.readFileSync(file, 'utf8');
    const edited = original.replace('"remaining": 6', '"remaining": 60');
    fs.writeFileSync(file, edited);
    void s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(file), type: 2 }] });
    const p = await poll('the baseline error', async () => {
      const q = await progress(s);
      return q.folders[0].baselineError ? q : undefined;
    });
    assert.match(p.folders[0].baselineError!, /changed by hand or by a merge/);
    const r = await s.connection.sendRequest(RecordBaselineRequest.type, {});
    assert.equal(!r.ok && r.reason, 'corrupt');
    assert.equal(fs.readFileSync(file, 'utf8'), edited, 'left as it was');
    const forced = await s.connection.sendRequest(RecordBaselineRequest.type, { force: true });
    assert.ok(forced.ok);
  });

  it('keeps the index true on file create, delete and a burst of events', async () => {
    const rel = 'src/db/extra.ts';
    fs.writeFileSync(path.join(dir, rel), "import { Pool } from 'pg';\nconst pool = new Pool();\nexport const n = () => pool.query('DELETE FROM sessions WHERE expires_at < now()');\n");
    void s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(path.join(dir, rel)), type: 1 }] });
    await poll('the created file in progress', async () => (await progress(s)).folders[0].files.some((f) => f.path === rel && f.remaining === 1));

    fs.rmSync(path.join(dir, rel));
    void s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(path.join(dir, rel)), type: 3 }] });
    await poll('the deleted file gone', async () => !(await progress(s)).folders[0].files.some((f) => f.path === rel));

    // A checkout: 400 files appear at once, then their folder is deleted in one event.
    const many = path.join(dir, 'gen');
    fs.mkdirSync(many);
    const events = [];
    for (let i = 0; i < 400; i++) {
      const p = path.join(many, `q${i}.py`);
      fs.writeFileSync(p, `def f(cur):\n    cur.execute("SELECT id FROM t${i} WHERE id = %s", (1,))\n`);
      events.push({ uri: fileUri(p), type: 1 });
    }
    void s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: events });
    await poll('400 new files', async () => (await progress(s)).folders[0].files.filter((f) => f.path.startsWith('gen/')).length === 400, 30000);
    fs.rmSync(many, { recursive: true });
    void s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(many), type: 3 }] });
    await poll('the deleted folder gone', async () => (await progress(s)).folders[0].files.every((f) => !f.path.startsWith('gen/')));
  });

  it('applies per-rule severities from settings, including off', async () => {
    s.settings = { debounce: 50, severity: { 'raw-sql': 'error', 'dynamic-sql': 'off' } };
    void s.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    const d = await s.diagnosticsFor(tsUri, (p) => p.diagnostics.length > 0 && p.diagnostics.every((x) => x.severity === 1));
    assert.equal(d.diagnostics.length, 2, 'the dynamic statement is off; the migrated one is gone');
    s.settings = { debounce: 50 };
    void s.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    await s.diagnosticsFor(tsUri, (p) => p.diagnostics.length === 3);
  });

  it('turns a throwing handler into a logged error and keeps serving', async () => {
    const h = await s.connection.sendRequest('textDocument/hover', { textDocument: { uri: tsUri } });
    assert.equal(h, null);
    await poll('the logged error', () => s.logs.find((l) => l.includes('[hover]')));
    const info = await s.connection.sendRequest(ServerInfoRequest.type);
    assert.equal(info.pid, s.process.pid);
    assert.equal(s.process.exitCode, null);
  });

  it('clears diagnostics when a document closes', async () => {
    s.close(pyUri);
    await s.diagnosticsFor(pyUri, (p) => p.version === undefined && p.diagnostics.length === 0);
  });
});

describe('language server: edits arriving faster than analysis', function () {
  this.timeout(60000);
  let s: TestServer;
  let dir: string;

  before(async () => {
    dir = copyFixture();
    // Each analysis takes 150 ms longer than usual; edits come every 30 ms.
    s = await startServer({ workspace: dir, settings: { debounce: 0, scanOnStartup: false }, initializationOptions: { testAnalysisDelayMs: 150 } });
    await waitReady(s);
  });

  after(async () => {
    await s?.stop();
  });

  it('publishes only the latest version', async () => {
    const uri = fileUri(path.join(dir, 'src/db/users.ts'));
    const base = read(dir, 'src/db/users.ts');
    s.open(uri, 'typescript', base, 1);
    await s.diagnosticsFor(uri, (p) => p.version === 1);
    const before = s.diagnostics.length;
    let version = 1;
    for (let i = 0; i < 12; i++) {
      version++;
      // Every edit adds one more statement at the end.
      const extra = Array.from({ length: i + 1 }, (_, k) => `export const q${k} = () => pool.query('SELECT ${k} FROM audit_log');`).join('\n');
      s.change(uri, version, `${base}\n${extra}\n`);
      await new Promise((r) => setTimeout(r, 30));
    }
    const last = await s.diagnosticsFor(uri, (p) => p.version === version);
    assert.equal(last.diagnostics.length, 4 + 12);
    const published = s.diagnostics.slice(before).filter((p) => p.uri === uri).map((p) => p.version);
    assert.deepEqual(published, [version], `published versions: ${published.join(', ')}`);
  });
});
