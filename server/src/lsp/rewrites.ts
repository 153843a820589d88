/**
 * Rewrites in the editor: a small list of rewrite providers keyed by language (Knex for
 * TypeScript and JavaScript; SQLAlchemy 2.0 for Python),
 * a cache per document version so hover and code actions share one computation, and the
 * fix-all loop (verified, non-overlapping edits, repeated on the rewritten text until nothing
 * changes, at most MAX_FIX_PASSES times).
 *
 * An edit is offered only when its provider verified it AND the rewritten file still parses
 * (checked here, with the language's parser, before anything is offered).
 * Pure functions of text, findings and options: no connection, no file writes.
 */
import * as path from 'node:path';
import * as ts from 'typescript';
import type { Config } from '../engine/config';
import { applyEdits, fixAll, recentSourceFile, rewriteActions, transactionFixAll, transactionRewriteActions, type RewriteOptions, type TextEdit } from '../engine/rewrite';
import { pythonParses, sqlalchemyFixAll, sqlalchemyRewriteActions, toThreadRewriteActions, type SqlalchemyRewriteOptions, type ToThreadOptions } from '../engine/rewrite/python';
import { detectOptions } from '../engine/config';
import { pythonRepositoryActions, type PythonRepositoryOptions } from '../engine/rewrite/python/repository';
import { tsRepositoryActions, type TsRepositoryOptions } from '../engine/rewrite/repository';
import { repositoryConfig, type FileChange } from '../engine/rewrite/repositoryTypes';
import type { Finding, Language, RuleId } from '../engine/types';
import { rewriteOptions } from '../rewrite/fix';
import { loadPythonRepositoryTemplates, loadSqlalchemyTemplates, loadTsRepositoryTemplates } from '../rewrite/templates';
import { generateModelActions, WorkspaceModels } from './models';

export type { TextEdit };

/** One rewrite of one finding, as the editor offers it. */
export interface OfferedRewrite {
  /** Stable within a provider ('knex', 'knex-raw'): code actions name it in their data. */
  id: string;
  title: string;
  /** The preferred rewrite (the builder form). */
  preferred: boolean;
  /** Offered: verified by the provider and the result parses. */
  verified: boolean;
  /** Zero-based, non-overlapping; empty when not offered. */
  edits: TextEdit[];
  /** Why it is not offered. */
  reasonNotOffered?: string;
  /** The SQL the target library produces for it (what verification compared with the original). */
  sql?: string;
  /** The code that replaces the call (a provider without SQL to compare shows this instead). */
  code?: { language: string; text: string };
  /** What the hover calls this kind of fix when it is not offered (default: the provider's target). */
  label?: string;
  /**
   * Other workspace files the rewrite creates or changes (a repository, a generated model). The
   * host offers such a rewrite only to clients that take file creation in workspace edits, and
   * only while each file still reads as `before`.
   */
  files?: FileChange[];
  /**
   * Whether the workspace still reads as it did when the rewrite was computed (the repository,
   * session and model files it read; the folder's mapped classes). A remembered rewrite that is no
   * longer fresh is computed again, offered or not.
   */
  isFresh?: () => boolean;
  /**
   * The engine already checked that the rewritten file has no more parse errors than the original
   * (the TS repository rewrite does): when the original parses, the host's own parse check of the
   * result is skipped (a whole-file parse per action on large files).
   */
  parseChecked?: boolean;
}

/** Reads a workspace file by its '/'-separated relative path (open buffers first), or undefined. */
export type WorkspaceReader = (rel: string) => string | undefined;

/**
 * A rewrite target for one or more languages. `options` is computed once per folder
 * configuration (and never for an untrusted workspace: options may read workspace templates).
 */
export interface RewriteProvider<O = unknown> {
  /** The target's name in hovers and titles: 'Knex'. */
  target: string;
  /** The rules whose findings it rewrites. */
  rules: RuleId[];
  /** Whether fix-all should try this finding (of `rule`, not kept on purpose). */
  fixable(f: Finding): boolean;
  options(root: string | undefined, config: Config, read: WorkspaceReader): O;
  /** The finding's rewrites; the first is the preferred one (offered, or with its reason). `findings`: all of the file's. */
  actions(text: string, fileName: string, finding: Finding, options: O, findings: Finding[]): OfferedRewrite[];
  /**
   * Moves into other files (a repository method, a generated model): verified like the rest but
   * costlier, so computed for hovers, resolves and code-action menus the user opens, not for the
   * automatic light-bulb requests of every cursor move.
   */
  moves?(text: string, fileName: string, finding: Finding, options: O, findings: Finding[]): OfferedRewrite[];
  /** One pass of every verified preferred rewrite of `findings` (the fixable ones; `all`: every finding of the file), as non-overlapping edits. */
  fixAll(text: string, fileName: string, findings: Finding[], options: O, all: Finding[]): { edits: TextEdit[]; applied: number };
  /** Whether a text parses (the rewritten file must). */
  parses(text: string, fileName: string): boolean;
}

export type ProviderSlot = { provider: RewriteProvider<unknown> } | { unavailable: string };

function tsScriptKind(fileName: string): ts.ScriptKind {
  const ext = path.extname(fileName).toLowerCase();
  return ext === '.tsx' ? ts.ScriptKind.TSX : ext === '.jsx' ? ts.ScriptKind.JSX : /^\.[cm]?js$/.test(ext) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
}

/** Parses with the TypeScript parser (no program, no type check): no syntax errors. */
export function parsesAsTypeScript(text: string, fileName: string): boolean {
  // The engine's tree of this very text when it has one (the document itself, parsed for the rewrites).
  const known = recentSourceFile(text, fileName);
  if (known) return ((known as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics ?? []).length === 0;
  // No parent pointers: only the parse diagnostics are read (and it is cheaper).
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, tsScriptKind(fileName));
  return ((sf as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics ?? []).length === 0;
}

/** The fields every engine's rewrite action has. */
interface EngineAction {
  target: string;
  title: string;
  preferred: boolean;
  verified: boolean;
  edits: TextEdit[];
  reasonNotOffered?: string;
}

function offered(a: EngineAction, extra: Partial<OfferedRewrite>): OfferedRewrite {
  return {
    id: a.target,
    title: a.title,
    preferred: a.preferred,
    verified: a.verified,
    edits: a.edits,
    ...(a.reasonNotOffered !== undefined ? { reasonNotOffered: a.reasonNotOffered } : {}),
    ...extra,
  };
}

/**
 * Runs `compute` with a reader that records what it read; the result is fresh while those files
 * still read the same (and `extra` holds).
 */
function recordingReads<T>(read: WorkspaceReader, compute: (read: WorkspaceReader) => T, extra: () => boolean = () => true): { value: T; isFresh: () => boolean } {
  const seen = new Map<string, string | undefined>();
  const value = compute((rel) => {
    const text = read(rel);
    seen.set(rel, text);
    return text;
  });
  return { value, isFresh: () => extra() && [...seen].every(([rel, text]) => read(rel) === text) };
}

/** The repository engines work in workspace-relative, '/'-separated paths (imports between files come from them). */
function workspaceRelative(root: string, fileName: string): string | undefined {
  if (!path.isAbsolute(fileName)) return undefined;
  const rel = path.relative(root, fileName);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join('/');
}

/** Knex options, plus the repository target's when the document is inside a workspace folder. */
type KnexProviderOptions = RewriteOptions & { repository?: TsRepositoryOptions & { root: string } };

/** The repository actions of a TS raw-sql finding, each with its own id (the method, then "all call sites"). */
function tsRepository(text: string, fileName: string, finding: Finding, options: (TsRepositoryOptions & { root: string }) | undefined, findings: Finding[]): OfferedRewrite[] {
  if (!options?.readFile) return [];
  const rel = workspaceRelative(options.root, fileName);
  if (rel === undefined) return [];
  // The "every call site" move is the host's (computed when chosen, other files included).
  const r = recordingReads(options.readFile, (readFile) => tsRepositoryActions(text, rel, finding, { ...options, readFile, sameFileAction: false }, findings));
  // Never the preferred fix: the in-place Knex rewrite is, and a move that creates files is never auto-applied.
  return r.value.map((a, i) => offered(a, { id: `repository:${i}`, preferred: false, files: a.files, label: 'repository', isFresh: r.isFresh, parseChecked: true }));
}

export const knexProvider: RewriteProvider<KnexProviderOptions> = {
  target: 'Knex',
  rules: ['raw-sql', 'manual-transaction'],
  fixable: (f) => !f.exception && ((f.rule === 'raw-sql' && !f.dynamic && !!f.sql) || f.rule === 'manual-transaction'),
  // The planned schema change (config `rewrite.schemaMapping`) rides along, as in the CLI.
  options: (root, config, read) => {
    const base = rewriteOptions(root ?? '', config);
    if (!root) return base;
    return { ...base, repository: { ...base, root, repository: repositoryConfig(config.rewrite.repository).typescript, readFile: read, repositoryTemplates: loadTsRepositoryTemplates(root).templates } };
  },
  // Fix-all never moves statements into repositories: that creates files, so it is asked for one call site at a time.
  actions: (text, fileName, finding, options, findings) =>
    finding.rule === 'manual-transaction'
      ? transactionRewriteActions(text, fileName, finding, options).map((a) => offered(a, {}))
      : rewriteActions(text, fileName, finding, options, findings).map((a) => offered(a, a.knexSql !== undefined ? { sql: a.knexSql } : {})),
  moves: (text, fileName, finding, options, findings) => (finding.rule === 'raw-sql' ? tsRepository(text, fileName, finding, options.repository, findings) : []),
  // Transactions first: the statements inside them wait (they would run outside), and the next
  // pass of the fix-all loop takes the rest.
  fixAll: (text, fileName, findings, options, all) => {
    const t = transactionFixAll(text, fileName, findings, options);
    if (t.applied.length) return { edits: t.edits, applied: t.applied.length };
    const r = fixAll(text, fileName, findings, options, all);
    return { edits: r.edits, applied: r.applied.length };
  },
  parses: parsesAsTypeScript,
};

/**
 * Python: SQLAlchemy 1.x `session.query(...)` chains → 2.0 `select()` style, and blocking calls in
 * `async def` (sync-in-async) → `await asyncio.to_thread(...)` where that is provably safe (a quick
 * fix only: fix-all never moves work to threads on its own). server/src/engine/rewrite/python/.
 */
type PythonProviderOptions = SqlalchemyRewriteOptions & ToThreadOptions & { repository?: Omit<PythonRepositoryOptions, 'models'> & { root: string }; models?: WorkspaceModels };

export const sqlalchemyProvider: RewriteProvider<PythonProviderOptions> = {
  target: 'SQLAlchemy 2.0',
  rules: ['session-legacy-query', 'sync-in-async', 'raw-sql'],
  fixable: (f) => f.rule === 'session-legacy-query' && !f.exception,
  // Workspace overrides from .sqlmigrate/templates/sqlalchemy2 (never for an untrusted workspace).
  options: (root, config, read) => {
    const base = { templates: loadSqlalchemyTemplates(root).templates, detect: detectOptions(config) };
    if (!root) return base;
    const repo = repositoryConfig(config.rewrite.repository).python;
    return { ...base, repository: { root, config: repo, readFile: read, templates: loadPythonRepositoryTemplates(root).templates }, models: new WorkspaceModels(root, config, read) };
  },
  // raw-sql: the repository target (a SQLAlchemy 2.0 repository method), or a model generated from
  // the table's CREATE TABLE when the table has no mapped class yet. Never in fix-all (it creates files).
  actions: (text, fileName, finding, options) => {
    if (finding.rule === 'sync-in-async') return toThreadRewriteActions(text, fileName, finding, options).map((a) => offered(a, { label: 'asyncio.to_thread', ...(a.rendered !== undefined ? { code: { language: 'python', text: a.rendered } } : {}) }));
    if (finding.rule === 'raw-sql') return [];
    return sqlalchemyRewriteActions(text, fileName, finding, options).map((a) => offered(a, a.rendered !== undefined ? { code: { language: 'python', text: a.rendered } } : {}));
  },
  moves: (text, fileName, finding, options) => {
    if (finding.rule !== 'raw-sql') return [];
    const { repository, models } = options;
    const rel = repository && workspaceRelative(repository.root, fileName);
    if (!repository?.readFile || !models || rel === undefined) return [];
    const stamp = models.stamp();
    const r = recordingReads(repository.readFile, (readFile) => [
      ...pythonRepositoryActions(text, rel, finding, { ...repository, readFile, models: models.models() }).map((a, i) => offered(a, { id: `repository:${i}`, preferred: false, files: a.files, label: 'repository' })),
      ...generateModelActions(finding, models),
    ], () => models.stamp() === stamp);
    return r.value.map((a) => ({ ...a, isFresh: r.isFresh }));
  },
  fixAll: (text, fileName, findings, options) => {
    const r = sqlalchemyFixAll(text, fileName, findings, options);
    return { edits: r.edits, applied: r.applied.length };
  },
  parses: (text) => pythonParses(text),
};

/** Rewrite providers by language. */
export const REWRITE_PROVIDERS: Record<Language, ProviderSlot> = {
  typescript: { provider: knexProvider as RewriteProvider<unknown> },
  javascript: { provider: knexProvider as RewriteProvider<unknown> },
  python: { provider: sqlalchemyProvider as RewriteProvider<unknown> },
};

export const MAX_FIX_PASSES = 5;

export function findingKey(f: Finding): string {
  return `${f.rule}@${f.range.start.line}:${f.range.start.character}-${f.range.end.line}:${f.range.end.character}`;
}

export interface FixAllOutcome {
  /** The text after every pass. */
  text: string;
  /** Statements rewritten over all passes. */
  applied: number;
  passes: number;
  /** The first pass's edits (on the original text), when it was the only pass that changed something. */
  singlePassEdits?: TextEdit[];
}

interface DocEntry {
  version: number;
  options: unknown;
  actions: Map<string, OfferedRewrite[]>;
  fixAll?: FixAllOutcome;
  /** Whether the document's own text parses (computed once per version, when first needed). */
  parses?: boolean;
}

/** Rewrites per document version (and per folder options object): hover and code actions share them. */
export class RewriteCache {
  private readonly docs = new Map<string, DocEntry>();
  /** Counters for tests and logs. */
  readonly stats = { computed: 0, hits: 0 };

  private entry(uri: string, version: number, options: unknown): DocEntry {
    let e = this.docs.get(uri);
    if (!e || e.version !== version || e.options !== options) {
      e = { version, options, actions: new Map() };
      this.docs.set(uri, e);
    }
    return e;
  }

  /**
   * The finding's rewrites; a verified one whose result would not parse is turned into "not offered".
   * `fresh` says whether a remembered rewrite's other files still read as it saw them (a repository
   * edited since): when one does not, the finding's rewrites are computed again.
   */
  actions(
    uri: string,
    version: number,
    provider: RewriteProvider<unknown>,
    options: unknown,
    text: string,
    fileName: string,
    f: Finding,
    findings: Finding[],
    fresh: (o: OfferedRewrite) => boolean = () => true,
    { withMoves = true }: { withMoves?: boolean } = {},
  ): OfferedRewrite[] {
    const e = this.entry(uri, version, options);
    const originalParses = () => (e.parses ??= provider.parses(text, fileName));
    // A verified rewrite whose file would not parse becomes "not offered" (one parse per action,
    // skipped when the engine already checked and the original parses).
    const checked = (a: OfferedRewrite): OfferedRewrite => (!a.verified || (a.parseChecked && originalParses()) ? a : checkParses(a, provider, text, fileName));
    const get = (key: string, compute: () => OfferedRewrite[]): OfferedRewrite[] => {
      const known = e.actions.get(key);
      if (known && known.every((o) => (o.isFresh ? o.isFresh() : true) && fresh(o))) {
        this.stats.hits++;
        return known;
      }
      this.stats.computed++;
      const out = compute().map(checked);
      e.actions.set(key, out);
      return out;
    };
    const key = findingKey(f);
    let out = get(key, () => provider.actions(text, fileName, f, options, findings));
    if (withMoves && provider.moves) out = [...out, ...get(`${key}\0moves`, () => provider.moves!(text, fileName, f, options, findings))];
    return out;
  }

  fixAll(uri: string, version: number, provider: RewriteProvider<unknown>, options: unknown, text: string, fileName: string, analyse: (text: string) => Finding[]): FixAllOutcome {
    const e = this.entry(uri, version, options);
    if (!e.fixAll) e.fixAll = fixAllOutcome(text, fileName, provider, options, analyse);
    else this.stats.hits++;
    return e.fixAll;
  }

  forget(uri: string): void {
    this.docs.delete(uri);
  }

  clear(): void {
    this.docs.clear();
  }
}

function checkParses(a: OfferedRewrite, provider: RewriteProvider<unknown>, text: string, fileName: string): OfferedRewrite {
  let next: string;
  try {
    next = applyEdits(text, a.edits);
  } catch (e) {
    return { ...a, verified: false, edits: [], reasonNotOffered: `its edits cannot be applied: ${(e as Error).message}` };
  }
  return provider.parses(next, fileName) ? a : { ...a, verified: false, edits: [], reasonNotOffered: 'the rewritten file would not parse' };
}

/** Findings fix-all may rewrite with this provider (its rule, not kept on purpose). */
export function fixableFindings(findings: Finding[], provider: RewriteProvider<unknown>): Finding[] {
  return findings.filter((f) => provider.fixable(f));
}

/**
 * Applies every verified rewrite, re-analyses the result and repeats (rewrites skipped because
 * their edits overlapped get their turn) until nothing changes or MAX_FIX_PASSES. A pass whose
 * result would not parse falls back to the first single rewrite whose result does; when none
 * does, the loop stops with what it has.
 */
export function fixAllOutcome(text: string, fileName: string, provider: RewriteProvider<unknown>, options: unknown, analyse: (text: string) => Finding[], maxPasses = MAX_FIX_PASSES): FixAllOutcome {
  let cur = text;
  let applied = 0;
  let passes = 0;
  let singlePassEdits: TextEdit[] | undefined;
  for (let pass = 0; pass < maxPasses; pass++) {
    const all = analyse(cur);
    const findings = fixableFindings(all, provider);
    if (!findings.length) break;
    let next: string | undefined;
    let edits: TextEdit[] | undefined;
    let n = 0;
    const batch = provider.fixAll(cur, fileName, findings, options, all);
    if (batch.applied > 0) {
      try {
        const t = applyEdits(cur, batch.edits);
        if (provider.parses(t, fileName)) {
          next = t;
          edits = batch.edits;
          n = batch.applied;
        }
      } catch {
        // overlapping edits: try one at a time below
      }
      if (next === undefined) {
        for (const f of findings) {
          const a = provider.actions(cur, fileName, f, options, all)[0];
          if (!a?.verified) continue;
          const single = checkParses(a, provider, cur, fileName);
          if (!single.verified) continue;
          next = applyEdits(cur, single.edits);
          edits = single.edits;
          n = 1;
          break;
        }
      }
    }
    if (next === undefined || next === cur) break;
    passes++;
    applied += n;
    singlePassEdits = passes === 1 ? edits : undefined;
    cur = next;
  }
  return { text: cur, applied, passes, ...(singlePassEdits ? { singlePassEdits } : {}) };
}

/** One edit turning `before` into `after`: the changed middle between their common prefix and suffix. */
export function diffEdit(before: string, after: string): TextEdit | undefined {
  if (before === after) return undefined;
  let start = 0;
  const max = Math.min(before.length, after.length);
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endB = before.length;
  let endA = after.length;
  while (endB > start && endA > start && before.charCodeAt(endB - 1) === after.charCodeAt(endA - 1)) {
    endB--;
    endA--;
  }
  const pos = (offset: number) => {
    let line = 0;
    let lineStart = 0;
    for (let i = 0; i < offset; i++) {
      if (before.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    return { line, character: offset - lineStart };
  };
  return { range: { start: pos(start), end: pos(endB) }, newText: after.slice(start, endA) };
}

const code = (s: string) => '`' + s.replace(/`/g, 'ˋ') + '`';

/** The rewrite section of a finding's hover. */
export function rewriteHover(slot: ProviderSlot | undefined, actions: OfferedRewrite[] | undefined, untrustedReason?: string): string[] {
  if (untrustedReason) return [`_No rewrite: ${untrustedReason}._`];
  if (!slot) return [];
  if ('unavailable' in slot) return [`_No rewrite: ${slot.unavailable}._`];
  // A rule the provider has no rewrite for here (e.g. Python raw SQL outside a workspace folder).
  if (actions && !actions.length) return [];
  const target = slot.provider.target;
  const [preferred, ...others] = actions ?? [];
  const lines: string[] = [];
  if (preferred?.verified && preferred.sql !== undefined) {
    lines.push(`**Rewrite with ${target} available (verified).** ${target} produces the same statement:`, '', '```sql', preferred.sql, '```');
  } else if (preferred?.verified) {
    lines.push(`**${preferred.title} available (verified).**`);
    if (preferred.code) lines.push('', '```' + preferred.code.language, preferred.code.text, '```');
  } else {
    lines.push(`**No ${preferred?.label ?? target} rewrite:** ${preferred?.reasonNotOffered ?? 'not verified'}`);
  }
  for (const o of others) if (o.verified) lines.push('', `Also available: ${code(o.title)} (verified).`);
  return lines;
}
