/**
 * Verified Knex rewrites through the language server over stdio, with the Knex fixture pairs
 * (test/fixtures/rewrite/knex/<driver>/) as data: the per-statement quick fix, "Rewrite all
 * verified statements in this file", source.fixAll.sqlmigrate (resolved edits applied give the
 * reviewed output), not-applicable fixtures (no rewrite offered, the hover says why), stale
 * versions refused, workspace templates, and an untrusted workspace (read-only: no writes, no
 * rewrites, no edits).
 *
 * The fixtures' options (README there): knex instance `db` imported from `./db`, wrapper
 * `DB.query` returning rows — written as the workspace's .sqlmigrate.json. Each fixture file is
 * put at the workspace root so `./db` stays `./db`.
 *
 * SQLMIGRATE_SERVER_JS=dist/server.js runs the same cases against the bundled server.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CodeAction, Diagnostic, Hover, TextDocumentEdit } from 'vscode-languageserver-protocol';
import { initSqlalchemyRewrite, pythonParses } from '../../server/src/engine/rewrite/python';
import { RecordBaselineRequest } from '../../server/src/protocol';
import { fileUri, poll, startServer, waitReady, type TestServer } from './client';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex');
const CONFIG = {
  dialect: 'postgresql',
  wrappers: ['DB.query'],
  rewrite: { knex: { instance: 'db', import: './db' }, wrappers: { 'DB.query': 'rows' } },
};

interface Pair {
  name: string;
  input: string;
  output: string;
}
interface NotApplicable {
  name: string;
  text: string;
  reason: string;
}

/** One fixture folder: its pairs, its not-applicable files, and the rewrite options its `options.json` adds. */
interface Group {
  driver: string;
  extra: Record<string, unknown> | undefined;
  pairs: Pair[];
  na: NotApplicable[];
}

function fixtureGroups(): Group[] {
  const groups: Group[] = [];
  for (const driver of fs.readdirSync(FIXTURES).sort()) {
    const dir = path.join(FIXTURES, driver);
    if (!fs.statSync(dir).isDirectory()) continue;
    const optionsFile = path.join(dir, 'options.json');
    const g: Group = { driver, extra: fs.existsSync(optionsFile) ? (JSON.parse(fs.readFileSync(optionsFile, 'utf8')) as Record<string, unknown>) : undefined, pairs: [], na: [] };
    for (const file of fs.readdirSync(dir).sort()) {
      const m = /^(.*)\.input\.(ts|js)$/.exec(file);
      if (m) {
        g.pairs.push({ name: `${driver}-${m[1]}.${m[2]}`, input: fs.readFileSync(path.join(dir, file), 'utf8'), output: fs.readFileSync(path.join(dir, `${m[1]}.output.${m[2]}`), 'utf8') });
      } else if (file.startsWith('na-')) {
        const text = fs.readFileSync(path.join(dir, file), 'utf8');
        g.na.push({ name: `${driver}-${file}`, text, reason: /^\/\/ not applicable: (.*)$/m.exec(text)![1].trim() });
      }
    }
    groups.push(g);
  }
  return groups;
}

/** The fixtures sharing the README's options (folders without an options.json). */
function fixtureData(): { pairs: Pair[]; na: NotApplicable[] } {
  const common = fixtureGroups().filter((g) => !g.extra);
  return { pairs: common.flatMap((g) => g.pairs), na: common.flatMap((g) => g.na) };
}

/**
 * A fixture folder of `<case>.input.<ext>` → `<case>.output.<ext>` pairs and `na-<case>.<ext>` files
 * whose first line says `<comment> not applicable: <reason>`; names get `prefix` (one workspace
 * holds several folders).
 */
function fixtureFolder(dir: string, prefix: string): { pairs: Pair[]; na: NotApplicable[] } {
  const files = fs.readdirSync(dir).sort();
  const pairs = files
    .map((f) => /^(.*)\.input\.(ts|js|py)$/.exec(f))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ name: `${prefix}${m[1]}.${m[2]}`, input: fs.readFileSync(path.join(dir, m[0]), 'utf8'), output: fs.readFileSync(path.join(dir, `${m[1]}.output.${m[2]}`), 'utf8') }));
  const na = files
    .filter((f) => /^na-.*\.(ts|js|py)$/.test(f))
    .map((f) => {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      return { name: `${prefix}${f}`, text, reason: /^(?:\/\/|#) not applicable: (.*)$/m.exec(text)![1].trim() };
    });
  return { pairs, na };
}

type Edit = { range: { start: { line: number; character: number }; end: { line: number; character: number } }; newText: string };

/** Applies LSP text edits (any positions; non-overlapping) to a text. */
function applyLspEdits(text: string, edits: Edit[]): string {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  const off = (p: { line: number; character: number }) => Math.min((starts[p.line] ?? text.length) + p.character, text.length);
  let out = text;
  for (const e of [...edits].sort((a, b) => off(b.range.start) - off(a.range.start))) out = out.slice(0, off(e.range.start)) + e.newText + out.slice(off(e.range.end));
  return out;
}

function makeWorkspace(files: Record<string, string>, config: object = CONFIG): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-lsp-rewrite-'));
  fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify(config, null, 2));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const WHOLE = { start: { line: 0, character: 0 }, end: { line: 100000, character: 0 } };
const langOf = (name: string) => (name.endsWith('.js') ? 'javascript' : 'typescript');

async function actionsAt(s: TestServer, uri: string, range: Diagnostic['range'], only?: string[], diagnostics: Diagnostic[] = []): Promise<CodeAction[]> {
  return (await s.connection.sendRequest('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics, ...(only ? { only } : {}) } })) as CodeAction[];
}

async function resolveEdits(s: TestServer, action: CodeAction, uri: string, version: number): Promise<Edit[]> {
  assert.equal(action.edit, undefined, `"${action.title}": the edit is computed on resolve`);
  const resolved = (await s.connection.sendRequest('codeAction/resolve', action)) as CodeAction;
  assert.ok(resolved.edit?.documentChanges, `"${action.title}" resolved to an edit: ${JSON.stringify(resolved)}`);
  const change = resolved.edit.documentChanges[0] as TextDocumentEdit;
  assert.deepEqual(change.textDocument, { uri, version }, 'a versioned TextDocumentEdit');
  return change.edits;
}

async function hoverText(s: TestServer, uri: string, position: { line: number; character: number }): Promise<string> {
  const h = (await s.connection.sendRequest('textDocument/hover', { textDocument: { uri }, position })) as Hover | null;
  return h ? (h.contents as { value: string }).value : '';
}

/** Per fixture: fix-all on each pair gives its output; each not-applicable file gets no rewrite and a hover reason. */
function fixtureCases(server: () => { s: TestServer; dir: string }, data: { pairs: Pair[]; na: NotApplicable[] }): void {
  for (const pair of data.pairs) {
    it(`source.fixAll.sqlmigrate on ${pair.name} gives the reviewed output`, async () => {
      const { s, dir } = server();
      const uri = fileUri(path.join(dir, pair.name));
      s.open(uri, langOf(pair.name), pair.input, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      assert.ok(d.diagnostics.some((x) => x.code === 'raw-sql'), 'the input has raw SQL');
      const fixAll = (await actionsAt(s, uri, WHOLE, ['source.fixAll'])).filter((a) => a.kind === 'source.fixAll.sqlmigrate');
      assert.equal(fixAll.length, 1, JSON.stringify(fixAll));
      const after = applyLspEdits(pair.input, await resolveEdits(s, fixAll[0], uri, 1));
      assert.equal(after, pair.output);
      // The editor applies it: the rewritten statements are gone, and nothing is left to fix.
      s.change(uri, 2, after);
      const d2 = await s.diagnosticsFor(uri, (p) => p.version === 2);
      assert.ok(d2.diagnostics.filter((x) => x.code === 'raw-sql').length < d.diagnostics.filter((x) => x.code === 'raw-sql').length, 'fewer raw-sql findings');
      assert.deepEqual((await actionsAt(s, uri, WHOLE, ['source.fixAll'])).map((a) => a.title), [], 'nothing left for fix-all');
      s.close(uri);
    });
  }

  for (const n of data.na) {
    it(`${n.name}: no rewrite offered, and the hover says why (${n.reason})`, async () => {
      const { s, dir } = server();
      const uri = fileUri(path.join(dir, n.name));
      s.open(uri, 'typescript', n.text, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const raw = d.diagnostics.filter((x) => x.code === 'raw-sql');
      assert.ok(raw.length > 0, 'the fixture holds raw SQL');
      for (const diag of raw) {
        const titles = (await actionsAt(s, uri, diag.range)).map((a) => a.title);
        assert.ok(!titles.some((t) => t.startsWith('Rewrite')), `offered: ${titles.join(', ')}`);
        const md = await hoverText(s, uri, diag.range.start);
        assert.ok(md.includes('**No Knex rewrite:**') && md.includes(n.reason), `hover does not give the reason "${n.reason}":\n${md}`);
      }
      assert.deepEqual((await actionsAt(s, uri, WHOLE, ['source.fixAll'])).map((a) => a.title), [], 'no fix-all');
      s.close(uri);
    });
  }

}

describe('language server: Knex rewrites (fixture pairs as data)', function () {
  this.timeout(120000);
  const { pairs, na } = fixtureData();
  let dir: string;
  let s: TestServer;

  before(async () => {
    assert.ok(pairs.length >= 10 && na.length >= 8, `fixtures found: ${pairs.length} pairs, ${na.length} not applicable`);
    const files: Record<string, string> = {};
    for (const p of pairs) files[p.name] = p.input;
    for (const n of na) files[n.name] = n.text;
    dir = makeWorkspace(files);
    s = await startServer({ workspace: dir, settings: { debounce: 20, scanOnStartup: false } });
    await waitReady(s);
  });

  after(async () => {
    await s?.stop();
  });

  it('registers source.fixAll.sqlmigrate as a code action kind, with resolve', () => {
    assert.deepEqual(s.initializeResult?.capabilities.codeActionProvider, { codeActionKinds: ['quickfix', 'source.fixAll.sqlmigrate'], resolveProvider: true });
  });

  fixtureCases(() => ({ s, dir }), fixtureData());

  it('offers "Rewrite with Knex" (preferred) and the db.raw() action separately; the resolved edit gives the reviewed output', async () => {
    // Every pair whose input holds one rewritable statement: the single quick fix equals fix-all.
    let checked = 0;
    for (const pair of pairs) {
      const uri = fileUri(path.join(dir, pair.name));
      s.open(uri, langOf(pair.name), pair.input, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const raw = d.diagnostics.filter((x) => x.code === 'raw-sql');
      if (raw.length === 1) {
        const actions = await actionsAt(s, uri, raw[0].range, undefined, raw);
        const knex = actions.filter((a) => a.title === 'Rewrite with Knex');
        assert.equal(knex.length, 1, `${pair.name}: ${actions.map((a) => a.title).join(', ')}`);
        assert.equal(knex[0].kind, 'quickfix');
        assert.equal(knex[0].isPreferred, true);
        assert.deepEqual(knex[0].diagnostics, raw, 'the action fixes the diagnostic');
        assert.ok(actions.indexOf(knex[0]) === 0, 'the rewrite comes first');
        const rawAction = actions.find((a) => /^Wrap in db\.raw\(\)/.test(a.title));
        if (rawAction) assert.notEqual(rawAction.isPreferred, true, 'db.raw() is never the preferred fix');
        assert.equal(actions.filter((a) => a.title === 'Rewrite all verified statements in this file').length, 0, 'no "rewrite all" for a single statement');
        assert.equal(applyLspEdits(pair.input, await resolveEdits(s, knex[0], uri, 1)), pair.output, pair.name);
        checked++;
      }
      s.close(uri);
    }
    assert.ok(checked >= 3, `pairs with one statement: ${checked}`);
  });

  it('applies the db.raw() action: the SQL is kept with named bindings, the pg result reads stay', async () => {
    const pair = pairs.find((p) => p.name === 'pg-rows-first.ts')!;
    const expected = pair.input
      .replace("await pool.query('SELECT * FROM jobs WHERE id = $1', [id])", "await db.raw('SELECT * FROM jobs WHERE id = :id', { id })")
      .replace("import { db as other } from './legacy';\n", "import { db as other } from './legacy';\nimport { db } from './db';\n");
    assert.notEqual(expected, pair.input);
    const uri = fileUri(path.join(dir, pair.name));
    s.open(uri, 'typescript', pair.input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    const wrap = (await actionsAt(s, uri, d.diagnostics[0].range)).find((a) => a.title === 'Wrap in db.raw() (SQL kept, values bound by name)');
    assert.ok(wrap, 'offered');
    assert.equal(wrap.kind, 'quickfix');
    assert.equal(applyLspEdits(pair.input, await resolveEdits(s, wrap, uri, 1)), expected);
    s.close(uri);
  });

  it('offers "Rewrite all verified statements in this file" where a file has several statements', async () => {
    const pair = pairs.find((p) => p.name === 'pg-rows-first.ts')!;
    const uri = fileUri(path.join(dir, pair.name));
    s.open(uri, 'typescript', pair.input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    assert.ok(d.diagnostics.length >= 2);
    const all = (await actionsAt(s, uri, d.diagnostics[0].range)).find((a) => a.title === 'Rewrite all verified statements in this file');
    assert.ok(all, 'offered');
    assert.equal(all.kind, 'quickfix');
    assert.equal(applyLspEdits(pair.input, await resolveEdits(s, all, uri, 1)), pair.output);
    s.close(uri);
  });

  it('shows the verified Knex SQL on hover', async () => {
    const pair = pairs.find((p) => p.name === 'pg-rows-first.ts')!;
    const uri = fileUri(path.join(dir, pair.name));
    s.open(uri, 'typescript', pair.input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    const md = await hoverText(s, uri, d.diagnostics[0].range.start);
    assert.match(md, /Rewrite with Knex available \(verified\)/);
    assert.match(md, /```sql\nselect \* from "jobs" where "id" = \$1 limit \$2\n```/);
    assert.match(md, /Also available: `Wrap in db\.raw\(\) \(SQL kept, values bound by name\)` \(verified\)/);
    assert.doesNotMatch(md, /No rewrite available yet/);
    s.close(uri);
  });

  it('refuses a rewrite resolved against a stale document version', async () => {
    const pair = pairs.find((p) => p.name === 'pg-rows-first.ts')!;
    const uri = fileUri(path.join(dir, pair.name));
    s.open(uri, 'typescript', pair.input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    const actions = await actionsAt(s, uri, d.diagnostics[0].range);
    const knex = actions.find((a) => a.title === 'Rewrite with Knex');
    const all = actions.find((a) => a.title === 'Rewrite all verified statements in this file');
    const fixAll = (await actionsAt(s, uri, WHOLE, ['source.fixAll.sqlmigrate']))[0];
    assert.ok(knex && all && fixAll, actions.map((a) => a.title).join(', '));
    const before = s.messages.length;
    s.change(uri, 2, pair.input + '\n');
    await s.diagnosticsFor(uri, (p) => p.version === 2);
    for (const a of [knex, all, fixAll]) {
      const resolved = (await s.connection.sendRequest('codeAction/resolve', a)) as CodeAction;
      assert.equal(resolved.edit, undefined, `${a.title}: no edit for a stale version`);
    }
    await poll('a message about the stale quick fix', () => s.messages.slice(before).filter((m) => /changed since this quick fix was offered/.test(m.message)).length === 3 || undefined);
    s.close(uri);
  });

  it('says why raw SQL in Python gets no repository rewrite without a session factory', async () => {
    const uri = fileUri(path.join(dir, 'jobs.py'));
    s.open(uri, 'python', 'def find(cur, id):\n    cur.execute("SELECT id FROM jobs WHERE id = %s", (id,))\n    return cur.fetchone()\n', 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const md = await hoverText(s, uri, d.diagnostics[0].range.start);
    assert.match(md, /\*\*No repository rewrite:\*\* no session factory is configured: set `rewrite\.repository\.python\.session`/);
    assert.ok(!(await actionsAt(s, uri, d.diagnostics[0].range)).some((a) => a.title.startsWith('Rewrite')));
    s.close(uri);
  });
});

const TX_FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex-transaction');

/** Hand-written transactions → db.transaction() through the server, with test/fixtures/rewrite/knex-transaction as data. */
describe('language server: hand-written transactions (fixture pairs as data)', function () {
  this.timeout(120000);
  const { pairs, na } = fixtureFolder(TX_FIXTURES, 'tx-');
  let dir: string;
  let s: TestServer;

  before(async () => {
    assert.ok(pairs.length >= 4 && na.length >= 5, `fixtures found: ${pairs.length} pairs, ${na.length} not applicable`);
    dir = makeWorkspace(Object.fromEntries([...pairs.map((p) => [p.name, p.input]), ...na.map((n) => [n.name, n.text])]));
    s = await startServer({ workspace: dir, settings: { debounce: 20, scanOnStartup: false } });
    await waitReady(s);
  });

  after(async () => {
    await s?.stop();
  });

  for (const pair of pairs) {
    it(`${pair.name}: "Rewrite as db.transaction()" gives the reviewed output; the statements inside get no rewrite of their own`, async () => {
      const uri = fileUri(path.join(dir, pair.name));
      s.open(uri, langOf(pair.name), pair.input, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const tx = d.diagnostics.filter((x) => x.code === 'manual-transaction');
      assert.ok(tx.length > 0, 'the input has a hand-written transaction');
      const inside = d.diagnostics.filter((x) => x.code === 'raw-sql' && tx.some((t) => t.range.start.line <= x.range.start.line && x.range.end.line <= t.range.end.line));
      assert.ok(inside.length > 0, 'statements inside it');
      for (const diag of inside) {
        const titles = (await actionsAt(s, uri, diag.range, undefined, [diag])).map((a) => a.title);
        assert.ok(!titles.some((t) => t.startsWith('Rewrite with Knex') || t.startsWith('Wrap in db.raw')), `a statement inside the transaction was offered: ${titles.join(', ')}`);
        assert.match(await hoverText(s, uri, diag.range.start), /\*\*No Knex rewrite:\*\* it runs inside the hand-written transaction at line \d+/);
      }
      if (tx.length === 1) {
        const fix = (await actionsAt(s, uri, tx[0].range, undefined, tx)).find((a) => a.title.startsWith('Rewrite as db.transaction()'));
        assert.ok(fix, 'offered');
        assert.equal(fix.isPreferred, true);
        assert.equal(applyLspEdits(pair.input, await resolveEdits(s, fix, uri, 1)), pair.output);
        assert.match(await hoverText(s, uri, tx[0].range.start), /\*\*Rewrite as db\.transaction\(\) available \(verified\)\.\*\*/);
      }
      // Fix-all: the transactions first, then whatever the next passes rewrite in the result.
      const fixAll = (await actionsAt(s, uri, WHOLE, ['source.fixAll'])).filter((a) => a.kind === 'source.fixAll.sqlmigrate');
      assert.equal(fixAll.length, 1);
      const after = applyLspEdits(pair.input, await resolveEdits(s, fixAll[0], uri, 1));
      assert.ok(!/\.query\('(BEGIN|COMMIT|ROLLBACK)/.test(after), after);
      assert.ok(after.includes('db.transaction(async ('), after);
      s.close(uri);
    });
  }

  for (const n of na) {
    it(`${n.name}: no transaction rewrite, the hover says why (${n.reason}), and the statements inside wait`, async () => {
      const uri = fileUri(path.join(dir, n.name));
      s.open(uri, langOf(n.name), n.text, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const tx = d.diagnostics.filter((x) => x.code === 'manual-transaction');
      assert.ok(tx.length > 0, 'the fixture holds a hand-written transaction');
      for (const diag of tx) {
        const titles = (await actionsAt(s, uri, diag.range, undefined, [diag])).map((a) => a.title);
        assert.ok(!titles.some((t) => t.startsWith('Rewrite')), `offered: ${titles.join(', ')}`);
        const md = await hoverText(s, uri, diag.range.start);
        assert.ok(md.includes('**No Knex rewrite:**') && md.includes(n.reason), `hover does not give the reason "${n.reason}":\n${md}`);
      }
      s.close(uri);
    });
  }
});

const THREAD_FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'to-thread');

/** Blocking calls in `async def` → asyncio.to_thread through the server, with test/fixtures/rewrite/to-thread as data. */
describe('language server: sync-in-async quick fix (fixture pairs as data)', function () {
  this.timeout(120000);
  const { pairs, na } = fixtureFolder(THREAD_FIXTURES, 'thread-');
  const TITLE = 'Run in a worker thread (asyncio.to_thread)';
  let dir: string;
  let s: TestServer;

  before(async () => {
    assert.ok(pairs.length >= 5 && na.length >= 5, `fixtures found: ${pairs.length} pairs, ${na.length} not applicable`);
    await initSqlalchemyRewrite();
    dir = makeWorkspace(Object.fromEntries([...pairs.map((p) => [p.name, p.input]), ...na.map((n) => [n.name, n.text])]));
    s = await startServer({ workspace: dir, settings: { debounce: 20, scanOnStartup: false } });
    await waitReady(s);
  });

  after(async () => {
    await s?.stop();
  });

  for (const pair of pairs) {
    it(`${pair.name}: each offered quick fix parses and writes what the reviewed output holds; fix-all leaves threads alone`, async () => {
      const uri = fileUri(path.join(dir, pair.name));
      s.open(uri, 'python', pair.input, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const blocking = d.diagnostics.filter((x) => x.code === 'sync-in-async');
      assert.ok(blocking.length > 0, 'the input blocks the event loop');
      const outputLines = new Set(pair.output.split('\n'));
      let offered = 0;
      for (const diag of blocking) {
        const fix = (await actionsAt(s, uri, diag.range, undefined, [diag])).find((a) => a.title.startsWith(TITLE));
        if (!fix) continue;
        offered++;
        const after = applyLspEdits(pair.input, await resolveEdits(s, fix, uri, 1));
        assert.ok(pythonParses(after), `${pair.name}:${diag.range.start.line + 1} parses after the quick fix`);
        const added = after.split('\n').filter((l) => !pair.input.split('\n').includes(l));
        assert.ok(added.length > 0 && added.every((l) => outputLines.has(l)), `lines not in the reviewed output:\n${added.filter((l) => !outputLines.has(l)).join('\n')}`);
        assert.match(await hoverText(s, uri, diag.range.start), /\*\*Run in a worker thread \(asyncio\.to_thread\) available \(verified\)\.\*\*/);
      }
      assert.ok(offered > 0, 'at least one blocking call gets the quick fix');
      const fixAll = (await actionsAt(s, uri, WHOLE, ['source.fixAll'])).filter((a) => a.kind === 'source.fixAll.sqlmigrate');
      const threads = (t: string) => t.split('asyncio.to_thread(').length;
      if (fixAll.length) assert.equal(threads(applyLspEdits(pair.input, await resolveEdits(s, fixAll[0], uri, 1))), threads(pair.input), 'fix-all never moves work to a thread');
      s.close(uri);
    });
  }

  for (const n of na) {
    it(`${n.name}: not offered, and the hover says why (${n.reason})`, async () => {
      const uri = fileUri(path.join(dir, n.name));
      s.open(uri, 'python', n.text, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const blocking = d.diagnostics.filter((x) => x.code === 'sync-in-async');
      assert.ok(blocking.length > 0, 'the fixture blocks the event loop');
      const reasons: string[] = [];
      for (const diag of blocking) {
        const titles = (await actionsAt(s, uri, diag.range, undefined, [diag])).map((a) => a.title);
        assert.ok(!titles.some((t) => t.startsWith(TITLE)), `offered: ${titles.join(', ')}`);
        reasons.push(await hoverText(s, uri, diag.range.start));
      }
      assert.ok(reasons.some((md) => md.includes('**No asyncio.to_thread rewrite:**') && md.includes(n.reason)), `no hover gives the reason "${n.reason}":\n${reasons.join('\n---\n')}`);
      s.close(uri);
    });
  }
});

/** The driver of `pool.query` in jobs.ts comes from pool.ts, as in the CLI scan and fix. */
describe('language server: drivers across modules', function () {
  this.timeout(60000);
  const JOBS = "import { pool } from './pool';\n\nexport async function getJob(id: number) {\n  const res = await pool.query('SELECT * FROM jobs WHERE id = $1', [id]);\n  return res.rows;\n}\n";
  const CASES: Array<{ name: string; pool: string; offered: boolean; hover: RegExp }> = [
    { name: 'pg pool created in another module', pool: "import { Pool } from 'pg';\nexport const pool = new Pool();\n", offered: true, hover: /\| driver \| pg \|/ },
    { name: 'a pool whose driver is unknown', pool: "import { makePool } from './factory';\nexport const pool = makePool();\n", offered: false, hover: /\*\*No Knex rewrite:\*\* the driver is unknown/ },
  ];
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = makeWorkspace({ 'pool.ts': c.pool, 'jobs.ts': JOBS });
      const s = await startServer({ workspace: dir, settings: { debounce: 20 } });
      try {
        await waitReady(s);
        const uri = fileUri(path.join(dir, 'jobs.ts'));
        s.open(uri, 'typescript', JOBS, 1);
        const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
        const md = await hoverText(s, uri, d.diagnostics[0].range.start);
        assert.match(md, c.hover);
        const titles = (await actionsAt(s, uri, d.diagnostics[0].range)).map((a) => a.title);
        assert.equal(titles.includes('Rewrite with Knex'), c.offered, titles.join(', '));
      } finally {
        await s.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

const PY_FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'sqlalchemy2');

/** SQLAlchemy 2.0 rewrites through the server, with the fixture pairs of test/fixtures/rewrite/sqlalchemy2 as data. */
describe('language server: SQLAlchemy 2.0 rewrites (fixture pairs as data)', function () {
  this.timeout(120000);
  const { pairs, na } = fixtureFolder(PY_FIXTURES, '');
  let dir: string;
  let s: TestServer;

  before(async () => {
    assert.ok(pairs.length >= 8 && na.length >= 8, `fixtures found: ${pairs.length} pairs, ${na.length} not applicable`);
    await initSqlalchemyRewrite();
    dir = makeWorkspace(Object.fromEntries([...pairs.map((p) => [p.name, p.input]), ...na.map((n) => [n.name, n.text])]));
    s = await startServer({ workspace: dir, settings: { debounce: 20, scanOnStartup: false } });
    await waitReady(s);
  });

  after(async () => {
    await s?.stop();
  });

  for (const pair of pairs) {
    it(`${pair.name}: the quick fix is offered on each rewritable chain, and fix-all leaves no chain the output still rewrites`, async () => {
      const uri = fileUri(path.join(dir, pair.name));
      s.open(uri, 'python', pair.input, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const legacy = d.diagnostics.filter((x) => x.code === 'session-legacy-query');
      assert.ok(legacy.length > 0, 'the input has session.query() chains');
      let offered = 0;
      for (const diag of legacy) {
        const fix = (await actionsAt(s, uri, diag.range, undefined, [diag])).find((a) => a.title.startsWith('Rewrite in SQLAlchemy 2.0 style'));
        if (!fix) continue;
        offered++;
        assert.equal(fix.isPreferred, true);
        assert.ok(pythonParses(applyLspEdits(pair.input, await resolveEdits(s, fix, uri, 1))), `${pair.name} line ${diag.range.start.line + 1}: the file parses after the quick fix`);
      }
      assert.ok(offered > 0, 'at least one chain gets the quick fix');
      const fixAll = (await actionsAt(s, uri, WHOLE, ['source.fixAll'])).filter((a) => a.kind === 'source.fixAll.sqlmigrate');
      assert.equal(fixAll.length, 1, JSON.stringify(fixAll));
      assert.match(fixAll[0].title, /SQLAlchemy 2\.0/);
      const after = applyLspEdits(pair.input, await resolveEdits(s, fixAll[0], uri, 1));
      // Fix-all repeats passes (a chain nested in another is rewritten on the next one): it reaches
      // the reviewed one-pass output, or goes further from it by the same rewrites.
      s.change(uri, 2, pair.output);
      await s.diagnosticsFor(uri, (p) => p.version === 2);
      const more = (await actionsAt(s, uri, WHOLE, ['source.fixAll'])).filter((a) => a.kind === 'source.fixAll.sqlmigrate');
      const expected = more.length ? applyLspEdits(pair.output, await resolveEdits(s, more[0], uri, 2)) : pair.output;
      assert.equal(after, expected);
      s.change(uri, 3, after);
      await s.diagnosticsFor(uri, (p) => p.version === 3);
      assert.deepEqual((await actionsAt(s, uri, WHOLE, ['source.fixAll'])).map((a) => a.title), [], 'nothing left for fix-all');
      s.close(uri);
    });
  }

  for (const n of na) {
    it(`${n.name}: no rewrite offered, and the hover says why (${n.reason})`, async () => {
      const uri = fileUri(path.join(dir, n.name));
      s.open(uri, 'python', n.text, 1);
      const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
      const legacy = d.diagnostics.filter((x) => x.code === 'session-legacy-query');
      assert.ok(legacy.length > 0, 'the fixture holds session.query() chains');
      for (const diag of legacy) {
        const titles = (await actionsAt(s, uri, diag.range)).map((a) => a.title);
        assert.ok(!titles.some((t) => t.startsWith('Rewrite')), `offered: ${titles.join(', ')}`);
        const md = await hoverText(s, uri, diag.range.start);
        assert.ok(md.includes('**No SQLAlchemy 2.0 rewrite:**') && md.includes(n.reason), `hover does not give the reason "${n.reason}":\n${md}`);
      }
      s.close(uri);
    });
  }

  it('shows the 2.0 form on hover where the rewrite is verified', async () => {
    const pair = pairs[0];
    const uri = fileUri(path.join(dir, pair.name));
    s.open(uri, 'python', pair.input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    const hovers = await Promise.all(d.diagnostics.filter((x) => x.code === 'session-legacy-query').map((x) => hoverText(s, uri, x.range.start)));
    assert.ok(hovers.some((md) => /Rewrite in SQLAlchemy 2\.0 style available \(verified/.test(md) && /```python\n.+\n```/.test(md)), hovers.join('\n---\n'));
    s.close(uri);
  });
});

for (const group of fixtureGroups().filter((g) => g.extra)) {
  describe(`language server: Knex rewrites, ${group.driver}/ with its options.json`, function () {
    this.timeout(120000);
    let dir: string;
    let s: TestServer;

    before(async () => {
      assert.ok(group.pairs.length + group.na.length > 0, `fixtures in ${group.driver}/`);
      const files: Record<string, string> = {};
      for (const p of group.pairs) files[p.name] = p.input;
      for (const n of group.na) files[n.name] = n.text;
      dir = makeWorkspace(files, { ...CONFIG, rewrite: { ...CONFIG.rewrite, ...group.extra } });
      s = await startServer({ workspace: dir, settings: { debounce: 20, scanOnStartup: false } });
      await waitReady(s);
    });

    after(async () => {
      await s?.stop();
    });

    fixtureCases(() => ({ s, dir }), group);
  });
}

describe('language server: workspace templates and clients without resolve', function () {
  this.timeout(60000);
  const input = fs.readFileSync(path.join(FIXTURES, 'pg', 'where-tree.input.ts'), 'utf8');
  let dir: string;
  let s: TestServer | undefined;

  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  it('renders with the workspace\'s .sqlmigrate/templates/knex overrides', async () => {
    dir = makeWorkspace({
      'search.ts': input,
      // One step per line (the example in templates/README.md), marked so the test sees it was used.
      '.sqlmigrate/templates/knex/chain.liquid': '{{ instance }}({{ table }}){% for s in steps %}\n{{ indent }}    .{{ s.method }}({{ s.args }}){% endfor %}',
    });
    s = await startServer({ workspace: dir, settings: { debounce: 20, scanOnStartup: false } });
    await waitReady(s);
    const uri = fileUri(path.join(dir, 'search.ts'));
    s.open(uri, 'typescript', input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    const knex = (await actionsAt(s, uri, d.diagnostics[0].range)).find((a) => a.title === 'Rewrite with Knex')!;
    const after = applyLspEdits(input, await resolveEdits(s, knex, uri, 1));
    assert.match(after, /await db\('jobs'\)\n {6}\.select\('id', 'name'\)\n {6}\.where\(/);
  });

  it('never offers a rewrite whose file would not parse (a broken import template)', async () => {
    dir = makeWorkspace({
      'search.ts': input,
      // Renders `import { db from './db';`: the builder chain verifies, the file would not parse.
      '.sqlmigrate/templates/knex/import-esm.liquid': "import { {{ instance }} from '{{ module }}';",
    });
    s = await startServer({ workspace: dir, settings: { debounce: 20, scanOnStartup: false } });
    await waitReady(s);
    const uri = fileUri(path.join(dir, 'search.ts'));
    s.open(uri, 'typescript', input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1 && p.diagnostics.length > 0);
    const titles = (await actionsAt(s, uri, d.diagnostics[0].range)).map((a) => a.title);
    assert.ok(!titles.some((t) => /^(Rewrite|Wrap)/.test(t)), titles.join(', '));
    assert.deepEqual((await actionsAt(s, uri, WHOLE, ['source.fixAll'])).map((a) => a.title), []);
    assert.match(await hoverText(s, uri, d.diagnostics[0].range.start), /\*\*No Knex rewrite:\*\* the rewritten file would not parse/);
  });

  it('puts the edit in the action when the client cannot resolve, as plain changes without documentChanges', async () => {
    dir = makeWorkspace({ 'search.ts': input });
    s = await startServer({
      workspace: dir,
      settings: { debounce: 20, scanOnStartup: false },
      capabilities: { textDocument: { codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix', 'source'] } } } } },
    });
    await waitReady(s);
    const uri = fileUri(path.join(dir, 'search.ts'));
    s.open(uri, 'typescript', input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    const knex = (await actionsAt(s, uri, d.diagnostics[0].range)).find((a) => a.title === 'Rewrite with Knex')!;
    assert.ok(knex.edit?.changes?.[uri], JSON.stringify(knex));
    assert.equal(applyLspEdits(input, knex.edit.changes[uri]), fs.readFileSync(path.join(FIXTURES, 'pg', 'where-tree.output.ts'), 'utf8'));
  });
});

describe('language server: untrusted workspace (read-only)', function () {
  this.timeout(60000);
  let dir: string;
  let cacheDir: string;
  let s: TestServer;
  const input = fs.readFileSync(path.join(FIXTURES, 'pg', 'rows-first.input.ts'), 'utf8');

  before(async () => {
    dir = makeWorkspace({
      'jobs.ts': input,
      '.sqlmigrate/templates/knex/chain.liquid': '{{ inline }}',
    });
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-lsp-cache-'));
    s = await startServer({ workspace: dir, settings: { debounce: 20 }, initializationOptions: { trusted: false, cacheDir } });
    await waitReady(s);
  });

  after(async () => {
    await s?.stop();
  });

  it('still publishes diagnostics and answers hover, saying rewrites are off', async () => {
    const uri = fileUri(path.join(dir, 'jobs.ts'));
    s.open(uri, 'typescript', input, 1);
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    assert.equal(d.diagnostics.filter((x) => x.code === 'raw-sql').length, 2);
    const md = await hoverText(s, uri, d.diagnostics[0].range.start);
    assert.match(md, /FROM jobs/);
    assert.match(md, /No rewrite: this workspace is not trusted, so rewrites are off/);
    assert.doesNotMatch(md, /available \(verified\)/);
  });

  it('offers no rewrites and no edits, and resolves none', async () => {
    const uri = fileUri(path.join(dir, 'jobs.ts'));
    const d = await s.diagnosticsFor(uri, (p) => p.version === 1);
    const actions = [...(await actionsAt(s, uri, d.diagnostics[0].range)), ...(await actionsAt(s, uri, WHOLE, ['source.fixAll']))];
    assert.deepEqual(actions.filter((a) => a.edit || /Rewrite|Wrap|Keep/.test(a.title)).map((a) => a.title), []);
    // An action crafted by a client (or offered before trust was revoked) resolves to nothing.
    const forged = { title: 'Rewrite with Knex', kind: 'quickfix', data: { uri, version: 1, kind: 'rewrite', key: 'raw-sql@0:0-0:0', id: 'knex' } };
    const resolved = (await s.connection.sendRequest('codeAction/resolve', forged)) as CodeAction;
    assert.equal(resolved.edit, undefined);
  });

  it('refuses to record a baseline, and writes nothing: no baseline, no history, no cache', async () => {
    const r = await s.connection.sendRequest(RecordBaselineRequest.type, {});
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'untrusted');
    assert.match(!r.ok ? r.message : '', /not trusted/);
    const r2 = await s.connection.sendRequest(RecordBaselineRequest.type, { force: true });
    assert.equal(!r2.ok && r2.reason, 'untrusted');
    assert.ok(!fs.existsSync(path.join(dir, '.sqlmigrate', 'baseline.json')), 'no baseline.json');
    assert.ok(!fs.existsSync(path.join(dir, '.sqlmigrate', 'history.jsonl')), 'no history.jsonl');
    assert.deepEqual(fs.readdirSync(path.join(dir, '.sqlmigrate')), ['templates'], 'the workspace .sqlmigrate/ folder is as it was');
    // File events make the server save its cache when trusted; untrusted it stays empty.
    fs.writeFileSync(path.join(dir, 'more.ts'), "import { Pool } from 'pg';\nconst pool = new Pool();\nexport const n = () => pool.query('DELETE FROM sessions');\n");
    void s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: fileUri(path.join(dir, 'more.ts')), type: 1 }] });
    await poll('the new file counted', async () => {
      const p = (await s.connection.sendRequest('sqlmigrate/progress', {})) as { folders: Array<{ files: Array<{ path: string }> }> };
      return p.folders[0].files.some((f) => f.path === 'more.ts');
    });
    assert.deepEqual(fs.readdirSync(cacheDir), [], 'no cache files');
  });

  it('(control) the same workspace, trusted, does write its result cache', async () => {
    const trustedCache = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-lsp-cache-'));
    const t = await startServer({ workspace: dir, settings: { debounce: 20 }, initializationOptions: { cacheDir: trustedCache } });
    try {
      await waitReady(t);
      await poll('cache files', () => fs.readdirSync(trustedCache).length > 0);
    } finally {
      await t.stop();
    }
  });
});
