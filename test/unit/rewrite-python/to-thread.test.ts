/**
 * The `sync-in-async` → `await asyncio.to_thread(...)` fix (test/fixtures/rewrite/to-thread/):
 * `<shape>.input.py` → `<shape>.output.py` (every verified fix applied with toThreadFixAll must
 * give the output; the output parses with tree-sitter-python and `python3 -m py_compile`; a
 * rescan reports no sync-in-async inside the moved code and exactly the applied ones gone, and
 * every other finding unchanged), and `na-<case>.py` files whose first line is
 * `# not applicable: <reason substring>` (no fix for any sync-in-async finding, with that reason).
 * Refresh outputs after review with UPDATE_GOLDEN=1.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Node } from 'web-tree-sitter';
import { analyzeText, initEngine } from '../../../server/src/engine/analyze';
import { parseSafely } from '../../../server/src/engine/detect/python/parser';
import type { Finding } from '../../../server/src/engine/types';
import { applyTextEdits, SQLALCHEMY_TEMPLATE_NAMES, TO_THREAD_TITLE, defaultSqlalchemyTemplates, toThreadFixAll, toThreadRewriteActions, type ToThreadOptions } from '../../../server/src/engine/rewrite/python';
import { DETECT, pythonSyntaxErrors } from './check';

export const TO_THREAD_FIXTURES = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'to-thread');
const PYTHON = process.env.SQLMIGRATE_PYTHON ?? '/usr/bin/python3';
const OPTIONS: ToThreadOptions = { detect: DETECT };

async function findings(text: string, fileName: string): Promise<Finding[]> {
  return (await analyzeText(text, fileName, DETECT)).findings;
}

async function syncFindings(text: string, fileName: string): Promise<Finding[]> {
  return (await findings(text, fileName)).filter((f) => f.rule === 'sync-in-async');
}

async function fixAll(before: string, fileName: string, options: ToThreadOptions = OPTIONS): Promise<{ text: string; applied: number; skipped: string[]; findings: number }> {
  const fs0 = await syncFindings(before, fileName);
  const fix = toThreadFixAll(before, fileName, fs0, options);
  return { text: applyTextEdits(before, fix.edits), applied: fix.applied.length, skipped: fix.skipped.map((s) => s.reason), findings: fs0.length };
}

/** `python3 -m py_compile` on the text (in a temporary folder, so no .pyc lands in the tree). */
function pyCompile(text: string, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlm-pycompile-'));
  try {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    const r = spawnSync(PYTHON, ['-m', 'py_compile', file], { encoding: 'utf8', env: { ...process.env, PYTHONPYCACHEPREFIX: dir } });
    if (r.error) throw r.error;
    return r.status === 0 ? '' : r.stderr.trim() || `exit ${r.status}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Line ranges of every `await asyncio.to_thread(...)` in the text. */
async function toThreadSpans(text: string): Promise<Array<[number, number]>> {
  await initEngine();
  const { tree } = parseSafely(text);
  assert.ok(tree);
  try {
    const out: Array<[number, number]> = [];
    const stack: Node[] = [tree.rootNode];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.type === 'await' && /^await\s+asyncio\.to_thread\(/.test(n.text)) out.push([n.startPosition.row, n.endPosition.row]);
      for (let i = 0; i < n.namedChildCount; i++) {
        const c = n.namedChild(i);
        if (c) stack.push(c);
      }
    }
    return out;
  } finally {
    tree.delete();
  }
}

function countByRule(fs0: Finding[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of fs0) out[f.rule] = (out[f.rule] ?? 0) + 1;
  return out;
}

async function check(before: string, after: string, fileName: string): Promise<void> {
  const { text, applied, findings: n } = await fixAll(before, fileName);
  assert.equal(text, after);
  assert.ok(applied > 0, 'no fix was applied');
  assert.deepEqual(await pythonSyntaxErrors(text), [], 'the rewritten file must parse with tree-sitter');
  assert.equal(pyCompile(text, fileName.replace(/\.input\.py$/, '.py')), '', 'the rewritten file must compile with python3 -m py_compile');
  const again = await findings(text, fileName);
  const sync = again.filter((f) => f.rule === 'sync-in-async');
  assert.equal(sync.length, n - applied, `a rescan finds ${sync.length} sync-in-async; expected ${n - applied}`);
  const spans = await toThreadSpans(text);
  assert.ok(spans.length >= applied, `${spans.length} to_thread calls for ${applied} fixes`);
  for (const f of sync) {
    assert.ok(!spans.some(([a, b]) => f.range.start.line >= a && f.range.start.line <= b), `sync-in-async left at line ${f.range.start.line + 1}, inside a to_thread call`);
  }
  const { 'sync-in-async': _a, ...otherBefore } = countByRule(await findings(before, fileName));
  const { 'sync-in-async': _b, ...otherAfter } = countByRule(again);
  assert.deepEqual(otherAfter, otherBefore, 'every other finding (raw SQL, legacy queries) is still reported');
}

async function checkNotApplicable(src: string, reason: string, fileName: string): Promise<void> {
  const fs0 = await syncFindings(src, fileName);
  assert.ok(fs0.length > 0, 'the fixture holds no sync-in-async finding');
  for (const f of fs0) {
    const [action] = toThreadRewriteActions(src, fileName, f, OPTIONS);
    assert.equal(action.title, TO_THREAD_TITLE);
    assert.equal(action.target, 'to-thread');
    assert.equal(action.verified, false, `a fix was offered at line ${f.range.start.line + 1}: ${action.rendered}`);
    assert.deepEqual(action.edits, []);
    assert.ok(action.reasonNotOffered?.includes(reason), `line ${f.range.start.line + 1}: reason "${action.reasonNotOffered}" does not mention "${reason}"`);
  }
  const all = toThreadFixAll(src, fileName, fs0, OPTIONS);
  assert.deepEqual(all.edits, []);
  assert.equal(all.skipped.length, fs0.length);
}

describe('rewrite: sync-in-async → asyncio.to_thread fixture pairs', () => {
  const files = fs.readdirSync(TO_THREAD_FIXTURES).sort();
  it('has pairs and not-applicable cases', () => {
    if (files.filter((f) => f.endsWith('.input.py')).length < 5) throw new Error('too few fixture pairs');
    if (files.filter((f) => f.startsWith('na-')).length < 5) throw new Error('too few not-applicable fixtures');
  });
  for (const file of files) {
    const full = path.join(TO_THREAD_FIXTURES, file);
    const m = /^(.*)\.input\.py$/.exec(file);
    if (m) {
      it(`${m[1]} (input → output)`, async () => {
        const before = fs.readFileSync(full, 'utf8');
        const outFile = path.join(TO_THREAD_FIXTURES, `${m[1]}.output.py`);
        if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(outFile, (await fixAll(before, file)).text);
        await check(before, fs.readFileSync(outFile, 'utf8'), file);
      });
    } else if (file.startsWith('na-') && file.endsWith('.py')) {
      it(`${file} (not applicable)`, async () => {
        const src = fs.readFileSync(full, 'utf8');
        const reason = /^# not applicable: (.*)$/m.exec(src)?.[1]?.trim() ?? '';
        if (!reason) throw new Error('the first line must be "# not applicable: <reason>"');
        await checkNotApplicable(src, reason, file);
      });
    }
  }
});

describe('rewrite: asyncio.to_thread shapes', () => {
  const one = async (src: string, options: ToThreadOptions = OPTIONS) => {
    const [f] = await syncFindings(src, 'shape.py');
    assert.ok(f, 'no sync-in-async finding');
    const [a] = toThreadRewriteActions(src, 'shape.py', f, options);
    return { a, text: a.verified ? applyTextEdits(src, a.edits) : undefined };
  };
  // A sync function with a legacy query: the detector's prefilter needs a `.query(` or SQL somewhere.
  const LEGACY = 'def legacy(session: Session):\n    return session.query(Job).all()\n\n\n';
  const SESSION = `import asyncio\nfrom sqlalchemy.orm import Session\nfrom app.models import Job\n\n\n${LEGACY}`;

  it('a plain call passes the callee and arguments (evaluated on the loop, as before)', async () => {
    const { a } = await one(`${SESSION}async def f(session: Session, job: Job):\n    session.refresh(job, ["name"])\n`);
    assert.equal(a.rendered, 'await asyncio.to_thread(session.refresh, job, ["name"])');
  });

  it('a call with raw SQL moves inside a lambda, so the inventory still sees the SQL', async () => {
    const src = 'import sqlite3\n\n\nasync def f(n):\n    conn = sqlite3.connect("x.db", check_same_thread=False)\n    conn.execute("DELETE FROM jobs WHERE id = ?", (n,))\n';
    const { a, text } = await one(src);
    assert.equal(a.rendered, 'await asyncio.to_thread(lambda: conn.execute("DELETE FROM jobs WHERE id = ?", (n,)))');
    assert.match(text!, /^import asyncio\nimport sqlite3\n/);
    const raw = (t: string) => findings(t, 'shape.py').then((x) => x.filter((f) => f.rule === 'raw-sql').length);
    assert.equal(await raw(text!), await raw(src));
  });

  it('`return` and assignments keep their statement; the chain on the result moves with the call', async () => {
    const { a } = await one(`${SESSION}async def f(session: Session):\n    return session.query(Job).order_by(Job.id).first().name\n`);
    assert.equal(a.rendered, 'await asyncio.to_thread(lambda: session.query(Job).order_by(Job.id).first().name)');
  });

  it('a local session created in the coroutine is its own (not shared)', async () => {
    const { a } = await one(`${SESSION}from app.db import SessionLocal\n\n\nasync def f():\n    s = SessionLocal()\n    s.commit()\n`);
    assert.equal(a.verified, true, a.reasonNotOffered);
  });

  it('a parameter whose default is shared by every call is refused', async () => {
    const { a } = await one(`${SESSION}from app.db import SessionLocal\n\n\nasync def f(s: Session = SessionLocal()):\n    s.commit()\n`);
    assert.match(a.reasonNotOffered ?? '', /default value/);
  });

  it('an object imported from another module is shared: refused', async () => {
    const { a } = await one(`${SESSION}from app.db import session\n\n\nasync def f():\n    session.commit()\n`);
    assert.match(a.reasonNotOffered ?? '', /module-level/);
  });

  it('`asyncio` bound to something else is refused', async () => {
    const { a } = await one(`from sqlalchemy.orm import Session\nfrom app.models import Job\n\n\n${LEGACY}async def f(session: Session, asyncio=None):\n    session.commit()\n`);
    assert.match(a.reasonNotOffered ?? '', /`asyncio` is bound/);
  });

  it('`from sqlalchemy.ext.asyncio import …` does not bind `asyncio`', async () => {
    const { a, text } = await one(`from sqlalchemy.ext.asyncio import AsyncSession\nfrom sqlalchemy.orm import Session\nfrom app.models import Job\n\n\n${LEGACY}async def f(session: Session):\n    session.commit()\n`);
    assert.equal(a.verified, true, a.reasonNotOffered);
    assert.match(text!, /^import asyncio\n\nfrom sqlalchemy\.ext\.asyncio/);
  });

  it('a template that changes the call is not offered', async () => {
    const templates = { ...defaultSqlalchemyTemplates(), to_thread: 'await {{ asyncio }}.to_thread({{ fn }})' };
    const { a } = await one(`${SESSION}async def f(session: Session, job: Job):\n    session.refresh(job)\n`, { ...OPTIONS, templates });
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered ?? '', /not verified/);
  });

  it('a scoped_session registry resolves per thread: refused', async () => {
    const { a } = await one(`${SESSION}from sqlalchemy.orm import scoped_session, sessionmaker\n\n\nasync def f():\n    s = scoped_session(sessionmaker())\n    s.commit()\n`);
    assert.match(a.reasonNotOffered ?? '', /scoped_session registry/);
  });

  it('an asynchronous comprehension cannot move into a thread', async () => {
    const { a } = await one(`${SESSION}async def f(session: Session, ids):\n    return session.query(Job).filter(Job.id.in_([i async for i in ids])).all()\n`);
    assert.match(a.reasonNotOffered ?? '', /async for/);
  });

  it('CRLF files keep CRLF line ends', async () => {
    const src = `from sqlalchemy.orm import Session\nfrom app.models import Job\n\n\n${LEGACY}async def f(session: Session):\n    session.commit()\n`.replace(/\n/g, '\r\n');
    const { a, text } = await one(src);
    assert.equal(a.verified, true, a.reasonNotOffered);
    assert.ok(text!.startsWith('import asyncio\r\n\r\nfrom sqlalchemy.orm import Session\r\n'), JSON.stringify(text!.slice(0, 60)));
    assert.doesNotMatch(text!, /[^\r]\n/);
  });

  it('a nested plain def is not the coroutine; a call after `await` in the same statement is refused', async () => {
    const src = `${SESSION}async def f(session: Session):\n    await asyncio.sleep(0) or session.commit()\n`;
    const [f] = await syncFindings(src, 'shape.py');
    if (f) assert.equal(toThreadRewriteActions(src, 'shape.py', f, OPTIONS)[0].verified, false);
  });

  it('a session handed to another task or stored on an object is refused', async () => {
    const task = await one(`${SESSION}async def work(s):\n    pass\n\n\nasync def f(session: Session):\n    t = asyncio.create_task(work(session))\n    session.commit()\n    await t\n`);
    assert.match(task.a.reasonNotOffered ?? '', /handed to `asyncio.create_task/);
    const stored = await one(`${SESSION}async def f(session: Session, app):\n    app.state.db = session\n    session.commit()\n`);
    assert.match(stored.a.reasonNotOffered ?? '', /handed to `app.state.db`/);
  });

  it('cleanup in a `finally` block is refused (cancellation would leave it running)', async () => {
    const { a } = await one(`${SESSION}async def f(session: Session):\n    try:\n        pass\n    finally:\n        session.rollback()\n`);
    assert.match(a.reasonNotOffered ?? '', /`finally` block/);
  });

  it('a session factory call is not moved (no I/O; a scoped factory would pick the thread\'s session)', async () => {
    const src = `${SESSION}from app.db import get_session\n\n\nasync def f():\n    s = get_session()\n    return s.query(Job).all()\n`;
    const fs0 = await syncFindings(src, 'shape.py');
    const factory = fs0.find((f) => f.callee === 'get_session')!;
    assert.match(toThreadRewriteActions(src, 'shape.py', factory, OPTIONS)[0].reasonNotOffered ?? '', /creates a session/);
    const query = fs0.find((f) => f.callee === 's.query')!;
    assert.equal(toThreadRewriteActions(src, 'shape.py', query, OPTIONS)[0].verified, true);
  });

  it('a call inside a lambda is refused (the detector reports none there; a finding given anyway)', async () => {
    const src = `${SESSION}async def f(session: Session):\n    session.commit()\n    return lambda: session.commit()\n`;
    const [f] = await syncFindings(src, 'shape.py');
    const line = src.split('\n').findIndex((l) => l.includes('lambda: session.commit()'));
    const character = src.split('\n')[line].indexOf('session.commit()');
    const inLambda = { ...f, range: { start: { line, character }, end: { line, character: character + 'session.commit()'.length } } };
    assert.match(toThreadRewriteActions(src, 'shape.py', inLambda, OPTIONS)[0].reasonNotOffered ?? '', /inside a lambda/);
  });

  it('other rules are not this fix', async () => {
    const src = `${SESSION}async def f(session: Session):\n    return session.query(Job).all()\n`;
    const legacy = (await findings(src, 'shape.py')).find((f) => f.rule === 'session-legacy-query')!;
    assert.match(toThreadRewriteActions(src, 'shape.py', legacy, OPTIONS)[0].reasonNotOffered ?? '', /only sync-in-async/);
  });

  it('the to_thread template is one of the SQLAlchemy template names (workspace overrides)', () => {
    assert.ok((SQLALCHEMY_TEMPLATE_NAMES as readonly string[]).includes('to_thread'));
  });
});
