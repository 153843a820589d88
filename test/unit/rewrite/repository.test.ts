/**
 * The TS repository target (server/src/engine/rewrite/repository.ts): fixture cases in
 * test/fixtures/rewrite/repository-ts/ through repositoryCheck.ts, plus the properties the
 * fixtures cannot show on their own (fingerprints, reuse, suffixes, templates as data, the
 * in-file "all call sites" action). Refresh outputs after review with UPDATE_GOLDEN=1.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits } from '../../../server/src/engine/rewrite';
import {
  TS_REPOSITORY_TEMPLATE_NAMES,
  defaultTsRepositoryTemplates,
  methodBaseName,
  normaliseSql,
  tableEntity,
  tsRepositoryActions,
  tsRepositoryFingerprint,
  tsRepositoryFixAll,
} from '../../../server/src/engine/rewrite/repository';
import { planSql } from '../../../server/src/engine/rewrite/plan';
import { parseProblems, rawFindings } from './check';
import { caseInputs, checkRepositoryCase, checkRepositoryNotApplicable, firstActions, readTree, repositoryOptions } from './repositoryCheck';

const ROOT = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'repository-ts');

describe('rewrite: TS repository fixture cases', () => {
  for (const entry of fs.readdirSync(ROOT).sort()) {
    const full = path.join(ROOT, entry);
    if (fs.statSync(full).isDirectory()) {
      it(`${entry} (inputs → outputs + repository files)`, async () => {
        await checkRepositoryCase(full);
      });
    } else if (entry.startsWith('na-')) {
      it(`${entry} (not applicable)`, async () => {
        const src = fs.readFileSync(full, 'utf8');
        const reason = /^\/\/ not applicable: (.*)$/m.exec(src)?.[1]?.trim() ?? '';
        assert.ok(reason, 'a not-applicable fixture starts with its reason');
        await checkRepositoryNotApplicable(src, reason, `src/${entry}`);
      });
    }
  }
});

describe('rewrite: TS repository methods', () => {
  it('names methods from the statement kind and columns', () => {
    const name = (sql: string, first = false) => {
      const p = planSql(sql, 'postgresql');
      assert.ok(p.ok, sql);
      return methodBaseName(p.plan, first);
    };
    assert.equal(name('SELECT * FROM jobs WHERE id = $1', true), 'findById');
    assert.equal(name('SELECT * FROM users WHERE email = $1', true), 'findByEmail');
    assert.equal(name('SELECT * FROM jobs WHERE status = $1'), 'listByStatus');
    assert.equal(name('SELECT * FROM jobs'), 'listAll');
    assert.equal(name('SELECT count(*) AS n FROM jobs WHERE status = $1'), 'countByStatus');
    assert.equal(name('INSERT INTO jobs (name) VALUES ($1)'), 'insert');
    assert.equal(name('UPDATE jobs SET status = $1 WHERE id = $2'), 'updateStatusById');
    assert.equal(name('DELETE FROM jobs WHERE id = $1'), 'deleteById');
    assert.equal(name('SELECT * FROM jobs WHERE owner_id = $1 AND status = $2'), 'listByOwnerIdAndStatus');
  });

  it('names repositories from the table, singular and camel-cased', () => {
    assert.equal(tableEntity('jobs'), 'job');
    assert.equal(tableEntity('job_runs'), 'jobRun');
    assert.equal(tableEntity('categories'), 'category');
    assert.equal(tableEntity('addresses'), 'address');
    assert.equal(tableEntity('status'), 'status');
    assert.equal(tableEntity('public.users'), 'user');
  });

  it('normalises the statement for the fingerprint: whitespace and keyword case, not identifiers or literals', () => {
    assert.equal(normaliseSql('SELECT  id,name\n  FROM Jobs WHERE status = \'Done  X\';'), "select id, name from Jobs where status = 'Done  X'");
    assert.equal(normaliseSql('select id, name from Jobs where status = \'Done  X\''), normaliseSql('SELECT id ,\tname FROM Jobs WHERE status = \'Done  X\''));
  });

  it('gives call sites of one statement read the same way one fingerprint, across files and layouts', async () => {
    const dir = path.join(ROOT, 'shared-across-files');
    const prints: string[] = [];
    for (const name of caseInputs(dir)) {
      const text = fs.readFileSync(path.join(dir, `${name}.input.ts`), 'utf8');
      const [f] = await rawFindings(text, `src/${name}.ts`);
      const fp = tsRepositoryFingerprint(text, `src/${name}.ts`, f, repositoryOptions(new Map()));
      assert.ok(fp);
      prints.push(fp);
    }
    assert.equal(prints[0], 'select id, name from jobs where owner_id = $1 order by id | rows');
    assert.deepEqual(new Set(prints).size, 1);
  });

  it('reads the first row and all rows as different methods', async () => {
    const dir = path.join(ROOT, 'shared-in-file');
    const text = fs.readFileSync(path.join(dir, 'users.input.ts'), 'utf8');
    const findings = await rawFindings(text, 'src/users.ts');
    const prints = findings.map((f) => tsRepositoryFingerprint(text, 'src/users.ts', f, repositoryOptions(new Map())));
    assert.deepEqual(prints.map((p) => p?.split(' | ')[1]), ['first', 'first', 'rows']);
  });

  it('the second file reuses the method the first one added (fix-all through readFile)', async () => {
    const run = await checkRepositoryCase(path.join(ROOT, 'shared-across-files'));
    assert.deepEqual(run.methods.map((m) => [m.name, m.reused]), [['listByOwnerId', false], ['listByOwnerId', true]]);
  });

  it('an existing method with the same fingerprint is reused; the repository file is not touched', async () => {
    const run = await checkRepositoryCase(path.join(ROOT, 'existing-reuse'));
    assert.deepEqual(run.methods.map((m) => [m.name, m.reused]), [['findById', true]]);
    assert.equal(run.files.size, 0);
  });

  it('a taken name with another fingerprint gets a suffix', async () => {
    const run = await checkRepositoryCase(path.join(ROOT, 'existing-suffix'));
    assert.deepEqual(run.methods.map((m) => m.name), ['findById2']);
  });

  it('offers one preferred action per finding, and an "all call sites" action when the file repeats the statement', async () => {
    const perFinding = await firstActions(path.join(ROOT, 'shared-in-file'));
    const [first, second, third] = perFinding;
    assert.equal(first[0].verified, true);
    assert.equal(first[0].preferred, true);
    assert.equal(first[0].target, 'repository');
    assert.equal(first[0].title, 'Use userRepository.findByEmail() (new src/repositories/userRepository.ts)');
    assert.equal(first[0].files.length, 1);
    assert.equal(first[0].files[0].before, undefined);
    assert.equal(first.length, 2, 'the second action rewrites both call sites of the statement');
    assert.equal(first[1].preferred, false);
    assert.match(first[1].title, /all 2 call sites/);
    assert.equal(second.length, 2);
    assert.equal(third.length, 1, 'the rows read is another method: no shared action');
    const text = fs.readFileSync(path.join(ROOT, 'shared-in-file', 'users.input.ts'), 'utf8');
    const after = applyEdits(text, first[1].edits);
    assert.equal((after.match(/userRepository\.findByEmail\(/g) ?? []).length, 2);
    assert.deepEqual(parseProblems(after, 'src/users.ts'), []);
  });

  it('the call passes exactly the original bind expressions, in placeholder order, once each', async () => {
    const text = `import { Pool } from 'pg';
const pool = new Pool();
export async function f(a: { id: number }, s: string) {
  const res = await pool.query('UPDATE jobs SET status = $2 WHERE id = $1 AND status <> $2', [a.id, s]);
  return res.rowCount;
}
`;
    const [finding] = await rawFindings(text, 'src/f.ts');
    const [action] = tsRepositoryActions(text, 'src/f.ts', finding, repositoryOptions(new Map()));
    assert.equal(action.verified, true, action.reasonNotOffered);
    const after = applyEdits(text, action.edits);
    assert.match(after, /await jobRepository\.updateStatusByIdAndStatus\(a\.id, s\)/);
    const repo = action.files[0].after;
    assert.match(repo, /async updateStatusByIdAndStatus\(id: Knex\.Value, status: Knex\.Value\)/);
  });

  it('a parameter never takes the name of a callback parameter of the chain', async () => {
    const text = `import { Pool } from 'pg';
const pool = new Pool();
export async function f(x: string, y: string) {
  const { rows } = await pool.query('SELECT * FROM docs WHERE q = $1 AND (a = $2 OR b = $2)', [x, y]);
  return rows;
}
`;
    const [finding] = await rawFindings(text, 'src/f.ts');
    const [action] = tsRepositoryActions(text, 'src/f.ts', finding, repositoryOptions(new Map()));
    assert.equal(action.verified, true, action.reasonNotOffered);
    assert.match(action.files[0].after, /async listByQAndAAndB\(qValue: Knex\.Value, a: Knex\.Value\)/);
  });

  it('refuses without a configured knex import, and names the setting', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'pg-rows', 'jobs.input.ts'), 'utf8');
    const [f] = await rawFindings(text, 'src/jobs.ts');
    const [a] = tsRepositoryActions(text, 'src/jobs.ts', f, { ...repositoryOptions(new Map()), knex: { instance: 'db' } });
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered!, /rewrite\.knex\.import/);
  });

  it('refuses when the repository file exists without the class or instance', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'pg-rows', 'jobs.input.ts'), 'utf8');
    const [f] = await rawFindings(text, 'src/jobs.ts');
    const ws = new Map([['src/repositories/jobRepository.ts', 'export const somethingElse = 1;\n']]);
    const [a] = tsRepositoryActions(text, 'src/jobs.ts', f, repositoryOptions(ws));
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered!, /declares no class JobRepository/);
  });

  it('the repository directory comes from the config', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'pg-rows', 'jobs.input.ts'), 'utf8');
    const [f] = await rawFindings(text, 'src/jobs.ts');
    const [a] = tsRepositoryActions(text, 'src/jobs.ts', f, { ...repositoryOptions(new Map()), repository: { dir: 'src/data/repos/' } });
    assert.equal(a.files[0].file, 'src/data/repos/jobRepository.ts');
    assert.match(a.files[0].after, /import \{ db \} from '\.\.\/\.\.\/db';/);
    assert.match(applyEdits(text, a.edits), /import \{ jobRepository \} from '\.\/data\/repos\/jobRepository';/);
  });

  it('bad input never throws: a finding whose range is outside the text', async () => {
    const text = fs.readFileSync(path.join(ROOT, 'pg-rows', 'jobs.input.ts'), 'utf8');
    const [f] = await rawFindings(text, 'src/jobs.ts');
    const moved = { ...f, range: { start: { line: 500, character: 0 }, end: { line: 501, character: 3 } } };
    const [a] = tsRepositoryActions(text, 'src/jobs.ts', moved, repositoryOptions(new Map()));
    assert.equal(a.verified, false);
    const fix = tsRepositoryFixAll(text, 'src/jobs.ts', [moved], repositoryOptions(new Map()));
    assert.deepEqual(fix.edits, []);
    assert.equal(fix.skipped.length, 1);
  });
});

describe('rewrite: TS repository templates are data, verification is the gate', () => {
  const CASE = path.join(ROOT, 'pg-rows');
  async function firstWith(templates: ReturnType<typeof defaultTsRepositoryTemplates>, existing = new Map<string, string>()) {
    const text = fs.readFileSync(path.join(CASE, 'jobs.input.ts'), 'utf8');
    const [f] = await rawFindings(text, 'src/jobs.ts');
    return tsRepositoryActions(text, 'src/jobs.ts', f, { ...repositoryOptions(existing), repositoryTemplates: templates })[0];
  }

  it('ships every template name', () => {
    const t = defaultTsRepositoryTemplates();
    assert.deepEqual(Object.keys(t).sort(), [...TS_REPOSITORY_TEMPLATE_NAMES].sort());
  });

  it('a method template that changes the query is caught by re-verification', async () => {
    const t = { ...defaultTsRepositoryTemplates(), method: "{{ indent }}/** sql: {{ fingerprint }} */\n{{ indent }}async {{ name }}({{ paramList }}) {\n{{ indent }}  return {{ body }}.where('status', 'done');\n{{ indent }}}" };
    const a = await firstWith(t);
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered!, /not verified|differs/);
  });

  it('a method template that drops the fingerprint line is refused (later rewrites could not find the method)', async () => {
    const t = { ...defaultTsRepositoryTemplates(), method: '{{ indent }}async {{ name }}({{ paramList }}) {\n{{ indent }}  return {{ body }};\n{{ indent }}}' };
    const a = await firstWith(t);
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered!, /fingerprint/);
  });

  it('a call template that reorders or evaluates arguments differently is refused', async () => {
    const t = { ...defaultTsRepositoryTemplates(), call: '{{ instance }}.{{ method }}({{ argList }}, {{ argList }})' };
    const a = await firstWith(t);
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered!, /exactly the original values/);
  });

  it('a file template that does not parse is refused', async () => {
    const t = { ...defaultTsRepositoryTemplates(), file: 'export class {{ className }} {\n{{ methods }}\n' };
    const a = await firstWith(t);
    assert.equal(a.verified, false);
    assert.match(a.reasonNotOffered!, /does not parse/);
  });

  it('a method body laid out by an overridden knex chain template is still verified and used', async () => {
    const text = fs.readFileSync(path.join(CASE, 'jobs.input.ts'), 'utf8');
    const findings = await rawFindings(text, 'src/jobs.ts');
    const { defaultTemplates } = await import('../../../server/src/engine/rewrite');
    const templates = { ...defaultTemplates(), chain: '{{ instance }}({{ table }}){% for s in steps %}\n{{ indent }}  .{{ s.method }}({{ s.args }}){% endfor %}' };
    const fix = tsRepositoryFixAll(text, 'src/jobs.ts', findings, { ...repositoryOptions(new Map()), templates });
    assert.deepEqual(fix.skipped, []);
    assert.match(fix.files[0].after, /return this\.db\('jobs'\)\n {6}\.where\('id', '=', id\)\n {6}\.first\(\);/);
  });

  it('the shipped templates are what the fixtures were produced with', () => {
    const dir = path.join(__dirname, '..', '..', '..', '..', 'templates', 'repository-ts');
    const onDisk = readTree(dir);
    for (const n of TS_REPOSITORY_TEMPLATE_NAMES) assert.equal(defaultTsRepositoryTemplates()[n], onDisk.get(`${n}.liquid`));
  });
});
