/**
 * The CI ratchet and SARIF: `check` fails on a change that adds a raw query and passes on one
 * that removes one; SARIF from `scan` and `check` validates against the SARIF 2.1.0 schema.
 *
 * The schema: no npm package ships the OASIS `sarif-schema-2.1.0.json` (draft-07); the one
 * shipped is SchemaStore's `sarif-2.1.0-rtm.5.json` in @microsoft/jest-sarif (a draft-04
 * schema), validated here with Ajv's draft-04 class and ajv-formats.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { checkJson, compareWithBaseline, formatCheck, runCheck, runCheckCommand, sarifLog, toSarif } from '../../../server/src/check';
import { scanDirectory } from '../../../server/src/engine/scan';
import { runBaselineCommand } from '../../../server/src/ledger';
import { capture, pgFile, TestRepo } from '../history/repo';

const SCHEMA = path.join(__dirname, '..', '..', '..', '..', 'node_modules', '@microsoft', 'jest-sarif', 'lib', 'schemas', 'sarif-2.1.0-rtm.5.json');

function sarifValidator() {
  // unicodeRegExp: false — rtm.5's pattern for `language` has a stray `]` that only a
  // non-unicode RegExp accepts (as a literal), as JSON Schema's ECMA-262 patterns intend.
  const ajv = new AjvDraft04({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf8'));
  assert.match(schema.title, /SARIF\) Version 2\.1\.0/);
  return ajv.compile(schema);
}

function assertValidSarif(text: string): Record<string, any> {
  const validate = sarifValidator();
  const log = JSON.parse(text) as Record<string, any>;
  const ok = validate(log);
  assert.ok(ok, `SARIF does not validate: ${JSON.stringify(validate.errors?.slice(0, 5), null, 2)}`);
  return log;
}

const PY = `import sqlite3

def get(conn, i):
    return conn.execute("SELECT * FROM jobs WHERE id = ?", (i,)).fetchone()

def bad(conn, name):
    # sqlmigrate-keep: reporting query kept as written
    return conn.execute(f"SELECT * FROM users WHERE name = '{name}'")
`;

describe('check: the ratchet against the baseline', function () {
  this.timeout(60_000);
  let repo: TestRepo;

  beforeEach(async () => {
    repo = new TestRepo('sqlmigrate-check-');
    repo.write({
      'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'DELETE FROM jobs WHERE id = $1']),
      'app/repo.py': PY,
    });
    const c = capture();
    assert.equal(await runBaselineCommand([repo.dir], c.io), 0, c.out.stderr);
  });
  afterEach(() => repo.dispose());

  it('passes with nothing changed', async () => {
    const c = capture();
    assert.equal(await runCheckCommand([repo.dir], c.io), 0, c.out.stdout + c.out.stderr);
    assert.match(c.out.stdout, /check passed: 3 statements left to migrate, as many as the baseline \(3/);
  });

  it('fails on a change that adds a raw query, listing what was added', async () => {
    repo.write({
      'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1', 'DELETE FROM jobs WHERE id = $1', 'UPDATE jobs SET done = true WHERE id = $1']),
    });
    const c = capture();
    assert.equal(await runCheckCommand([repo.dir], c.io), 1);
    const msg = c.out.stdout;
    assert.match(msg, /check FAILED: 4 statements left to migrate, 1 more than the baseline \(3/);
    assert.match(msg, /raw-sql\s+3 → 4\s+\(\+1\)/);
    assert.match(msg, /Added since the baseline:\n {2}src\/db\/jobs\.ts: raw-sql \+1/);
    assert.match(msg, /src\/db\/jobs\.ts:\d+ {2}raw-sql {2}UPDATE jobs/);
    assert.match(msg, /sqlmigrate baseline --force/);
  });

  it('a new file is listed as not in the baseline; --max-increase tolerates it', async () => {
    repo.write({ 'src/new.ts': pgFile(['INSERT INTO audit (msg) VALUES ($1)']) });
    const fail = capture();
    assert.equal(await runCheckCommand([repo.dir], fail.io), 1);
    assert.match(fail.out.stdout, /src\/new\.ts \(not in the baseline\): raw-sql \+1\n {4}src\/new\.ts:5 {2}raw-sql {2}INSERT audit/);
    const ok = capture();
    assert.equal(await runCheckCommand([repo.dir, '--max-increase', '1'], ok.io), 0, ok.out.stdout);
    assert.match(ok.out.stdout, /1 more than \(within --max-increase 1\)/);
  });

  it('passes on a change that removes a raw query', async () => {
    repo.write({ 'src/db/jobs.ts': pgFile(['SELECT * FROM jobs WHERE id = $1']) });
    const c = capture();
    assert.equal(await runCheckCommand([repo.dir], c.io), 0, c.out.stdout);
    assert.match(c.out.stdout, /2 statements left to migrate, 1 fewer than the baseline/);
  });

  it('moving statements between rules still fails on the rule that rose', async () => {
    const result = await runCheck(repo.dir);
    const baseline = result.baseline;
    // Same total, one rule up and one down: fabricated baseline counts make the point.
    const shifted = { ...baseline, perRule: { ...baseline.perRule, 'raw-sql': { remaining: 2, kept: 1 }, 'manual-transaction': { remaining: 1, kept: 0 } } };
    const r = compareWithBaseline(result.report, shifted, 0);
    assert.equal(r.increase, 0);
    assert.equal(r.ok, false);
    assert.match(formatCheck(r), /per rule and in total/);
  });

  it('a statement added with a keep reason does not count', async () => {
    repo.write({ 'src/health.ts': "import { Pool } from 'pg';\nconst pool = new Pool();\n// sqlmigrate-keep: liveness probe\npool.query('SELECT 1');\n" });
    const c = capture();
    assert.equal(await runCheckCommand([repo.dir], c.io), 0, c.out.stdout);
  });

  it('no baseline, a bad --max-increase or --format exit 2', async () => {
    fs.rmSync(path.join(repo.dir, '.sqlmigrate'), { recursive: true });
    const none = capture();
    assert.equal(await runCheckCommand([repo.dir], none.io), 2);
    assert.match(none.out.stderr, /no baseline at .*record one with `sqlmigrate baseline`/);
    const bad = capture();
    assert.equal(await runCheckCommand([repo.dir, '--max-increase', '-1'], bad.io), 2);
    const fmt = capture();
    assert.equal(await runCheckCommand([repo.dir, '--format', 'xml'], fmt.io), 2);
    assert.match(fmt.out.stderr, /--format must be text, json or sarif/);
  });

  it('--baseline reads another file; a hand-edited one is refused with a remedy', async () => {
    const other = path.join(repo.dir, 'ci-baseline.json');
    fs.copyFileSync(path.join(repo.dir, '.sqlmigrate', 'baseline.json'), other);
    const ok = capture();
    assert.equal(await runCheckCommand([repo.dir, '--baseline', other], ok.io), 0, ok.out.stderr);
    fs.writeFileSync(other, fs.readFileSync(other, 'utf8').replace('"remaining": 3', '"remaining": 9'));
    const edited = capture();
    assert.equal(await runCheckCommand([repo.dir, '--baseline', other], edited.io), 2);
    assert.match(edited.out.stderr, /ci-baseline\.json was changed by hand/);
  });

  it('--format sarif validates against the SARIF 2.1.0 schema, marks added findings as errors, and keeps the message on stderr', async () => {
    repo.write({ 'src/new.ts': pgFile(['INSERT INTO audit (msg) VALUES ($1)']) });
    const c = capture();
    assert.equal(await runCheckCommand([repo.dir, '--format', 'sarif'], c.io), 1);
    const log = assertValidSarif(c.out.stdout);
    assert.match(c.out.stderr, /check FAILED/);
    const results = log.runs[0].results as Array<Record<string, any>>;
    const added = results.filter((r) => r.level === 'error');
    assert.equal(added.length, 1);
    assert.equal(added[0].locations[0].physicalLocation.artifactLocation.uri, 'src/new.ts');
    assert.equal(added[0].properties.addedSinceBaseline, true);
    assert.equal(log.runs[0].invocations[0].executionSuccessful, false);
    const json = capture();
    assert.equal(await runCheckCommand([repo.dir, '--format', 'json'], json.io), 1);
    assert.equal(JSON.parse(json.out.stdout).added[0].file, 'src/new.ts');
    const out = path.join(repo.dir, 'check.sarif');
    const toFile = capture();
    assert.equal(await runCheckCommand([repo.dir, '--format', 'sarif', '--output', out], toFile.io), 1);
    assertValidSarif(fs.readFileSync(out, 'utf8'));
    assert.match(toFile.out.stdout, /check FAILED/);
    void checkJson;
  });
});

describe('SARIF for scan', function () {
  this.timeout(60_000);

  it('the examples scan validates, with rules, regions, fingerprints and suppressions', async () => {
    const root = path.join(__dirname, '..', '..', '..', '..', 'examples');
    const report = await scanDirectory(root);
    assert.ok(report.findings.length > 10);
    const log = assertValidSarif(toSarif(report));
    const run = log.runs[0];
    assert.equal(log.version, '2.1.0');
    assert.equal(run.tool.driver.name, 'sqlmigrate');
    assert.deepEqual(run.tool.driver.rules.map((r: { id: string }) => r.id).slice(0, 2), ['raw-sql', 'session-legacy-query']);
    assert.equal(run.results.length, report.findings.length);
    const fps = new Set(run.results.map((r: any) => r.partialFingerprints['sqlmigrate/v1']));
    assert.equal(fps.size, run.results.length, 'fingerprints are unique');
    for (const [i, r] of (run.results as any[]).entries()) {
      const f = report.findings[i];
      assert.equal(r.ruleId, f.rule);
      assert.equal(run.tool.driver.rules[r.ruleIndex].id, f.rule);
      assert.equal(r.locations[0].physicalLocation.region.startLine, f.startLine);
      assert.equal(!!r.suppressions, !!f.exception);
    }
    assert.match(run.originalUriBaseIds['%SRCROOT%'].uri, /^file:\/\/.*\/examples\/$/);
  });

  it('hostile file names and messages are data: URIs are encoded and the log still validates', async () => {
    const repo = new TestRepo('sqlmigrate-sarif-');
    repo.write({ 'src/we ird#"<b>".ts': pgFile(['SELECT * FROM "<script>" WHERE id = $1']), 'app/x.py': PY });
    const report = await scanDirectory(repo.dir);
    const log = assertValidSarif(toSarif(report, { includeRoot: false }));
    const uris = log.runs[0].results.map((r: any) => r.locations[0].physicalLocation.artifactLocation.uri);
    assert.ok(uris.includes('src/we%20ird%23%22%3Cb%3E%22.ts'), uris.join(', '));
    assert.equal(log.runs[0].originalUriBaseIds, undefined);
    const kept = log.runs[0].results.find((r: any) => r.suppressions);
    assert.deepEqual(kept.suppressions, [{ kind: 'inSource', status: 'accepted', justification: 'reporting query kept as written' }]);
    assert.ok(sarifLog(report).runs);
    repo.dispose();
  });

  it('the schema check is real: a log with a broken result or version is rejected', async () => {
    const repo = new TestRepo('sqlmigrate-sarif-bad-');
    repo.write({ 'src/a.ts': pgFile(['SELECT * FROM a WHERE id = $1']) });
    const log = sarifLog(await scanDirectory(repo.dir)) as any;
    const validate = sarifValidator();
    assert.equal(validate(log), true);
    delete log.runs[0].results[0].message;
    assert.equal(validate(log), false);
    const badVersion = { ...(sarifLog(await scanDirectory(repo.dir)) as any), version: '2.0.0' };
    assert.equal(validate(badVersion), false);
    const badLine = sarifLog(await scanDirectory(repo.dir)) as any;
    badLine.runs[0].results[0].locations[0].physicalLocation.region.startLine = 0;
    assert.equal(validate(badLine), false);
    repo.dispose();
  });

  it('an empty scan is a valid log with no results', async () => {
    const repo = new TestRepo('sqlmigrate-sarif-empty-');
    try {
      const log = assertValidSarif(toSarif(await scanDirectory(repo.dir)));
      assert.deepEqual(log.runs[0].results, []);
    } finally {
      repo.dispose();
    }
  });
});
