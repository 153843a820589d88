/**
 * The only way the TS repository tests touch the rewriter (check.ts's pattern, for
 * test/fixtures/rewrite/repository-ts/):
 *
 *   checkRepositoryCase(dir)                    every `<name>.input.ts` of the case, in name order,
 *                                               fixed as `src/<name>.ts` in a workspace holding
 *                                               `existing/` → `<name>.output.ts`, and the files
 *                                               created or changed → `expected/`; everything parses,
 *                                               and a rescan no longer finds the rewritten statements
 *   checkRepositoryNotApplicable(src, reason, file)   no repository action offered; the reason says why
 *
 * UPDATE_GOLDEN=1 writes the outputs and `expected/` instead of comparing (review the diff).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits } from '../../../server/src/engine/rewrite';
import { tsRepositoryActions, tsRepositoryFixAll, type TsRepositoryOptions } from '../../../server/src/engine/rewrite/repository';
import type { FileChange, RepositoryMethod } from '../../../server/src/engine/rewrite/repositoryTypes';
import { analyzeText } from '../../../server/src/engine/analyze';
import type { Finding } from '../../../server/src/engine/types';
import { DETECT, OPTIONS, parseProblems, rawFindings } from './check';

/** Every finding of a file (raw-sql and the rest: a manual transaction refuses the statements inside it). */
export async function allFindings(text: string, fileName: string): Promise<Finding[]> {
  return (await analyzeText(text, fileName, DETECT)).findings;
}

/** The knex instance `db` from `src/db.ts`; repositories in `src/repositories` (the default). */
export function repositoryOptions(workspace: Map<string, string>): TsRepositoryOptions {
  return { ...OPTIONS, knex: { instance: 'db', import: 'src/db' }, repository: { dir: 'src/repositories' }, readFile: (rel) => workspace.get(rel) };
}

/** Every file under `dir`, by '/'-separated path relative to it. */
export function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else out.set(path.relative(dir, full).split(path.sep).join('/'), fs.readFileSync(full, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

export interface CaseRun {
  /** Call-site file (`src/<name>.ts`) → its text after the fix. */
  outputs: Map<string, string>;
  /** Every file created or changed besides the call sites, final text. */
  files: Map<string, string>;
  methods: RepositoryMethod[];
  skipped: string[];
  rewritten: Array<{ file: string; sql: string }>;
  /** The workspace after the fix (existing files, repositories, rewritten call sites). */
  workspace: Map<string, string>;
}

export function caseInputs(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /\.input\.ts$/.test(f)).sort().map((f) => f.replace(/\.input\.ts$/, ''));
}

/** Fixes every input of a case in order, each through a `readFile` that reflects the earlier ones. */
export async function runCase(dir: string): Promise<CaseRun> {
  const workspace = readTree(path.join(dir, 'existing'));
  const existing = new Map(workspace);
  const run: CaseRun = { outputs: new Map(), files: new Map(), methods: [], skipped: [], rewritten: [], workspace };
  const options = repositoryOptions(workspace);
  for (const name of caseInputs(dir)) {
    const file = `src/${name}.ts`;
    const before = fs.readFileSync(path.join(dir, `${name}.input.ts`), 'utf8');
    const findings = await rawFindings(before, file);
    const fix = tsRepositoryFixAll(before, file, findings, options, await allFindings(before, file));
    const after = applyEdits(before, fix.edits);
    run.outputs.set(file, after);
    workspace.set(file, after);
    for (const c of fix.files) {
      assert.equal(c.before, workspace.get(c.file), `${c.file}: the change must start from the file's current text`);
      workspace.set(c.file, c.after);
    }
    run.methods.push(...fix.applied.map((a) => a.method));
    run.skipped.push(...fix.skipped.map((s) => `${file}:${s.finding.range.start.line + 1} ${s.reason}`));
    run.rewritten.push(...fix.applied.map((a) => ({ file, sql: a.finding.sql!.text })));
  }
  for (const [file, text] of workspace) {
    if (run.outputs.has(file)) continue;
    if (existing.get(file) !== text) run.files.set(file, text);
  }
  return run;
}

export async function checkRepositoryCase(dir: string): Promise<CaseRun> {
  const run = await runCase(dir);
  const expectedDir = path.join(dir, 'expected');
  if (process.env.UPDATE_GOLDEN === '1') {
    for (const [file, text] of run.outputs) fs.writeFileSync(path.join(dir, `${path.basename(file, '.ts')}.output.ts`), text);
    fs.rmSync(expectedDir, { recursive: true, force: true });
    for (const [file, text] of run.files) {
      fs.mkdirSync(path.dirname(path.join(expectedDir, file)), { recursive: true });
      fs.writeFileSync(path.join(expectedDir, file), text);
    }
  }
  assert.deepEqual(run.skipped, [], 'every statement of a fixture pair must be rewritten');
  assert.ok(run.rewritten.length > 0, 'no rewrite was applied');
  for (const [file, text] of run.outputs) {
    assert.equal(text, fs.readFileSync(path.join(dir, `${path.basename(file, '.ts')}.output.ts`), 'utf8'), `${file}: output`);
    assert.deepEqual(parseProblems(text, file), [], `${file} must parse after the rewrite`);
    const again = await rawFindings(text, file);
    for (const r of run.rewritten.filter((x) => x.file === file)) assert.ok(!again.some((f) => f.sql?.text === r.sql), `${file}: a rescan still finds: ${r.sql}`);
  }
  const expected = readTree(expectedDir);
  assert.deepEqual([...run.files.keys()].sort(), [...expected.keys()].sort(), 'the files created or changed');
  for (const [file, text] of run.files) {
    assert.equal(text, expected.get(file), `${file}: expected/${file}`);
    assert.deepEqual(parseProblems(text, file), [], `${file} must parse`);
  }
  return run;
}

/** The first action for each finding of a case's first input, against the case's `existing/` files. */
export async function firstActions(dir: string): Promise<Array<ReturnType<typeof tsRepositoryActions>>> {
  const workspace = readTree(path.join(dir, 'existing'));
  const name = caseInputs(dir)[0];
  const file = `src/${name}.ts`;
  const text = fs.readFileSync(path.join(dir, `${name}.input.ts`), 'utf8');
  const findings = await rawFindings(text, file);
  const all = await allFindings(text, file);
  return findings.map((f) => tsRepositoryActions(text, file, f, repositoryOptions(workspace), all));
}

export async function checkRepositoryNotApplicable(src: string, reason: string, fileName: string): Promise<void> {
  const findings = await rawFindings(src, fileName);
  assert.ok(findings.length > 0, 'the fixture holds no raw-sql finding');
  const options = repositoryOptions(new Map());
  const all = await allFindings(src, fileName);
  for (const f of findings) {
    const actions = tsRepositoryActions(src, fileName, f, options, all);
    assert.equal(actions.length, 1);
    const [a] = actions;
    assert.equal(a.verified, false, `a repository rewrite was offered for: ${f.sql?.text}`);
    assert.deepEqual(a.edits, []);
    assert.deepEqual(a.files, []);
    assert.ok(a.reasonNotOffered?.includes(reason), `reason "${a.reasonNotOffered}" does not mention "${reason}"`);
  }
  const fix = tsRepositoryFixAll(src, fileName, findings, options, all);
  assert.deepEqual(fix.edits, []);
  assert.deepEqual(fix.files, [] as FileChange[]);
}
