/**
 * The migration baseline: `.sqlmigrate/baseline.json`, recorded once (by the
 * `sqlmigrate baseline` command or the editor's "Record baseline") and committed, so that
 * progress = 1 − remaining / baseline means the same thing on every machine.
 *
 *   const b = buildBaseline(files, countedRules(config), { commit: gitCommit(root) });
 *   writeBaseline(root, b);                   // refuses to replace an existing file unless { force: true }
 *   readBaseline(root);                       // null when absent; throws LedgerError when unusable
 *
 * The file carries a checksum of its content: a hand-edited or half-merged file is reported
 * with a clear message and is never overwritten silently. Writes are atomic (temp file in the
 * same folder, fsync, rename). This module and its siblings are the only places that write a
 * file for sqlmigrate's ledger; the engine never writes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../engine/config';
import { RULES, type RuleId } from '../engine/types';

export const LEDGER_DIR = '.sqlmigrate';
export const BASELINE_FILE = `${LEDGER_DIR}/baseline.json`;
export const BASELINE_VERSION = 1;

/** Rules that count as statements to migrate by default (a missing keep reason is not one). */
export const MIGRATION_RULES: readonly RuleId[] = RULES.filter((r) => r !== 'exception-missing-reason');

export interface FileBaseline {
  remaining: number;
  kept: number;
  /** Remaining per rule (rules with 0 left out). */
  rules: Partial<Record<RuleId, number>>;
}

export interface Baseline {
  version: number;
  recordedAt: string;
  commit: string | null;
  /** The rules counted, in order. */
  rules: RuleId[];
  remaining: number;
  kept: number;
  perRule: Partial<Record<RuleId, { remaining: number; kept: number }>>;
  /** Per file, relative to the workspace root with forward slashes; files without counted findings are left out. */
  files: Record<string, FileBaseline>;
}

/** One file's findings as the ledger needs them. */
export interface LedgerFile {
  path: string;
  findings: Array<{ rule: RuleId; kept: boolean }>;
}

export type LedgerErrorKind = 'exists' | 'corrupt' | 'edited' | 'unsupported' | 'io';

export class LedgerError extends Error {
  constructor(readonly kind: LedgerErrorKind, readonly file: string, message: string) {
    super(message);
  }
}

/** The rules counted for progress: `target.rules` from config, else every migration rule. */
export function countedRules(config?: Pick<Config, 'target'>): RuleId[] {
  const wanted = config?.target?.rules;
  return wanted && wanted.length ? MIGRATION_RULES.filter((r) => wanted.includes(r)) : [...MIGRATION_RULES];
}

/** Counts one file's findings for the given rules. */
export function countFile(findings: LedgerFile['findings'], rules: readonly RuleId[]): FileBaseline {
  const out: FileBaseline = { remaining: 0, kept: 0, rules: {} };
  for (const f of findings) {
    if (!rules.includes(f.rule)) continue;
    if (f.kept) out.kept++;
    else {
      out.remaining++;
      out.rules[f.rule] = (out.rules[f.rule] ?? 0) + 1;
    }
  }
  return out;
}

export function buildBaseline(
  files: Iterable<LedgerFile>,
  rules: readonly RuleId[],
  meta: { commit?: string | null; now?: Date } = {},
): Baseline {
  const perRule: Baseline['perRule'] = {};
  for (const r of rules) perRule[r] = { remaining: 0, kept: 0 };
  const byPath: Record<string, FileBaseline> = {};
  let remaining = 0;
  let kept = 0;
  for (const file of files) {
    for (const f of file.findings) {
      if (!rules.includes(f.rule)) continue;
      const slot = perRule[f.rule]!;
      if (f.kept) slot.kept++;
      else slot.remaining++;
    }
    const counts = countFile(file.findings, rules);
    if (counts.remaining + counts.kept === 0) continue;
    byPath[file.path] = counts;
    remaining += counts.remaining;
    kept += counts.kept;
  }
  const files_: Record<string, FileBaseline> = {};
  for (const p of Object.keys(byPath).sort()) files_[p] = byPath[p];
  return {
    version: BASELINE_VERSION,
    recordedAt: (meta.now ?? new Date()).toISOString(),
    commit: meta.commit ?? null,
    rules: [...rules],
    remaining,
    kept,
    perRule,
    files: files_,
  };
}

/** The current commit of the repository holding root, or null (no git, not a repository, no commit yet). */
export function gitCommit(root: string): string | null {
  try {
    const out = execFileSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
      windowsHide: true,
    }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch {
    return null;
  }
}

export function baselinePath(root: string): string {
  return path.join(root, LEDGER_DIR, 'baseline.json');
}

const HEADER = 'Recorded by sqlmigrate (`sqlmigrate baseline` or the editor command "Record baseline"). Commit this file. Do not edit it by hand: re-record it instead (`sqlmigrate baseline --force`).';

/** The text written to disk: stable key order, a checksum over the content. */
export function serialiseBaseline(b: Baseline): string {
  const body = canonicalBody(b);
  return JSON.stringify({ $comment: HEADER, ...body, checksum: checksum(body) }, null, 2) + '\n';
}

/**
 * Reads and checks `.sqlmigrate/baseline.json`. Returns null when there is none; throws a
 * LedgerError saying what is wrong and what to do when it cannot be used.
 */
export function readBaseline(root: string): Baseline | null {
  const file = baselinePath(root);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LedgerError('io', BASELINE_FILE, `${BASELINE_FILE} cannot be read: ${(e as Error).message}`);
  }
  return parseBaseline(text);
}

const REMEDY = `Restore it from version control, or record a new baseline with \`sqlmigrate baseline --force\` (or "Record baseline" in the editor, which asks first).`;

export function parseBaseline(text: string): Baseline {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    const conflict = /^(<<<<<<<|>>>>>>>|=======)/m.test(text) ? ' (it holds merge-conflict markers)' : '';
    throw new LedgerError('corrupt', BASELINE_FILE, `${BASELINE_FILE} is not valid JSON${conflict}: ${(e as Error).message}. ${REMEDY}`);
  }
  const problems = validate(raw);
  if (problems.length) {
    const o = raw as Record<string, unknown> | null;
    if (o && typeof o === 'object' && typeof o.version === 'number' && o.version > BASELINE_VERSION) {
      throw new LedgerError('unsupported', BASELINE_FILE, `${BASELINE_FILE} was written by a newer sqlmigrate (format ${o.version}; this one reads ${BASELINE_VERSION}). Update sqlmigrate.`);
    }
    throw new LedgerError('corrupt', BASELINE_FILE, `${BASELINE_FILE} is not a sqlmigrate baseline: ${problems.slice(0, 3).join('; ')}. ${REMEDY}`);
  }
  const o = raw as Record<string, unknown>;
  const b = o as unknown as Baseline;
  const body = canonicalBody(b);
  if (o.checksum !== checksum(body)) {
    throw new LedgerError('edited', BASELINE_FILE, `${BASELINE_FILE} was changed by hand or by a merge (its checksum does not match its content), so its counts cannot be trusted. ${REMEDY}`);
  }
  return body;
}

export interface WriteOptions {
  /** Replace an existing or unreadable baseline. Without it, both are refused with a LedgerError. */
  force?: boolean;
}

/** Writes the baseline atomically. Returns the absolute path written. */
export function writeBaseline(root: string, b: Baseline, options: WriteOptions = {}): string {
  const file = baselinePath(root);
  if (!options.force) {
    let existing: Baseline | null = null;
    try {
      existing = readBaseline(root);
    } catch (e) {
      if (e instanceof LedgerError) throw new LedgerError('corrupt', BASELINE_FILE, `${e.message} It was left as it is; pass --force to replace it.`);
      throw e;
    }
    if (existing) {
      throw new LedgerError('exists', BASELINE_FILE, `${BASELINE_FILE} already exists (recorded ${existing.recordedAt}, ${existing.remaining} statements left then). Replacing it resets progress; pass --force to do so.`);
    }
  }
  writeFileAtomic(file, serialiseBaseline(b));
  return file;
}

/** Writes text to file via a temporary file in the same folder, fsync and rename. */
export function writeFileAtomic(file: string, text: string): void {
  const dir = path.dirname(file);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new LedgerError('io', BASELINE_FILE, `cannot create ${dir}: ${(e as Error).message}`);
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already reported below */ }
    }
    try { fs.unlinkSync(tmp); } catch { /* it may not exist */ }
    throw new LedgerError('io', BASELINE_FILE, `cannot write ${file}: ${(e as Error).message}`);
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch {
    // Directory fsync is not supported everywhere (Windows); the rename is still atomic.
  }
  removeStaleTemporaries(dir, path.basename(file));
}

/**
 * Removes the temporary files a writer that died mid-write (killed, power cut) left next to
 * `name` — only those whose process is gone, so a concurrent writer's file is never touched.
 * Without this they pile up in `.sqlmigrate/`, the folder teams commit.
 */
function removeStaleTemporaries(dir: string, name: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${name}.`;
  for (const e of entries) {
    if (!e.startsWith(prefix) || !e.endsWith('.tmp')) continue;
    const pid = Number(e.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    try { fs.unlinkSync(path.join(dir, e)); } catch { /* removed by another writer */ }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function canonicalBody(b: Baseline): Baseline {
  const perRule: Baseline['perRule'] = {};
  for (const r of b.rules) if (b.perRule[r]) perRule[r] = { remaining: b.perRule[r]!.remaining, kept: b.perRule[r]!.kept };
  const files: Record<string, FileBaseline> = {};
  for (const p of Object.keys(b.files).sort()) {
    const f = b.files[p];
    const rules: FileBaseline['rules'] = {};
    for (const r of b.rules) if (f.rules[r]) rules[r] = f.rules[r];
    files[p] = { remaining: f.remaining, kept: f.kept, rules };
  }
  return { version: b.version, recordedAt: b.recordedAt, commit: b.commit, rules: [...b.rules], remaining: b.remaining, kept: b.kept, perRule, files };
}

function checksum(body: Baseline): string {
  return 'sha256:' + createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function validate(raw: unknown): string[] {
  const p: string[] = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return ['the top level is not an object'];
  const o = raw as Record<string, unknown>;
  if (o.version !== BASELINE_VERSION) p.push(`"version" is ${JSON.stringify(o.version)}, expected ${BASELINE_VERSION}`);
  if (typeof o.recordedAt !== 'string' || Number.isNaN(Date.parse(o.recordedAt))) p.push('"recordedAt" is not a date');
  if (o.commit !== null && typeof o.commit !== 'string') p.push('"commit" is not a string or null');
  if (!Array.isArray(o.rules) || o.rules.some((r) => !RULES.includes(r as RuleId))) p.push('"rules" is not a list of rule ids');
  if (!isCount(o.remaining)) p.push('"remaining" is not a count');
  if (!isCount(o.kept)) p.push('"kept" is not a count');
  if (!o.perRule || typeof o.perRule !== 'object') p.push('"perRule" is missing');
  else for (const [r, v] of Object.entries(o.perRule as Record<string, unknown>)) {
    const c = v as Record<string, unknown> | null;
    if (!RULES.includes(r as RuleId) || !c || !isCount(c.remaining) || !isCount(c.kept)) p.push(`"perRule.${r}" is invalid`);
  }
  if (!o.files || typeof o.files !== 'object' || Array.isArray(o.files)) p.push('"files" is missing');
  else for (const [file, v] of Object.entries(o.files as Record<string, unknown>)) {
    const f = v as Record<string, unknown> | null;
    const rulesOk = !!f && !!f.rules && typeof f.rules === 'object' && Object.entries(f.rules as Record<string, unknown>).every(([r, n]) => RULES.includes(r as RuleId) && isCount(n));
    if (!f || !isCount(f.remaining) || !isCount(f.kept) || !rulesOk) {
      p.push(`the entry for "${file}" is invalid`);
      if (p.length > 5) break;
    }
  }
  if (typeof o.checksum !== 'string') p.push('"checksum" is missing');
  return p;
}
