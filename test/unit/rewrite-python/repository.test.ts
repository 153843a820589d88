/**
 * Raw SQL call sites → SQLAlchemy 2.0 repository methods (issue #5): the fixture folders of
 * test/fixtures/rewrite/repository-py through repositoryCheck.ts, and the options and templates
 * around them. Refresh outputs after review with UPDATE_GOLDEN=1.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initEngine } from '../../../server/src/engine/analyze';
import { defaultPythonRepositoryTemplates, pythonRepositoryActions, pythonRepositoryFixAll, PY_REPOSITORY_TEMPLATE_NAMES } from '../../../server/src/engine/rewrite/python/repository';
import { applyTextEdits } from '../../../server/src/engine/rewrite/python/tree';
import { CALL_SITE, CONFIG, checkCase, checkNotApplicable, options, rawFindings, REPO_FIXTURES, updateCase, workspaceReader } from './repositoryCheck';

const GET_JOB = `import sqlite3

from sqlm_repo_db import get_db


def get_job(job_id):
    with get_db() as conn:
        return conn.execute("SELECT id, name FROM jobs WHERE id = ?", (job_id,)).fetchone()
`;

describe('rewrite: raw SQL → SQLAlchemy repository (fixture folders)', () => {
  before(async () => {
    await initEngine();
  });
  const entries = fs.readdirSync(REPO_FIXTURES, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  const cases = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const na = entries.filter((e) => e.isFile() && /^na-.*\.py$/.test(e.name)).map((e) => e.name);
  it('has cases and not-applicable files', () => {
    assert.ok(cases.length >= 7, `${cases.length} cases`);
    assert.ok(na.length >= 10, `${na.length} not-applicable files`);
  });
  for (const c of cases) {
    it(`${c} (input → output + repository files)`, async () => {
      const dir = path.join(REPO_FIXTURES, c);
      if (process.env.UPDATE_GOLDEN === '1') await updateCase(dir);
      await checkCase(dir);
    });
  }
  for (const file of na) {
    it(`${file} (not applicable)`, async () => {
      const src = fs.readFileSync(path.join(REPO_FIXTURES, file), 'utf8');
      const reason = /^# not applicable: (.*)$/m.exec(src.split('\n')[0])?.[1]?.trim() ?? '';
      if (!reason) throw new Error('the first line must be "# not applicable: <reason>"');
      await checkNotApplicable(src, reason, CALL_SITE);
    });
  }
});

describe('rewrite: SQLAlchemy repository options', () => {
  before(async () => {
    await initEngine();
  });

  it('is not offered without a configured session factory, and says which setting to set', async () => {
    await checkNotApplicable(GET_JOB, 'rewrite.repository.python.session', CALL_SITE, options(undefined, { config: { ...CONFIG, session: undefined } }));
  });

  it('is not offered without a mapped class for the table', async () => {
    await checkNotApplicable(GET_JOB, 'no mapped class for table "jobs" (Generate model from CREATE TABLE, or map one)', CALL_SITE, options(undefined, { models: [] }));
  });

  it('offers one verified action with the method, the edits and the new repository file', async () => {
    const [f] = await rawFindings(GET_JOB);
    const [a] = pythonRepositoryActions(GET_JOB, CALL_SITE, f, options());
    assert.equal(a.verified, true, a.reasonNotOffered);
    assert.equal(a.target, 'repository');
    assert.deepEqual(a.method, { className: 'JobRepository', name: 'get_by_id', file: 'repositories/job_repository.py', fingerprint: 'SELECT id, name FROM jobs WHERE id = ? | one', reused: false });
    assert.equal(a.files.length, 1);
    assert.equal(a.files[0].before, undefined);
    assert.match(a.files[0].after, /class JobRepository:\n/);
    assert.match(applyTextEdits(GET_JOB, a.edits), /with get_session\(\) as session:\n        return JobRepository\(session\)\.get_by_id\(job_id\)\n/);
  });

  it('a second file reuses the method the first one added (the host hands back the new repository text)', async () => {
    const [f] = await rawFindings(GET_JOB);
    const first = pythonRepositoryFixAll(GET_JOB, CALL_SITE, [f], options());
    const repo = first.files[0];
    const other = GET_JOB.replace('def get_job(', 'def load_job(');
    const [g] = await rawFindings(other, 'other.py');
    const [a] = pythonRepositoryActions(other, 'other.py', g, options(undefined, { readFile: (rel) => (rel === repo.file ? repo.after : workspaceReader()(rel)) }));
    assert.equal(a.verified, true, a.reasonNotOffered);
    assert.equal(a.method?.reused, true);
    assert.deepEqual(a.files, []);
  });

  it('the repository folder comes from the config', async () => {
    const [f] = await rawFindings(GET_JOB);
    const [a] = pythonRepositoryActions(GET_JOB, CALL_SITE, f, options(undefined, { config: { ...CONFIG, dir: 'app/repos/' } }));
    assert.equal(a.method?.file, 'app/repos/job_repository.py');
    assert.match(applyTextEdits(GET_JOB, a.edits), /from app\.repos\.job_repository import JobRepository/);
  });

  it('a template may change the layout; the method is still read back before it is offered', async () => {
    const [f] = await rawFindings(GET_JOB);
    const t = { ...defaultPythonRepositoryTemplates() };
    t.select = t.select.replace('stmt = (', 'stmt = (  # built by sqlmigrate');
    const [a] = pythonRepositoryActions(GET_JOB, CALL_SITE, f, options(undefined, { templates: t }));
    assert.equal(a.verified, true, a.reasonNotOffered);
    assert.match(a.files[0].after, /# built by sqlmigrate/);
  });

  it('a template that changes the statement is caught by the read-back', async () => {
    const [f] = await rawFindings(GET_JOB);
    const t = { ...defaultPythonRepositoryTemplates() };
    t.select = t.select.split('{{ head }}').join('{{ head }}.limit(5)');
    const [a] = pythonRepositoryActions(GET_JOB, CALL_SITE, f, options(undefined, { templates: t }));
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered ?? '', /not verified: the rendered method reads back to a different statement/);
  });

  it('a call-site template that drops a parameter is caught', async () => {
    const [f] = await rawFindings(GET_JOB);
    const t = { ...defaultPythonRepositoryTemplates() };
    t.callsite = t.callsite.replace('{{ line }}', "{{ line | replace: 'job_id', '1' }}");
    const [a] = pythonRepositoryActions(GET_JOB, CALL_SITE, f, options(undefined, { templates: t }));
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered ?? '', /does not pass exactly the original parameters/);
  });

  it('ships every template it names', () => {
    const t = defaultPythonRepositoryTemplates();
    for (const n of PY_REPOSITORY_TEMPLATE_NAMES) assert.ok(t[n].length > 0, n);
  });

  it('never throws on broken input', async () => {
    const [f] = await rawFindings(GET_JOB);
    const broken = GET_JOB.replace('(job_id,)', '(job_id,');
    const [a] = pythonRepositoryActions(broken, CALL_SITE, f, options());
    assert.equal(a.verified, false);
    const r = pythonRepositoryFixAll('def (:\n', CALL_SITE, [f], options());
    assert.deepEqual(r.edits, []);
    assert.equal(r.skipped.length, 1);
    const bad = options(undefined, { readFile: () => 'class JobRepository(:\n' });
    const [b] = pythonRepositoryActions(GET_JOB, CALL_SITE, f, bad);
    assert.equal(b.verified, false);
    assert.match(b.reasonNotOffered ?? '', /does not parse/);
  });
});
