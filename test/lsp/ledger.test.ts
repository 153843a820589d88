/**
 * The ledger: baseline recording, atomic writes, refusal to overwrite, corrupt and hand-edited
 * files, progress and per-file status. Plain unit tests (no server).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BASELINE_FILE,
  baselinePath,
  buildBaseline,
  computeProgress,
  countedRules,
  fileStatus,
  LedgerError,
  parseBaseline,
  readBaseline,
  runBaselineCommand,
  runProgressCommand,
  serialiseBaseline,
  writeBaseline,
  type LedgerFile,
} from '../../server/src/ledger';

const raw = (n: number, kept = 0): LedgerFile['findings'] => [
  ...Array.from({ length: n }, () => ({ rule: 'raw-sql' as const, kept: false })),
  ...Array.from({ length: kept }, () => ({ rule: 'raw-sql' as const, kept: true })),
];

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-ledger-'));
}

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s) } };
}

describe('ledger: baseline', () => {
  const files: LedgerFile[] = [
    { path: 'src/a.ts', findings: raw(3, 1) },
    { path: 'src/b.ts', findings: [{ rule: 'session-usage', kept: false }, { rule: 'exception-missing-reason', kept: false }] },
    { path: 'src/empty.ts', findings: [] },
  ];

  it('counts per rule and per file, leaving out files without findings and the missing-reason rule', () => {
    const b = buildBaseline(files, countedRules(), { commit: null, now: new Date('2024-05-01T10:00:00Z') });
    assert.equal(b.remaining, 4);
    assert.equal(b.kept, 1);
    assert.deepEqual(b.perRule['raw-sql'], { remaining: 3, kept: 1 });
    assert.deepEqual(b.perRule['session-usage'], { remaining: 1, kept: 0 });
    assert.equal(b.perRule['exception-missing-reason'], undefined);
    assert.deepEqual(Object.keys(b.files), ['src/a.ts', 'src/b.ts']);
    assert.deepEqual(b.files['src/a.ts'], { remaining: 3, kept: 1, rules: { 'raw-sql': 3 } });
    assert.equal(b.recordedAt, '2024-05-01T10:00:00.000Z');
  });

  it('counts only target.rules when the config names them', () => {
    const b = buildBaseline(files, countedRules({ target: { rules: ['raw-sql'] } }));
    assert.deepEqual(b.rules, ['raw-sql']);
    assert.equal(b.remaining, 3);
  });

  it('round-trips through the file, atomically, leaving no temporary files', () => {
    const root = tmpdir();
    const b = buildBaseline(files, countedRules(), { commit: 'a'.repeat(40) });
    const written = writeBaseline(root, b);
    assert.equal(written, baselinePath(root));
    assert.deepEqual(readBaseline(root), b);
    assert.deepEqual(fs.readdirSync(path.join(root, '.sqlmigrate')), ['baseline.json']);
  });

  it('returns null when there is no baseline', () => {
    assert.equal(readBaseline(tmpdir()), null);
  });

  it('refuses to replace an existing baseline without force, and replaces it with force', () => {
    const root = tmpdir();
    writeBaseline(root, buildBaseline(files, countedRules()));
    assert.throws(() => writeBaseline(root, buildBaseline([], countedRules())), (e: unknown) => e instanceof LedgerError && e.kind === 'exists' && /already exists/.test(e.message));
    writeBaseline(root, buildBaseline([], countedRules()), { force: true });
    assert.equal(readBaseline(root)!.remaining, 0);
  });

  it('reports a corrupt file clearly and never overwrites it without force', () => {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, '.sqlmigrate'));
    const garbage = '{ "version": 1, "remaining": 4,\n<<<<<<< HEAD\n';
    fs.writeFileSync(baselinePath(root), garbage);
    assert.throws(() => readBaseline(root), (e: unknown) => e instanceof LedgerError && e.kind === 'corrupt' && /not valid JSON \(it holds merge-conflict markers\)/.test(e.message) && e.message.includes(BASELINE_FILE));
    assert.throws(() => writeBaseline(root, buildBaseline(files, countedRules())), (e: unknown) => e instanceof LedgerError && e.kind === 'corrupt' && /left as it is/.test(e.message));
    assert.equal(fs.readFileSync(baselinePath(root), 'utf8'), garbage);
  });

  it('detects a hand-edited file by its checksum', () => {
    const text = serialiseBaseline(buildBaseline(files, countedRules()));
    const edited = text.replace('"remaining": 4', '"remaining": 40');
    assert.notEqual(edited, text);
    assert.throws(() => parseBaseline(edited), (e: unknown) => e instanceof LedgerError && e.kind === 'edited' && /changed by hand/.test(e.message));
  });

  it('rejects JSON that is not a baseline, and a newer format, with what is wrong', () => {
    assert.throws(() => parseBaseline('[1,2]'), (e: unknown) => e instanceof LedgerError && /not a sqlmigrate baseline: the top level is not an object/.test(e.message));
    assert.throws(() => parseBaseline('{"version": 1}'), (e: unknown) => e instanceof LedgerError && /"recordedAt" is not a date/.test(e.message));
    assert.throws(() => parseBaseline('{"version": 7}'), (e: unknown) => e instanceof LedgerError && e.kind === 'unsupported' && /newer sqlmigrate/.test(e.message));
  });
});

describe('ledger: progress', () => {
  const baseline = buildBaseline(
    [
      { path: 'a.ts', findings: raw(4) },
      { path: 'b.py', findings: raw(2) },
      { path: 'c.ts', findings: raw(2) },
      { path: 'gone.ts', findings: raw(2) },
    ],
    countedRules(),
  );

  it('is 1 − remaining / baseline, with kept statements counted apart', () => {
    const p = computeProgress(
      [
        { path: 'a.ts', findings: raw(1) },
        { path: 'b.py', findings: raw(0, 2) },
        { path: 'c.ts', findings: raw(2) },
        { path: 'new.ts', findings: raw(1) },
      ],
      baseline,
      countedRules(),
      0.5,
    );
    assert.equal(baseline.remaining, 10);
    assert.equal(p.remaining, 4);
    assert.equal(p.kept, 2);
    assert.equal(p.migrated, 6);
    assert.equal(p.progress, 0.6);
    assert.deepEqual(p.target, { reduction: 0.5, remaining: 5, reached: true });
    const status = Object.fromEntries(p.files.map((f) => [f.path, f.status]));
    assert.deepEqual(status, { 'a.ts': 'in-progress', 'b.py': 'kept', 'c.ts': 'not-started', 'gone.ts': 'done', 'new.ts': 'not-started' });
    assert.equal(p.files.find((f) => f.path === 'gone.ts')!.deleted, true);
    assert.equal(p.files.find((f) => f.path === 'a.ts')!.progress, 0.75);
  });

  it('has no percentage without a baseline, and every file with findings is not started', () => {
    const p = computeProgress([{ path: 'a.ts', findings: raw(3, 1) }], null, countedRules());
    assert.equal(p.progress, null);
    assert.equal(p.target, null);
    assert.deepEqual(p.files.map((f) => f.status), ['not-started']);
  });

  it('goes below zero when statements were added since the baseline', () => {
    const p = computeProgress([{ path: 'a.ts', findings: raw(15) }], baseline, countedRules());
    assert.equal(p.progress, -0.5);
    assert.equal(p.migrated, -5);
  });

  it('file status table', () => {
    assert.equal(fileStatus(0, 0, 3), 'done');
    assert.equal(fileStatus(0, 2, 3), 'kept');
    assert.equal(fileStatus(1, 0, 3), 'in-progress');
    assert.equal(fileStatus(3, 0, 3), 'not-started');
    assert.equal(fileStatus(4, 0, 3), 'not-started');
    assert.equal(fileStatus(1, 0, 0), 'not-started');
  });
});

describe('ledger: CLI commands', () => {
  function workspace(): string {
    const root = tmpdir();
    fs.mkdirSync(path.join(root, 'src'));
    fs.writeFileSync(path.join(root, 'src', 'users.ts'), "import { Pool } from 'pg';\nconst pool = new Pool();\nexport async function one(id: number) {\n  return pool.query('SELECT id, name FROM users WHERE id = $1', [id]);\n}\n");
    fs.writeFileSync(path.join(root, '.sqlmigrate.json'), JSON.stringify({ target: { reduction: 0.5 } }));
    return root;
  }

  it('`baseline` records, refuses a second time without --force, and `progress` reads it', async () => {
    const root = workspace();
    let c = capture();
    assert.equal(await runBaselineCommand([root], c.io), 0, c.out.stderr);
    assert.match(c.out.stdout, /Recorded the baseline: 1 statement to migrate/);
    const b = readBaseline(root)!;
    assert.equal(b.remaining, 1);

    c = capture();
    assert.equal(await runBaselineCommand([root], c.io), 1);
    assert.match(c.out.stderr, /already exists/);

    c = capture();
    assert.equal(await runProgressCommand([root], c.io), 0, 'short of the target is no failure');
    assert.match(c.out.stdout, /Progress: 0% — 1 left of 1/);
    c = capture();
    assert.equal(await runProgressCommand([root, '--require-target'], c.io), 1, 'target not reached');

    fs.writeFileSync(path.join(root, 'src', 'users.ts'), 'export const one = (id: number) => db.users.find(id);\n');
    c = capture();
    assert.equal(await runProgressCommand([root, '--json', '--require-target'], c.io), 0, 'target reached');
    const json = JSON.parse(c.out.stdout);
    assert.equal(json.progress, 1);
    assert.equal(json.files[0].status, 'done');
  });

  it('usage errors exit 2', async () => {
    const c = capture();
    assert.equal(await runBaselineCommand(['--nope'], c.io), 2);
    assert.match(c.out.stderr, /Unknown option/);
  });
});
