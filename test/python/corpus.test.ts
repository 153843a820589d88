/**
 * Execution equivalence on the realistic corpus (test/fixtures/corpus/sqlalchemy-legacy): its
 * `scheduler` package (plain SQLAlchemy: sessionmaker, scoped_session, get_session(), a
 * repository class, FastAPI-style CRUD) is rewritten exactly as the share test measures it
 * (test/unit/rewrite-python/corpus.ts, every pass), and both packages run side by side under
 * Debian's SQLAlchemy 1.4 with their own sessions on a seeded in-memory SQLite database
 * (corpus_harness.py, which lists the calls). Results, tables and session state must match, and
 * every function holding a rewritten query must be called. The `webapp` half is not executed: it
 * needs Flask-Login and app settings the tier does not provide.
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
}
interface CorpusOutput {
  sqlalchemy: string;
  results: Array<{ target: string; kwargs: Record<string, unknown>; original: Side | null; rewritten: Side | null }>;
  errors: Array<{ side: string; error: string }>;
}

/** Runs corpus_harness.py on two trees that each hold a `scheduler/` package. */
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

/** Functions (module:qualname) in which at least one finding was rewritten. */
function rewrittenFunctions(f: RewrittenFile): string[] {
  const mod = path.basename(f.rel, '.py');
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
    for (const rel of corpusFiles().filter((r) => r.startsWith('scheduler/'))) files.push(await rewriteCorpusFile(rel, detect));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-corpus-'));
    fs.mkdirSync(path.join(tmp, 'scheduler'));
    for (const f of files) fs.writeFileSync(path.join(tmp, f.rel), f.text);
    output = runCorpusHarness(CORPUS, tmp);
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('loads both packages and runs every call on both sides', () => {
    assert.deepEqual(output!.errors, []);
    assert.ok(output!.results.length > 100, `only ${output!.results.length} calls`);
    assert.ok(files.reduce((n, f) => n + f.rewritten, 0) > 80, 'the scheduler package is mostly rewritten');
  });

  it('every function holding a rewritten query is called', () => {
    const called = new Set(output!.results.map((r) => r.target));
    const functions = files.flatMap(rewrittenFunctions);
    assert.ok(functions.length > 60, `only ${functions.length} functions hold a rewritten query: ${functions.join(', ')}`);
    const missing = functions.filter((t) => !called.has(t));
    assert.deepEqual(missing, [], 'add calls for these functions to corpus_harness.py CALLS');
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
    const filled = output!.results.filter((r) => r.original && !empty(r.original.result));
    assert.ok(filled.length > output!.results.length * 0.7, `only ${filled.length} of ${output!.results.length} calls return data`);
  });

  it('the comparison can fail: a rewrite that drops an OFFSET is caught', () => {
    const crud = files.find((f) => f.rel === 'scheduler/crud.py')!;
    const broken = crud.text.replace(/\.offset\(skip\)/g, '');
    assert.notEqual(broken, crud.text);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-corpus-broken-'));
    try {
      fs.mkdirSync(path.join(dir, 'scheduler'));
      for (const f of files) fs.writeFileSync(path.join(dir, f.rel), f === crud ? broken : f.text);
      const out = runCorpusHarness(CORPUS, dir);
      const owners = out.results.filter((r) => r.target === 'crud:get_owners');
      assert.ok(owners.some((r) => JSON.stringify(r.original) !== JSON.stringify(r.rewritten)), 'the harness did not notice the difference');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
