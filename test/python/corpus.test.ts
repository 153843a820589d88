/**
 * Execution equivalence on the realistic corpus (test/fixtures/corpus/sqlalchemy-legacy): its
 * `scheduler` package (plain SQLAlchemy: sessionmaker, scoped_session, get_session(), a
 * repository class, FastAPI-style CRUD) and its `webapp` package (Flask, Flask-SQLAlchemy,
 * Flask-Login: views, API, services) are rewritten exactly as the share test measures them
 * (test/unit/rewrite-python/corpus.ts, every pass), and the original and rewritten packages run
 * side by side under Debian's SQLAlchemy 1.4 on seeded in-memory SQLite databases: the scheduler
 * with its own sessions, the webapp in a Flask app per side, each view called inside a test
 * request context with a user logged in where it needs one (corpus_harness.py, which lists the
 * calls). Results, tables, session state (and for the webapp, flashed messages) must match, and
 * every function holding a rewritten query must be called.
 */
import { spawnSync } from 'node:child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Finding } from '../../server/src/engine/types';
import { CORPUS, corpusDetectOptions, corpusFiles, rewriteCorpusFile, type RewrittenFile } from '../unit/rewrite-python/corpus';
import { HARNESS_DIR, PYTHON } from './run';

interface Side {
  result: unknown;
  flush: unknown;
  rows: Record<string, unknown[]>;
  session: unknown;
  /** webapp calls: the messages flash()ed during the call. */
  flashed?: unknown;
}
interface CorpusOutput {
  sqlalchemy: string;
  results: Array<{ target: string; kwargs: Record<string, unknown>; original: Side | null; rewritten: Side | null }>;
  errors: Array<{ side: string; error: string }>;
}

/** Runs corpus_harness.py on two trees that each hold `scheduler/` and `webapp/` packages. */
function runCorpusHarness(original: string, rewritten: string): CorpusOutput {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install python3 python3-sqlalchemy (.ci/run does)`);
  const r = spawnSync(PYTHON, [path.join(HARNESS_DIR, 'corpus_harness.py')], {
    input: JSON.stringify({ original, rewritten }),
    encoding: 'utf8',
    cwd: HARNESS_DIR,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`corpus_harness.py exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout) as CorpusOutput;
  if (!/^1\.4\./.test(out.sqlalchemy)) throw new Error(`expected SQLAlchemy 1.4 (Debian's python3-sqlalchemy), found ${out.sqlalchemy}`);
  return out;
}

/** `Class.method` or `function` around a zero-based line, as corpus_harness.py names its targets. */
export function enclosingFunction(text: string, line: number): string | undefined {
  const lines = text.split('\n');
  const indent = (s: string) => /^[ \t]*/.exec(s)![0].length;
  let limit = indent(lines[line] ?? '');
  let fn: string | undefined;
  for (let i = line; i >= 0; i--) {
    const m = /^([ \t]*)(?:async\s+)?def\s+(\w+)/.exec(lines[i]);
    if (m && m[1].length < limit) {
      fn = m[2];
      limit = m[1].length;
      if (limit === 0) return fn;
      continue;
    }
    const c = /^([ \t]*)class\s+(\w+)/.exec(lines[i]);
    if (fn && c && c[1].length < limit) return `${c[2]}.${fn}`;
  }
  return fn;
}

/**
 * Functions in which at least one finding was rewritten, named as corpus_harness.py names its
 * targets: `module:qualname` in the scheduler (`crud:get_owner`), the dotted module path in the
 * webapp (`webapp.views.posts:show`), so the two halves' modules cannot be taken for one another.
 */
function rewrittenFunctions(f: RewrittenFile): string[] {
  const mod = f.rel.startsWith('webapp/') ? f.rel.replace(/\.py$/, '').split('/').join('.') : path.basename(f.rel, '.py');
  const count = (text: string, findings: Finding[]) => {
    const m = new Map<string, number>();
    for (const x of findings) {
      const name = `${mod}:${enclosingFunction(text, x.range.start.line) ?? '<module>'}`;
      m.set(name, (m.get(name) ?? 0) + 1);
    }
    return m;
  };
  const before = count(f.original, f.before);
  const after = count(f.text, f.remaining);
  return [...before].filter(([name, n]) => n > (after.get(name) ?? 0)).map(([name]) => name);
}

describe('python: the realistic corpus executed as written and as rewritten', function () {
  this.timeout(300_000);
  let files: RewrittenFile[] = [];
  let tmp = '';
  let output: CorpusOutput | undefined;

  before(async () => {
    const detect = corpusDetectOptions();
    files = [];
    for (const rel of corpusFiles()) files.push(await rewriteCorpusFile(rel, detect));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-corpus-'));
    writeTree(tmp, files);
    output = runCorpusHarness(CORPUS, tmp);
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('loads both packages and runs every call on both sides', () => {
    assert.deepEqual(output!.errors, []);
    const { scheduler, webapp } = byHalf(output!.results);
    assert.ok(scheduler.length > 100, `only ${scheduler.length} scheduler calls`);
    assert.ok(webapp.length > 60, `only ${webapp.length} webapp calls`);
    const rewritten = (half: string) => files.filter((f) => f.rel.startsWith(`${half}/`)).reduce((n, f) => n + f.rewritten, 0);
    assert.ok(rewritten('scheduler') > 80, 'the scheduler package is mostly rewritten');
    assert.ok(rewritten('webapp') > 40, 'the webapp package is mostly rewritten');
  });

  it('every function holding a rewritten query is called', () => {
    const called = new Set(output!.results.map((r) => r.target));
    const functions = files.flatMap(rewrittenFunctions);
    const web = functions.filter((t) => t.startsWith('webapp.'));
    assert.ok(functions.length - web.length > 60, `only ${functions.length - web.length} scheduler functions hold a rewritten query: ${functions.join(', ')}`);
    assert.ok(web.length > 30, `only ${web.length} webapp functions hold a rewritten query: ${web.join(', ')}`);
    const missing = functions.filter((t) => !called.has(t));
    assert.deepEqual(missing, [], 'add calls for these functions to corpus_harness.py CALLS (scheduler) or WEB_CALLS (webapp)');
  });

  it('every call returns the same result and leaves the same rows and session state', () => {
    const differ: string[] = [];
    for (const r of output!.results) {
      try {
        assert.deepEqual(r.rewritten, r.original);
      } catch {
        differ.push(`${r.target}(${JSON.stringify(r.kwargs)})`);
      }
    }
    assert.deepEqual(differ, [], 'calls whose rewritten form behaves differently');
  });

  it('the calls reach data: most return something other than nothing', () => {
    const empty = (v: unknown) => v === null || (typeof v === 'object' && v !== null && 'list' in v && (v as { list: unknown[] }).list.length === 0);
    for (const [half, results] of Object.entries(byHalf(output!.results))) {
      const filled = results.filter((r) => r.original && !empty(r.original.result));
      assert.ok(filled.length > results.length * 0.7, `${half}: only ${filled.length} of ${results.length} calls return data`);
    }
  });

  it('the comparison can fail: a rewrite that drops an OFFSET (scheduler) or a bulk UPDATE\'s WHERE (webapp) is caught', () => {
    const crud = files.find((f) => f.rel === 'scheduler/crud.py')!;
    const admin = files.find((f) => f.rel === 'webapp/views/admin.py')!;
    const broken = new Map([
      [crud, crud.text.replace(/\.offset\(skip\)/g, '')],
      [admin, admin.text.replace('update(Comment).where(Comment.id.in_(ids))', 'update(Comment)')],
    ]);
    for (const [f, text] of broken) assert.notEqual(text, f.text, `${f.rel}: the planted bug did not apply`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-corpus-broken-'));
    try {
      writeTree(dir, files.map((f) => ({ ...f, text: broken.get(f) ?? f.text })));
      const out = runCorpusHarness(CORPUS, dir);
      for (const target of ['crud:get_owners', 'webapp.views.admin:approve_comments']) {
        const calls = out.results.filter((r) => r.target === target);
        assert.ok(calls.some((r) => JSON.stringify(r.original) !== JSON.stringify(r.rewritten)), `the harness did not notice the difference in ${target}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Writes the rewritten files under `dir` (scheduler/…, webapp/…, webapp/views/…). */
function writeTree(dir: string, files: Array<{ rel: string; text: string }>): void {
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f.rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, f.rel), f.text);
  }
}

/** The calls of each half: webapp targets start with `webapp.`. */
function byHalf<T extends { target: string }>(results: T[]): { scheduler: T[]; webapp: T[] } {
  return { scheduler: results.filter((r) => !r.target.startsWith('webapp.')), webapp: results.filter((r) => r.target.startsWith('webapp.')) };
}
