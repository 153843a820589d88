/**
 * The only way the repository rewrite tests touch the engine (the shape of check.ts):
 *
 *   checkCase(dir)                         every verified rewrite of <dir>/input.py applied (fix-all)
 *                                          → <dir>/output.py, and the repository files produced equal
 *                                          <dir>/expected/<path>; both parse, and a rescan finds exactly
 *                                          the rewritten raw-sql findings gone
 *   checkNotApplicable(src, reason, file)  no rewrite offered for any raw-sql finding; the reason says why
 *
 * The workspace a case sees (`readFile`): <dir>/existing/<path> (files present before the
 * rewrite), then the support modules test/python/sqlm_repo_*.py at its root.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeText } from '../../../server/src/engine/analyze';
import type { Finding } from '../../../server/src/engine/types';
import type { FileChange, PythonModel, RepositoryConfig } from '../../../server/src/engine/rewrite/repositoryTypes';
import { pythonRepositoryActions, pythonRepositoryFixAll, type PythonRepositoryOptions } from '../../../server/src/engine/rewrite/python/repository';
import { applyTextEdits } from '../../../server/src/engine/rewrite/python/tree';
import { DETECT, pythonSyntaxErrors } from './check';

const ROOT = path.join(__dirname, '..', '..', '..', '..');
export const REPO_FIXTURES = path.join(ROOT, 'test', 'fixtures', 'rewrite', 'repository-py');
const SUPPORT = path.join(ROOT, 'test', 'python');

/** The call site's workspace-relative name in every case. */
export const CALL_SITE = 'jobs.py';

export const CONFIG: RepositoryConfig['python'] = { dir: 'repositories', session: 'get_session', sessionModule: 'sqlm_repo_db', models: 'models.py', modelStyle: 'auto' };

export function fixtureModels(): PythonModel[] {
  return JSON.parse(fs.readFileSync(path.join(REPO_FIXTURES, 'models.json'), 'utf8')) as PythonModel[];
}

/** Every file under `dir`, '/'-separated relative paths. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  walk(dir, '');
  return out;
}

export function workspaceReader(caseDir?: string): (rel: string) => string | undefined {
  return (rel) => {
    if (rel.includes('..')) return undefined;
    const existing = caseDir ? path.join(caseDir, 'existing', rel) : undefined;
    if (existing && fs.existsSync(existing)) return fs.readFileSync(existing, 'utf8');
    if (/^sqlm_repo_\w+\.py$/.test(rel) && fs.existsSync(path.join(SUPPORT, rel))) return fs.readFileSync(path.join(SUPPORT, rel), 'utf8');
    return undefined;
  };
}

export function options(caseDir?: string, over: Partial<PythonRepositoryOptions> = {}): PythonRepositoryOptions {
  return { config: CONFIG, models: fixtureModels(), readFile: workspaceReader(caseDir), ...over };
}

export async function rawFindings(text: string, fileName = CALL_SITE): Promise<Finding[]> {
  const r = await analyzeText(text, fileName, DETECT);
  return r.findings.filter((f) => f.rule === 'raw-sql');
}

export async function rewriteCase(caseDir: string, opts: PythonRepositoryOptions = options(caseDir)): Promise<{ text: string; files: FileChange[]; applied: number; skipped: string[]; findings: number }> {
  const before = fs.readFileSync(path.join(caseDir, 'input.py'), 'utf8');
  const findings = await rawFindings(before);
  const fix = pythonRepositoryFixAll(before, CALL_SITE, findings, opts);
  return { text: applyTextEdits(before, fix.edits), files: fix.files, applied: fix.applied.length, skipped: fix.skipped.map((s) => `line ${s.finding.range.start.line + 1}: ${s.reason}`), findings: findings.length };
}

/** Writes output.py and expected/ from the current engine (UPDATE_GOLDEN=1). */
export async function updateCase(caseDir: string): Promise<void> {
  const r = await rewriteCase(caseDir);
  fs.writeFileSync(path.join(caseDir, 'output.py'), r.text);
  fs.rmSync(path.join(caseDir, 'expected'), { recursive: true, force: true });
  for (const f of r.files) {
    const p = path.join(caseDir, 'expected', ...f.file.split('/'));
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, f.after);
  }
}

export async function checkCase(caseDir: string): Promise<void> {
  const r = await rewriteCase(caseDir);
  assert.deepEqual(r.skipped, [], 'every raw-sql finding of a fixture pair is rewritten (put refusals in na-*.py)');
  assert.ok(r.applied > 0, 'no rewrite was applied');
  assert.equal(r.text, fs.readFileSync(path.join(caseDir, 'output.py'), 'utf8'));
  const expected = filesUnder(path.join(caseDir, 'expected'));
  assert.deepEqual(r.files.map((f) => f.file).sort(), expected, 'the repository files produced');
  const existing = workspaceReader(caseDir);
  for (const f of r.files) {
    assert.equal(f.after, fs.readFileSync(path.join(caseDir, 'expected', ...f.file.split('/')), 'utf8'), f.file);
    assert.equal(f.before, existing(f.file), `${f.file}: the text the rewrite started from`);
    assert.deepEqual(await pythonSyntaxErrors(f.after), [], `${f.file} must parse`);
  }
  assert.deepEqual(await pythonSyntaxErrors(r.text), [], 'the rewritten file must parse');
  const again = await rawFindings(r.text);
  assert.equal(again.length, r.findings - r.applied, `a rescan finds ${again.length} raw-sql findings; expected ${r.findings - r.applied}`);
}

export async function checkNotApplicable(src: string, reason: string, fileName = CALL_SITE, opts: PythonRepositoryOptions = options()): Promise<void> {
  const findings = await rawFindings(src, fileName);
  assert.ok(findings.length > 0, 'the fixture holds no raw-sql finding');
  for (const f of findings) {
    const [action] = pythonRepositoryActions(src, fileName, f, opts);
    assert.equal(action.verified, false, `a rewrite was offered at line ${f.range.start.line + 1}: ${action.title}`);
    assert.deepEqual(action.edits, []);
    assert.deepEqual(action.files, []);
    assert.ok(action.reasonNotOffered?.includes(reason), `reason "${action.reasonNotOffered}" does not mention "${reason}"`);
  }
  const all = pythonRepositoryFixAll(src, fileName, findings, opts);
  assert.deepEqual(all.edits, []);
  assert.deepEqual(all.files, []);
}
