/**
 * Repository quick fixes through the language server over stdio, on the service tree of
 * test/fixtures/fix-repository/tree (TS on pg, Python on sqlite3, schema.sql, a User model and no
 * Job model):
 *
 *  - TS "Use jobRepository.listByOwnerId() (new …)" resolves to a CreateFile for the repository,
 *    its text, and the call-site edit; once applied, the identical statement in another file
 *    reuses the method (no file created);
 *  - a repository edited after the quick fix was offered: the resolved edit is computed from the
 *    file as it is then (the hand edit kept), never from the stale text;
 *  - Python raw SQL on a table without a mapped class offers "Generate model Job from CREATE
 *    TABLE jobs" (an edit of the models file) and the hover says why there is no repository
 *    fix yet; once the model exists, "Move to JobRepository.get_by_id()" is offered;
 *  - a client without resource operations in workspace edits is never offered a fix that
 *    creates a file.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CodeAction, CreateFile, Diagnostic, Hover, TextDocumentEdit } from 'vscode-languageserver-protocol';
import { initSqlalchemyRewrite, pythonParses } from '../../server/src/engine/rewrite/python';
import { parseProblems } from '../unit/rewrite/check';
import { applyLspEdits, type Edit } from '../reliability/support';
import { CAPABILITIES, fileUri, poll, startServer, waitReady, type TestServer } from './client';

const TREE = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'fix-repository', 'tree');
const WITH_CREATE = { ...CAPABILITIES, workspace: { ...CAPABILITIES.workspace, workspaceEdit: { documentChanges: true, resourceOperations: ['create' as const] } } };

async function actionsAt(s: TestServer, uri: string, range: Diagnostic['range']): Promise<CodeAction[]> {
  return (await s.connection.sendRequest('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics: [] } })) as CodeAction[];
}

async function hoverText(s: TestServer, uri: string, position: { line: number; character: number }): Promise<string> {
  const h = (await s.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position })) as Hover | null;
  return h ? (h.contents as { value: string }).value : '';
}

/** The raw-sql diagnostic starting on `line` (1-based). */
function onLine(diags: Diagnostic[], line: number): Diagnostic {
  const d = diags.find((x) => x.code === 'raw-sql' && x.range.start.line === line - 1);
  assert.ok(d, `no raw-sql diagnostic on line ${line}: ${JSON.stringify(diags.map((x) => [x.code, x.range.start.line + 1]))}`);
  return d;
}

/** Applies a resolved workspace edit to the folder on disk (as the editor would) and returns the new texts by relative path. */
function applyToDisk(dir: string, changes: Array<TextDocumentEdit | CreateFile>, openTexts: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of changes) {
    if ('kind' in c) {
      assert.equal(c.kind, 'create');
      const file = new URL(c.uri).pathname;
      assert.ok(!fs.existsSync(file), `CreateFile for an existing ${file}`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, '');
      continue;
    }
    const file = new URL(c.textDocument.uri).pathname;
    const rel = path.relative(dir, file).split(path.sep).join('/');
    const before = openTexts.get(rel) ?? fs.readFileSync(file, 'utf8');
    const after = applyLspEdits(before, c.edits as Edit[]);
    if (!openTexts.has(rel)) fs.writeFileSync(file, after);
    out.set(rel, after);
  }
  return out;
}

/** A copy of the tree with two servers on it: one whose client creates files, one whose client cannot. */
async function startOnTree(prefix: string): Promise<{ dir: string; s: TestServer; plain: TestServer }> {
  await initSqlalchemyRewrite();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.cpSync(TREE, dir, { recursive: true });
  const s = await startServer({ workspace: dir, capabilities: WITH_CREATE });
  const plain = await startServer({ workspace: dir });
  await Promise.all([waitReady(s), waitReady(plain)]);
  return { dir, s, plain };
}

async function stopTree(dir: string, ...servers: Array<TestServer | undefined>): Promise<void> {
  await Promise.all(servers.map((x) => x?.stop()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

describe('language server: repository quick fixes and generated models', function () {
  this.timeout(120_000);
  let dir = '';
  let s: TestServer;
  let plain: TestServer;

  before(async () => ({ dir, s, plain } = await startOnTree('sqlmigrate-lsp-repo-')));
  after(() => stopTree(dir, s, plain));

  it('TS: creates the repository with the method, then reuses it from another file', async () => {
    const uri = fileUri(path.join(dir, 'src', 'jobs.ts'));
    const text = fs.readFileSync(path.join(dir, 'src', 'jobs.ts'), 'utf8');
    s.open(uri, 'typescript', text, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const actions = await actionsAt(s, uri, onLine(d.diagnostics, 6).range);
    const move = actions.find((a) => a.title === 'Use jobRepository.listByOwnerId() (new src/repositories/jobRepository.ts)');
    assert.ok(move, actions.map((a) => a.title).join(' | '));
    assert.ok(actions.findIndex((a) => a.title.startsWith('Rewrite with Knex')) < actions.indexOf(move), 'the Knex rewrite stays first');
    const resolved = (await s.connection.sendRequest('codeAction/resolve', move)) as CodeAction;
    const changes = resolved.edit?.documentChanges as Array<TextDocumentEdit | CreateFile>;
    assert.ok(changes, JSON.stringify(resolved));
    const repoUri = fileUri(path.join(dir, 'src', 'repositories', 'jobRepository.ts'));
    assert.deepEqual(changes[0], { kind: 'create', uri: repoUri, options: { overwrite: false, ignoreIfExists: false } });
    assert.deepEqual((changes[changes.length - 1] as TextDocumentEdit).textDocument, { uri, version: 1 }, 'the call site edit is versioned');
    const texts = applyToDisk(dir, changes, new Map([['src/jobs.ts', text]]));
    const repo = texts.get('src/repositories/jobRepository.ts')!;
    assert.deepEqual(parseProblems(repo, 'jobRepository.ts'), []);
    assert.match(repo, /async listByOwnerId\(ownerId: Knex\.Value\) \{\n    return this\.db\('jobs'\)\.select\('id', 'name'\)\.where\('owner_id', '=', ownerId\)\.orderBy\('id'\);/);
    const after = texts.get('src/jobs.ts')!;
    assert.deepEqual(parseProblems(after, 'jobs.ts'), []);
    assert.match(after, /await jobRepository\.listByOwnerId\(owner\)/);
    assert.match(after, /^import \{ jobRepository \} from '\.\/repositories\/jobRepository';$/m);
    s.change(uri, 2, after);
    const d2 = await s.diagnosticsFor(uri, (p) => p.version === 2);
    assert.equal(d2.diagnostics.filter((x) => x.code === 'raw-sql').length, d.diagnostics.filter((x) => x.code === 'raw-sql').length - 1);

    const admin = fileUri(path.join(dir, 'src', 'admin.ts'));
    s.open(admin, 'typescript', fs.readFileSync(path.join(dir, 'src', 'admin.ts'), 'utf8'), 1);
    const da = await s.diagnosticsFor(admin, (p) => p.version === 1 && p.diagnostics.length > 0);
    const reuse = (await actionsAt(s, admin, onLine(da.diagnostics, 7).range)).find((a) => a.title.startsWith('Use jobRepository.listByOwnerId()'));
    assert.equal(reuse?.title, 'Use jobRepository.listByOwnerId() (existing method in src/repositories/jobRepository.ts)');
    const r2 = (await s.connection.sendRequest('codeAction/resolve', reuse)) as CodeAction;
    const c2 = r2.edit!.documentChanges as TextDocumentEdit[];
    assert.ok(c2.every((c) => !('kind' in c)), 'nothing is created');
    assert.deepEqual(c2.map((c) => c.textDocument.uri), [admin], 'only the call site changes');
    s.close(admin);
    s.close(uri);
  });

  it('the automatic light-bulb request leaves the moves out; the menu the user opens has them', async () => {
    const uri = fileUri(path.join(dir, 'src', 'admin.ts'));
    s.open(uri, 'typescript', fs.readFileSync(path.join(dir, 'src', 'admin.ts'), 'utf8'), 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const titles = async (triggerKind: 1 | 2) =>
      ((await s.connection.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: onLine(d.diagnostics, 7).range, context: { diagnostics: [], triggerKind } })) as CodeAction[]).map((a) => a.title);
    const automatic = await titles(2);
    assert.ok(automatic.includes('Rewrite with Knex'), automatic.join(' | '));
    assert.ok(!automatic.some((t) => t.startsWith('Use jobRepository')), automatic.join(' | '));
    assert.ok((await titles(1)).some((t) => t.startsWith('Use jobRepository.listByOwnerId()')));
    s.close(uri);
  });

  it('TS: a repository edited after the fix was offered: resolve works from the file as it is now, keeping the hand edit', async () => {
    const uri = fileUri(path.join(dir, 'src', 'jobs.ts'));
    const text = fs.readFileSync(path.join(dir, 'src', 'jobs.ts'), 'utf8');
    s.open(uri, 'typescript', text, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const range = onLine(d.diagnostics, 11).range;
    const find = (await actionsAt(s, uri, range)).find((a) => a.title.startsWith('Use jobRepository.findById()'));
    assert.equal(find?.title, 'Use jobRepository.findById() (added to src/repositories/jobRepository.ts)');
    const repoFile = path.join(dir, 'src', 'repositories', 'jobRepository.ts');
    fs.appendFileSync(repoFile, '\n// edited by hand\n');
    const resolved = (await s.connection.sendRequest('codeAction/resolve', find)) as CodeAction;
    const changes = resolved.edit!.documentChanges as TextDocumentEdit[];
    const repoUri = fileUri(repoFile);
    assert.ok(changes.some((c) => c.textDocument.uri === repoUri));
    const texts = applyToDisk(dir, changes, new Map([['src/jobs.ts', text]]));
    const repo = texts.get('src/repositories/jobRepository.ts')!;
    assert.ok(repo.includes('// edited by hand'), 'the hand edit is kept');
    assert.match(repo, /async findById\(id: Knex\.Value\) \{/);
    assert.deepEqual(parseProblems(repo, 'jobRepository.ts'), []);
    s.close(uri);
  });

  it('Python: "Generate model" for a table without a mapped class, then "Move to JobRepository.get_by_id()"', async () => {
    const uri = fileUri(path.join(dir, 'app', 'jobs.py'));
    const text = fs.readFileSync(path.join(dir, 'app', 'jobs.py'), 'utf8');
    s.open(uri, 'python', text, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const diag = onLine(d.diagnostics, 7);
    const titles = (await actionsAt(s, uri, diag.range)).map((a) => a.title);
    assert.ok(!titles.some((t) => t.startsWith('Move to')), titles.join(' | '));
    assert.match(await hoverText(s, uri, diag.range.start), /\*\*No repository rewrite:\*\* no mapped class for table "jobs"/);
    const gen = (await actionsAt(s, uri, diag.range)).find((a) => a.title === 'Generate model Job from CREATE TABLE jobs');
    assert.ok(gen, titles.join(' | '));
    const resolved = (await s.connection.sendRequest('codeAction/resolve', gen)) as CodeAction;
    const changes = resolved.edit!.documentChanges as TextDocumentEdit[];
    assert.deepEqual(changes.map((c) => c.textDocument), [{ uri: fileUri(path.join(dir, 'app', 'models.py')), version: null }], 'only the models file changes');
    const models = applyToDisk(dir, changes, new Map()).get('app/models.py')!;
    assert.ok(pythonParses(models));
    assert.match(models, /class Job\(Base\):\n    __tablename__ = "jobs"\n\n    id = Column\(Integer, primary_key=True\)/);

    const move = await poll('the repository fix once the model exists', async () => (await actionsAt(s, uri, diag.range)).find((a) => a.title.startsWith('Move to JobRepository.get_by_id()'))).catch(async (e) => {
      throw new Error(`${(e as Error).message}: ${(await actionsAt(s, uri, diag.range)).map((a) => a.title).join(' | ')}\n${await hoverText(s, uri, diag.range.start)}`);
    });
    assert.equal(move.title, 'Move to JobRepository.get_by_id() (app/repositories/job_repository.py)');
    const r2 = (await s.connection.sendRequest('codeAction/resolve', move)) as CodeAction;
    const c2 = r2.edit!.documentChanges as Array<TextDocumentEdit | CreateFile>;
    assert.equal((c2[0] as CreateFile).kind, 'create');
    const texts = applyToDisk(dir, c2, new Map([['app/jobs.py', text]]));
    const repo = texts.get('app/repositories/job_repository.py')!;
    assert.ok(pythonParses(repo) && pythonParses(texts.get('app/jobs.py')!));
    assert.match(repo, /from app\.models import Job/);
    assert.match(texts.get('app/jobs.py')!, /with get_session\(\) as session:\n        return JobRepository\(session\)\.get_by_id\(job_id\)/);
    assert.match(texts.get('app/jobs.py')!, /^from app\.db import get_db, get_session\nfrom app\.repositories\.job_repository import JobRepository$/m);
    s.close(uri);
  });

  it('a client without resource operations is offered no fix that creates a file', async () => {
    const uri = fileUri(path.join(dir, 'app', 'jobs.py'));
    plain.open(uri, 'python', fs.readFileSync(path.join(dir, 'app', 'jobs.py'), 'utf8'), 1);
    const d = await plain.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    // users has a model but no repository yet: the fix would create app/repositories/user_repository.py.
    assert.ok(!fs.existsSync(path.join(dir, 'app', 'repositories', 'user_repository.py')));
    const titles = (await actionsAt(plain, uri, onLine(d.diagnostics, 13).range)).map((a) => a.title);
    assert.ok(!titles.some((t) => t.startsWith('Move to')), titles.join(' | '));
    assert.ok(titles.includes('Keep this statement on purpose…'), titles.join(' | '));
    const ts = fileUri(path.join(dir, 'src', 'admin.ts'));
    plain.open(ts, 'typescript', fs.readFileSync(path.join(dir, 'src', 'admin.ts'), 'utf8'), 1);
    const dt = await plain.diagnosticsFor(ts, (p) => p.version === 1 && p.diagnostics.length > 0);
    // The method exists now: reusing it changes only the call site, which this client can apply.
    const reuse = (await actionsAt(plain, ts, onLine(dt.diagnostics, 7).range)).map((a) => a.title);
    assert.ok(reuse.includes('Use jobRepository.listByOwnerId() (existing method in src/repositories/jobRepository.ts)'), reuse.join(' | '));
    plain.close(uri);
    plain.close(ts);
  });
});

describe('language server: moving a statement to the repository everywhere in the workspace', function () {
  this.timeout(120_000);
  let dir = '';
  let s: TestServer;
  let plain: TestServer;

  before(async () => ({ dir, s, plain } = await startOnTree('sqlmigrate-lsp-repo-all-')));
  after(() => stopTree(dir, s, plain));

  it('one action rewrites the identical statement in every file, with one repository method', async () => {
    const uri = fileUri(path.join(dir, 'src', 'jobs.ts'));
    const text = fs.readFileSync(path.join(dir, 'src', 'jobs.ts'), 'utf8');
    const adminBefore = fs.readFileSync(path.join(dir, 'src', 'admin.ts'), 'utf8');
    s.open(uri, 'typescript', text, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const title = 'Move this statement to the repository at all 2 call sites (2 files)';
    const all = (await actionsAt(s, uri, onLine(d.diagnostics, 6).range)).find((a) => a.title === title);
    assert.ok(all, 'offered');
    // Only where the statement is elsewhere too: findJob's statement is in this file only.
    assert.ok(!(await actionsAt(s, uri, onLine(d.diagnostics, 11).range)).some((a) => a.title.startsWith('Move this statement to the repository')));
    const resolved = (await s.connection.sendRequest('codeAction/resolve', all)) as CodeAction;
    const changes = resolved.edit!.documentChanges as Array<TextDocumentEdit | CreateFile>;
    assert.equal((changes[0] as CreateFile).kind, 'create');
    const edited = changes.filter((c): c is TextDocumentEdit => !('kind' in c)).map((c) => c.textDocument);
    assert.deepEqual(edited, [
      { uri: fileUri(path.join(dir, 'src', 'repositories', 'jobRepository.ts')), version: null },
      { uri: fileUri(path.join(dir, 'src', 'admin.ts')), version: null },
      { uri, version: 1 },
    ]);
    const texts = applyToDisk(dir, changes, new Map([['src/jobs.ts', text]]));
    const repo = texts.get('src/repositories/jobRepository.ts')!;
    assert.equal(repo.match(/async listByOwnerId\(/g)?.length, 1);
    assert.ok(!/findById|updateStatusById/.test(repo), 'only the chosen statement moves');
    for (const [rel, t] of texts) assert.deepEqual(parseProblems(t, rel), [], `${rel} parses`);
    assert.match(texts.get('src/admin.ts')!, /await jobRepository\.listByOwnerId\(user\.id\)/);
    assert.notEqual(texts.get('src/admin.ts'), adminBefore);
    assert.match(texts.get('src/jobs.ts')!, /await jobRepository\.listByOwnerId\(owner\)/);
    assert.match(texts.get('src/jobs.ts')!, /pool\.query\('SELECT id, name, status FROM jobs WHERE id = \$1'/, 'the other statements stay');
    s.close(uri);
  });

  it('covers identical statements in the same file, computed when chosen', async () => {
    const rel = 'src/dups.ts';
    const uri = fileUri(path.join(dir, 'src', 'dups.ts'));
    const text = [
      "import { Pool } from 'pg';",
      '',
      'const pool = new Pool();',
      '',
      'export async function a(id: number) {',
      "  const { rows } = await pool.query('SELECT id, email FROM users WHERE id = $1', [id]);",
      '  return rows[0];',
      '}',
      '',
      'export async function b(userId: number) {',
      "  const { rows } = await pool.query('SELECT id, email FROM users WHERE id = $1', [userId]);",
      '  return rows[0];',
      '}',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, rel), text);
    s.open(uri, 'typescript', text, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length === 2);
    const all = (await actionsAt(s, uri, onLine(d.diagnostics, 6).range)).find((a) => a.title === 'Move this statement to the repository at all 2 call sites in this file');
    assert.ok(all, 'offered');
    const resolved = (await s.connection.sendRequest('codeAction/resolve', all)) as CodeAction;
    const changes = resolved.edit!.documentChanges as Array<TextDocumentEdit | CreateFile>;
    const texts = applyToDisk(dir, changes, new Map([[rel, text]]));
    const repo = texts.get('src/repositories/userRepository.ts')!;
    assert.equal(repo.match(/async findById\(/g)?.length, 1, 'one method for both');
    const after = texts.get(rel)!;
    assert.match(after, /await userRepository\.findById\(id\)[\s\S]*await userRepository\.findById\(userId\)/);
    for (const [r, t] of texts) assert.deepEqual(parseProblems(t, r), [], `${r} parses`);
    s.close(uri);
  });

  it('is not offered to a client without resource operations', async () => {
    fs.cpSync(TREE, dir, { recursive: true, force: true });
    fs.rmSync(path.join(dir, 'src', 'repositories'), { recursive: true, force: true });
    const uri = fileUri(path.join(dir, 'src', 'jobs.ts'));
    plain.open(uri, 'typescript', fs.readFileSync(path.join(dir, 'src', 'jobs.ts'), 'utf8'), 1);
    const d = await plain.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const titles = (await actionsAt(plain, uri, onLine(d.diagnostics, 6).range)).map((a) => a.title);
    assert.ok(titles.some((t) => t.startsWith('Rewrite with Knex')), titles.join(' | '));
    assert.ok(!titles.some((t) => t.startsWith('Move this statement')), titles.join(' | '));
    plain.close(uri);
  });
});
