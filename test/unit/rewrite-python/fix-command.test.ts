/**
 * `sqlmigrate fix --target sqlalchemy2` over copies of the fixture tree and the example service:
 * JSON report (the knex target's shape), every changed file parses, a rescan finds exactly the
 * rewritten chains gone, --dry-run writes nothing, and the share of verified rewrites on the
 * detector's Python fixtures and the examples.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeText } from '../../../server/src/engine/analyze';
import { sqlalchemyRewriteActions } from '../../../server/src/engine/rewrite/python';
import { runFixCommand } from '../../../server/src/rewrite/fix';
import { DETECT, legacyFindings, pythonSyntaxErrors } from './check';

const REPO = path.join(__dirname, '..', '..', '..', '..');
const PYTHON = process.env.SQLMIGRATE_PYTHON ?? '/usr/bin/python3';
const FIXTURES = path.join(REPO, 'test', 'fixtures', 'rewrite', 'sqlalchemy2');

function copyDir(src: string, dst: string, skip: (name: string) => boolean = () => false): void {
  fs.mkdirSync(dst, { recursive: true });
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    if (skip(e.name)) continue;
    if (e.isDirectory()) copyDir(path.join(src, e.name), path.join(dst, e.name), skip);
    else fs.copyFileSync(path.join(src, e.name), path.join(dst, e.name));
  }
}

function listPy(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) listPy(p, out);
    else if (p.endsWith('.py')) out.push(p);
  }
  return out;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runFixCommand(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

interface Report {
  applied: Array<{ file: string; startLine: number; rule: string; target: string }>;
  skipped: Array<{ file: string; startLine: number; reason: string }>;
}

describe('rewrite-python: sqlmigrate fix --target sqlalchemy2', () => {
  it('applies verified rewrites; changed files parse; a rescan finds the rewritten chains gone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-py-'));
    copyDir(FIXTURES, path.join(dir, 'fixtures'), (n) => n.includes('.output.'));
    copyDir(path.join(REPO, 'examples'), path.join(dir, 'examples'));
    const before = new Map(listPy(dir).map((f) => [path.relative(dir, f).split(path.sep).join('/'), fs.readFileSync(f, 'utf8')]));
    const counts = new Map<string, number>();
    for (const [rel, text] of before) counts.set(rel, (await legacyFindings(text, rel)).length);

    const dry = await run([dir, '--target', 'sqlalchemy2', '--dry-run', '--format', 'json']);
    assert.equal(dry.code, 0, dry.err);
    for (const [rel, text] of before) assert.equal(fs.readFileSync(path.join(dir, rel), 'utf8'), text, `--dry-run wrote ${rel}`);

    const { code, out, err } = await run([dir, '--target', 'sqlalchemy2', '--rule', 'session-legacy-query', '--format', 'json']);
    assert.equal(code, 0, err);
    const report = JSON.parse(out) as Report;
    assert.deepEqual(report, JSON.parse(dry.out), 'the dry run reports what the run does');
    assert.ok(report.applied.length >= 35, `applied ${report.applied.length}`);
    assert.ok(report.applied.every((a) => a.rule === 'session-legacy-query' && a.target === 'sqlalchemy2'));
    assert.ok(report.skipped.some((s) => s.file === 'fixtures/na-query-object.py'));
    assert.ok(report.applied.some((a) => a.file === 'examples/py-service/app/api/jobs.py'));
    const changedPy: string[] = [];
    for (const [rel, old] of before) {
      const now = fs.readFileSync(path.join(dir, rel), 'utf8');
      const appliedHere = report.applied.filter((a) => a.file === rel).length;
      if (!appliedHere) {
        assert.equal(now, old, `${rel} changed without an applied rewrite`);
        continue;
      }
      assert.deepEqual(await pythonSyntaxErrors(now), [], `${rel} must parse`);
      assert.equal((await legacyFindings(now, rel)).length, counts.get(rel)! - appliedHere, `${rel}: a rescan still finds rewritten chains`);
      changedPy.push(path.join(dir, rel));
    }
    // Every changed file compiles with CPython too (bytecode kept out of the tree).
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-pycache-'));
    const compiled = spawnSync(PYTHON, ['-m', 'py_compile', ...changedPy], { encoding: 'utf8', env: { ...process.env, PYTHONPYCACHEPREFIX: cache } });
    fs.rmSync(cache, { recursive: true, force: true });
    assert.ok(changedPy.length >= 5, `changed ${changedPy.length} files`);
    assert.equal(compiled.status, 0, `python3 -m py_compile: ${compiled.stderr}`);
    // A second run finds nothing more to do.
    const again = JSON.parse((await run([dir, '--target', 'sqlalchemy2', '--format', 'json'])).out) as Report;
    assert.equal(again.applied.length, 0);
  });

  it('uses workspace template overrides, and a template that changes the query gets no write', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-py-tpl-'));
    const src = 'from sqlm_models import Job\n\n\ndef f(session):\n    return session.query(Job).filter(Job.id > 1).order_by(Job.id).all()\n\n\ndef g(session):\n    return session.query(Job).count()\n';
    fs.writeFileSync(path.join(dir, 'a.py'), src);
    fs.mkdirSync(path.join(dir, '.sqlmigrate', 'templates', 'sqlalchemy2'), { recursive: true });
    // Layout: the statement in a variable-free one-liner with spaces after commas is the default; force one step per line.
    fs.writeFileSync(path.join(dir, '.sqlmigrate', 'templates', 'sqlalchemy2', 'statement.liquid'), '{% if base %}{{ base }}{% else %}{{ head }}({{ args }}){% endif %}{% for s in steps %}\n{{ inner }}.{{ s.method }}({{ s.args }}){% endfor %}');
    // A count template that drops the filter-free select_from: changes the query, never applied.
    fs.writeFileSync(path.join(dir, '.sqlmigrate', 'templates', 'sqlalchemy2', 'count.liquid'), '{{ session }}.execute(select(func.count())).scalar_one()');
    const { code, out } = await run([dir, '--target', 'sqlalchemy2', '--format', 'json']);
    assert.equal(code, 0);
    const report = JSON.parse(out) as Report;
    assert.deepEqual(report.applied.map((a) => a.startLine), [5]);
    assert.equal(report.skipped.length, 1);
    assert.match(report.skipped[0].reason, /not verified/);
    const now = fs.readFileSync(path.join(dir, 'a.py'), 'utf8');
    assert.match(now, /session\.execute\(select\(Job\)\n {8}\.where\(Job\.id > 1\)\n {8}\.order_by\(Job\.id\)\)\.scalars\(\)\.all\(\)/);
    assert.deepEqual(await pythonSyntaxErrors(now), []);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to write over uncommitted git changes unless --force (--dry-run always reports)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-py-git-'));
    const git = (...args: string[]) => {
      const r = spawnSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    const src = 'from sqlm_models import Job\n\n\ndef f(session):\n    return session.query(Job).all()\n';
    fs.writeFileSync(path.join(dir, 'a.py'), src);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'v1\n');
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'init');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'v2\n');
    const refused = await run([dir, '--target', 'sqlalchemy2']);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /uncommitted changes \(notes\.txt\)/);
    assert.equal(fs.readFileSync(path.join(dir, 'a.py'), 'utf8'), src);
    assert.equal((await run([dir, '--target', 'sqlalchemy2', '--dry-run'])).code, 0);
    assert.equal(fs.readFileSync(path.join(dir, 'a.py'), 'utf8'), src);
    const forced = await run([dir, '--target', 'sqlalchemy2', '--force']);
    assert.equal(forced.code, 0, forced.err);
    assert.match(fs.readFileSync(path.join(dir, 'a.py'), 'utf8'), /session\.execute\(select\(Job\)\)\.scalars\(\)\.all\(\)/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a rule the target does not rewrite, and unknown targets', async () => {
    assert.equal((await run([fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-usage-')), '--target', 'sqlalchemy2', '--rule', 'raw-sql'])).code, 2);
    assert.equal((await run([fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fix-usage-')), '--target', 'hibernate'])).code, 2);
  });

  it('reports the share of verified rewrites on the detector fixtures and the examples', async () => {
    let total = 0;
    let offered = 0;
    const reasons = new Map<string, number>();
    for (const f of [...listPy(path.join(REPO, 'test', 'fixtures', 'detect', 'python')), ...listPy(path.join(REPO, 'examples'))]) {
      const text = fs.readFileSync(f, 'utf8');
      const r = await analyzeText(text, f, DETECT);
      for (const finding of r.findings.filter((x) => x.rule === 'session-legacy-query')) {
        total++;
        const [a] = sqlalchemyRewriteActions(text, f, finding);
        if (a.verified) offered++;
        else {
          const key = a.reasonNotOffered!.replace(/`[^`]*`/g, '`…`');
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        }
      }
    }
    console.log(`      ${offered}/${total} session-legacy-query findings get a verified rewrite; the rest: ${JSON.stringify([...reasons])}`);
    assert.ok(total >= 30, `only ${total} findings`);
    assert.ok(offered / total >= 0.75, `${offered}/${total} rewritten`);
  });
});
