/**
 * Raw SQL → Knex, verified before it is offered. The engine's rewrite API: text and a finding
 * in, code actions (plain edits) out; no LSP, no file writes.
 *
 *   rewriteActions(text, 'src/jobs.ts', finding, { knex: { instance: 'db', import: 'src/db' } })
 *     → [{ title: 'Rewrite with Knex', kind: 'quickfix', preferred: true, verified: true, edits: [...] },
 *        { title: 'Wrap in db.raw() (SQL kept, values bound by name)', verified: true, ... }]
 *   fixAll(text, fileName, findings, options)   → verified, non-overlapping edits for the file
 *   whyNoRewrite(finding, text?, fileName?, options?, findings?) → the hover's reason, or undefined
 *
 * Pipeline per finding: plan.ts (SQL → plan) → chain.ts (plan → builder calls) → render.ts
 * (templates → text) → verify.ts (interpret the text with Knex, compare SQL ASTs), with
 * callsite.ts deciding how the call's result is read and which reads change.
 */
import * as path from 'node:path';
import * as ts from 'typescript';
import { dialectForDriver } from '../detect/common';
import { lspLineStart, lspPosition } from '../detect/ts/lines';
import type { Dialect, Finding, Range } from '../types';
import { analyzeCall, planResult, rangeOf, type CallSite, type OriginalResult, type TextEdit } from './callsite';
import { chainOf, withFirst } from './chain';
import { planSql, placeholderKeys, type Plan, type SchemaMapping } from './plan';
import { defaultTemplates, jsString, renderChain, renderImport, renderRaw, type Templates } from './render';
import { enclosingManualTransaction } from './transaction';
import { normaliseExprText, verifyChain, verifyRaw } from './verify';

export type { TextEdit } from './callsite';
export type { Templates } from './render';
export type { SchemaMapping, TableMapping } from './plan';
export { TEMPLATE_NAMES, defaultTemplates, defaultTemplateDir } from './render';
export { enclosingManualTransaction, transactionRewriteActions, transactionFixAll, type TransactionAction, type TransactionFixResult } from './transaction';

export interface KnexTarget {
  /** The knex instance's name in code (default `db`). */
  instance?: string;
  /**
   * Where to import it from when the file lacks it: a path relative to the workspace root
   * (`src/db/knex`, made relative to each file) or a package name (`@app/db`). Unset: files
   * without the instance in scope get no rewrite (the reason says so).
   */
  import?: string;
  /** `import db from '…'` instead of `import { db } from '…'`. */
  importDefault?: boolean;
}

export interface RewriteOptions {
  knex?: KnexTarget;
  /** Dialect when the driver does not tell (config `dialect`). */
  defaultDialect?: Dialect;
  /** Absolute workspace root, for turning `knex.import` into a relative module path. */
  workspaceRoot?: string;
  /** Templates (default: the shipped `templates/knex`; see server/src/rewrite/templates.ts for workspace overrides). */
  templates?: Templates;
  /** What project wrappers resolve to, by callee (`DB.query`): 'rows' (default) or 'unknown'. */
  wrapperResults?: Record<string, OriginalResult>;
  /**
   * A planned schema change that rides along (config `rewrite.schemaMapping`): old table → new
   * table, old column → new column, old value → new value. See plan.ts `mapSchema`.
   */
  schemaMapping?: SchemaMapping;
}

export interface RewriteAction {
  title: string;
  kind: 'quickfix';
  /** true for the verified builder rewrite. */
  preferred: boolean;
  verified: boolean;
  /** Zero-based, non-overlapping; empty when not offered. */
  edits: TextEdit[];
  /** Set when the action is not offered (then `verified` is false and `edits` empty): the hover text. */
  reasonNotOffered?: string;
  /** 'knex' (builder calls) or 'knex-raw' (SQL kept in `knex.raw`). */
  target: 'knex' | 'knex-raw';
  /**
   * The SQL Knex produces for the rewrite (what verification compared); with a schema mapping it
   * starts with a `-- schema mapping applied: …` line.
   */
  knexSql?: string;
  /** What the schema mapping changed in this statement (absent: nothing). */
  mapped?: string[];
}

const DEFAULT_INSTANCE = 'db';

interface Prepared {
  sf: ts.SourceFile;
  sql: string;
  dialect: Dialect;
  site?: CallSite;
  siteReason?: string;
  plan?: Plan;
  planReason?: string;
  /** What the schema mapping changed. */
  mapped: string[];
}

/**
 * The last few parsed files (the editor asks for several findings of one document version in a row): a code action parses the document once, but verification in between
 * parses other texts (a repository file, a rendered chain), which must not evict the document.
 */
const recentlyParsed: Array<{ fileName: string; text: string; sf: ts.SourceFile }> = [];
const RECENT_PARSES = 4;

/** The tree sourceFile() parsed for exactly this text, if it is still among the recent ones (no parse). */
export function recentSourceFile(text: string, fileName: string): ts.SourceFile | undefined {
  return recentlyParsed.find((p) => p.fileName === fileName && p.text === text)?.sf;
}

/** The text's syntax tree (never mutated; the last one is reused for the same text). */
export function sourceFile(text: string, fileName: string): ts.SourceFile {
  const hit = recentlyParsed.findIndex((p) => p.fileName === fileName && p.text === text);
  if (hit >= 0) {
    const [p] = recentlyParsed.splice(hit, 1);
    recentlyParsed.unshift(p);
    return p.sf;
  }
  const ext = path.extname(fileName).toLowerCase();
  const kind = ext === '.tsx' ? ts.ScriptKind.TSX : ext === '.jsx' ? ts.ScriptKind.JSX : ext === '.js' || ext === '.mjs' || ext === '.cjs' ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  recentlyParsed.unshift({ fileName, text, sf });
  if (recentlyParsed.length > RECENT_PARSES) recentlyParsed.pop();
  return sf;
}

function dialectOf(finding: Finding, options: RewriteOptions): Dialect {
  return dialectForDriver(finding.driver) ?? options.defaultDialect ?? finding.info?.dialect ?? 'postgresql';
}

/** SQL-level reasons that need no source text. */
function findingReason(finding: Finding): string | undefined {
  if (finding.rule !== 'raw-sql') return 'only raw-sql findings are rewritten to Knex';
  if (finding.language === 'python') return 'Knex rewrites apply to TypeScript and JavaScript';
  if (!finding.sql || !finding.info) return 'the SQL text was not recovered';
  if (finding.exception) return `kept on purpose: ${finding.exception.reason}`;
  if (finding.sql.dynamic) return 'part of the SQL text is built at run time; rewrite it by hand (values can become bindings, identifiers need a whitelist)';
  if (finding.info.statementCount > 1) return 'the text holds several statements';
  return undefined;
}

function prepare(text: string, fileName: string, finding: Finding, options: RewriteOptions, sfCache?: ts.SourceFile): Prepared | { reason: string } {
  const r = findingReason(finding);
  if (r) return { reason: r };
  const sql = finding.sql!.text;
  const dialect = dialectOf(finding, options);
  const sf = sfCache ?? sourceFile(text, fileName);
  const p: Prepared = { sf, sql, dialect, mapped: [] };
  const site = analyzeCall(sf, finding, sql, { wrapperResults: options.wrapperResults });
  if (site.ok) p.site = site.value;
  else p.siteReason = site.reason;
  if (['select', 'insert', 'update', 'delete'].includes(finding.info!.kind)) {
    const plan = planSql(sql, dialect, options.schemaMapping);
    if (plan.ok) {
      p.plan = plan.plan;
      p.mapped = plan.mapped;
    } else p.planReason = plan.reason;
  } else {
    p.planReason = `${finding.info!.kind === 'ddl' ? 'DDL' : 'this statement'} has no query-builder form (Knex's schema builder is a separate migration)`;
  }
  return p;
}

// ---- the knex instance in scope -------------------------------------------------------------

interface InstanceInfo {
  ok: boolean;
  reason?: string;
  importEdit?: TextEdit;
}

function moduleSpecifier(target: string, fileName: string, root: string | undefined): string {
  if (!root || !(target.startsWith('.') || target.includes('/')) || target.startsWith('@')) return target;
  if (!target.startsWith('.') && !/^[A-Za-z0-9_-]+\//.test(target)) return target;
  const abs = path.resolve(root, target);
  const fromDir = path.dirname(path.resolve(root, fileName));
  let rel = path.relative(fromDir, abs).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = './' + rel;
  return rel.replace(/\.(ts|tsx|js|mjs|cjs)$/, '');
}

export function instanceInScope(sf: ts.SourceFile, fileName: string, instance: string, calleeRoot: string | undefined, options: RewriteOptions, templates: Templates): InstanceInfo {
  if (calleeRoot === instance) return { ok: false, reason: `\`${instance}\` is the database client this call goes through, not a knex instance; set rewrite.knex.instance` };
  let importedFrom: string | undefined;
  let declared = false;
  let lastImport: ts.Statement | undefined;
  let sameModuleImport: ts.ImportDeclaration | undefined;
  let usesRequire = false;
  const target = options.knex?.import ? moduleSpecifier(options.knex.import, fileName, options.workspaceRoot) : undefined;
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st)) {
      lastImport = st;
      const mod = ts.isStringLiteral(st.moduleSpecifier) ? st.moduleSpecifier.text : '';
      const clause = st.importClause;
      if (mod === target && clause?.namedBindings && ts.isNamedImports(clause.namedBindings) && !clause.isTypeOnly) sameModuleImport = st;
      if (clause?.name?.text === instance) importedFrom = mod;
      if (clause?.namedBindings && ts.isNamedImports(clause.namedBindings)) {
        for (const el of clause.namedBindings.elements) if (el.name.text === instance) importedFrom = mod;
      }
      if (clause?.namedBindings && ts.isNamespaceImport(clause.namedBindings) && clause.namedBindings.name.text === instance) importedFrom = mod;
    } else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        const init = d.initializer;
        const isRequire = !!init && ts.isCallExpression(init) && ts.isIdentifier(init.expression) && init.expression.text === 'require';
        if (isRequire) {
          usesRequire = true;
          lastImport = st;
        }
        const names: string[] = [];
        const collect = (n: ts.BindingName) => {
          if (ts.isIdentifier(n)) names.push(n.text);
          else for (const el of n.elements) if (ts.isBindingElement(el)) collect(el.name);
        };
        collect(d.name);
        if (names.includes(instance)) {
          if (isRequire) importedFrom = (init as ts.CallExpression).arguments[0] && ts.isStringLiteral((init as ts.CallExpression).arguments[0]) ? ((init as ts.CallExpression).arguments[0] as ts.StringLiteral).text : '?';
          else declared = true;
        }
      }
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name?.text === instance) {
      declared = true;
    }
  }
  if (declared) {
    const d = sf.statements.find((s) => ts.isVariableStatement(s) && s.declarationList.declarations.some((x) => ts.isIdentifier(x.name) && x.name.text === instance)) as ts.VariableStatement | undefined;
    const init = d?.declarationList.declarations.find((x) => ts.isIdentifier(x.name) && x.name.text === instance)?.initializer;
    if (init && ts.isCallExpression(init) && ts.isIdentifier(init.expression) && /^knex$/i.test(init.expression.text)) return { ok: true };
    return { ok: false, reason: `\`${instance}\` already names something else in this file; set rewrite.knex.instance in .sqlmigrate.json` };
  }
  if (importedFrom !== undefined) {
    if (target && importedFrom !== target && importedFrom !== options.knex?.import) return { ok: false, reason: `\`${instance}\` is imported from '${importedFrom}', not from the configured '${target}'` };
    return { ok: true };
  }
  if (!target) return { ok: false, reason: `the knex instance \`${instance}\` is not in scope in this file; set rewrite.knex.import in .sqlmigrate.json so the import can be added` };
  const isDefault = options.knex?.importDefault ?? false;
  if (sameModuleImport && !isDefault) {
    const named = sameModuleImport.importClause!.namedBindings as ts.NamedImports;
    const last = named.elements[named.elements.length - 1];
    if (last) return { ok: true, importEdit: { range: rangeOf(sf, last.getEnd(), last.getEnd()), newText: `, ${instance}` } };
  }
  const ext = path.extname(fileName).toLowerCase();
  const esm = sf.statements.some(ts.isImportDeclaration) || (!usesRequire && !['.js', '.cjs'].includes(ext));
  const line = renderImport(esm ? 'esm' : 'cjs', instance, target, isDefault, templates);
  if (lastImport) {
    const end = lastImport.getEnd();
    return { ok: true, importEdit: { range: rangeOf(sf, end, end), newText: `\n${line}` } };
  }
  const first = sf.statements[0];
  const at = first ? first.getStart(sf) : 0;
  return { ok: true, importEdit: { range: rangeOf(sf, at, at), newText: `${line}\n${first ? '\n' : ''}` } };
}

// ---- actions --------------------------------------------------------------------------------

function lineIndent(sf: ts.SourceFile, pos: number): { indent: string; column: number } {
  const lc = lspPosition(sf, pos);
  const lineStart = lspLineStart(sf, lc.line);
  const line = sf.text.slice(lineStart, pos);
  return { indent: /^[ \t]*/.exec(line)![0], column: lc.character };
}

export function bindingsMap(site: CallSite): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, t] of site.params) {
    const n = normaliseExprText(t);
    if (!m.has(n)) m.set(n, site.canonicalKey(k));
  }
  return m;
}

function notOffered(title: string, target: RewriteAction['target'], reason: string): RewriteAction {
  return { title, kind: 'quickfix', preferred: false, verified: false, edits: [], reasonNotOffered: reason, target };
}

function builderAction(p: Prepared, finding: Finding, fileName: string, options: RewriteOptions, templates: Templates): RewriteAction {
  const instance = options.knex?.instance ?? DEFAULT_INSTANCE;
  const title = p.mapped.length ? `Rewrite with Knex (schema mapping applied: ${p.mapped.join(', ')})` : 'Rewrite with Knex';
  if (!p.plan) return notOffered(title, 'knex', p.planReason ?? 'no plan');
  if (!p.site) return notOffered(title, 'knex', p.siteReason ?? 'unrecognised call');
  const plan = p.plan;
  const stmt = {
    kind: plan.kind,
    returning: plan.kind !== 'select' && !!plan.returning,
    limited: plan.kind === 'select' && (!!plan.limit || !!plan.offset),
  };
  const result = planResult(p.sf, p.site, stmt);
  if (!result.ok) return notOffered(title, 'knex', result.reason);
  const inScope = instanceInScope(p.sf, fileName, instance, p.site.calleeRoot, options, templates);
  if (!inScope.ok) return notOffered(title, 'knex', inScope.reason!);
  let chain = chainOf(plan);
  if (result.value.firstRow) chain = withFirst(chain);
  const exprs = new Map<string, string>();
  for (const k of p.site.params.keys()) exprs.set(k, p.site.params.get(p.site.canonicalKey(k)) ?? p.site.params.get(k)!);
  const { indent, column } = lineIndent(p.sf, p.site.call.getStart(p.sf));
  let text: string;
  try {
    text = renderChain(chain, { instance, exprs, indent, column }, templates);
  } catch (e) {
    return notOffered(title, 'knex', `the template failed: ${(e as Error).message}`);
  }
  const v = verifyChain(text, {
    instance,
    dialect: p.dialect,
    originalSql: p.sql,
    bindings: bindingsMap(p.site),
    canonicalKey: p.site.canonicalKey,
    firstRow: result.value.firstRow,
    mapping: options.schemaMapping,
  });
  if (!v.ok) return notOffered(title, 'knex', `not verified: ${v.reason}`);
  const edits = result.value.edits(text);
  if (inScope.importEdit) edits.push(inScope.importEdit);
  if (p.mapped.length) {
    const knexSql = `-- schema mapping applied: ${p.mapped.join(', ')}\n${v.sql}`;
    return { title, kind: 'quickfix', preferred: true, verified: true, edits: sortEdits(edits), target: 'knex', knexSql, mapped: p.mapped };
  }
  return { title, kind: 'quickfix', preferred: true, verified: true, edits: sortEdits(edits), target: 'knex', knexSql: v.sql };
  void finding;
}

/** The SQL with `:name` bindings, plus the bindings object text. */
export function namedBindings(sql: string, params: Map<string, string>, canonicalKey: (k: string) => string): { sql: string; bindings: string } | { reason: string } {
  const names = new Map<string, string>();
  const used = new Set<string>();
  for (const k of params.keys()) {
    const ck = canonicalKey(k);
    if (names.has(ck)) {
      names.set(k, names.get(ck)!);
      continue;
    }
    const expr = params.get(ck)!;
    let name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(expr) ? expr : /\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr)?.[1] ?? `p${k}`;
    while (used.has(name) || new RegExp(`::${name}\\b`).test(sql)) name = `${name}_${k}`;
    used.add(name);
    names.set(ck, name);
    names.set(k, name);
  }
  let out = '';
  let last = 0;
  for (const ph of placeholderKeys(sql)) {
    const name = names.get(ph.key);
    if (!name) return { reason: `no value for placeholder ${ph.key}` };
    out += sql.slice(last, ph.start) + `:${name}`;
    last = ph.end;
  }
  out += sql.slice(last);
  if (/(^|[^:]):[A-Za-z_]/.test(sql.replace(/'(?:[^']|'')*'/g, "''").replace(/::/g, '')) && !placeholderKeys(sql).length) return { reason: 'the SQL contains `:word` text that Knex would read as a binding' };
  if (/\?/.test(out.replace(/'(?:[^']|'')*'/g, "''"))) return { reason: 'the SQL contains `?` that Knex would read as a binding' };
  const entries = [...new Set([...params.keys()].map((k) => canonicalKey(k)))].map((ck) => {
    const name = names.get(ck)!;
    const expr = params.get(ck)!;
    return expr === name ? name : `${name}: ${expr}`;
  });
  return { sql: out, bindings: entries.length ? `{ ${entries.join(', ')} }` : '' };
}

export function sqlLiteralText(sql: string): string {
  if (sql.includes('\n') && !/[`\\]|\$\{/.test(sql)) return '`' + sql + '`';
  return jsString(sql);
}

function rawAction(p: Prepared, finding: Finding, fileName: string, options: RewriteOptions, templates: Templates): RewriteAction | undefined {
  const instance = options.knex?.instance ?? DEFAULT_INSTANCE;
  const title = `Wrap in ${instance}.raw() (SQL kept, values bound by name)`;
  if (!p.site) return notOffered(title, 'knex-raw', p.siteReason ?? 'unrecognised call');
  if (p.mapped.length) return notOffered(title, 'knex-raw', `the schema mapping changes this statement (${p.mapped.join(', ')}); ${instance}.raw() would keep the old schema`);
  const site = p.site;
  // knex.raw resolves to the driver's own result for pg and mysql2: reads stay as they are.
  const sameResult = (site.original === 'pg-result' && finding.driver === 'pg') || (site.original === 'mysql-tuple' && finding.driver === 'mysql2');
  const parent = site.sync ? undefined : site.call.parent && ts.isAwaitExpression(site.call.parent) ? site.call.parent.parent : undefined;
  const discarded = parent && ts.isExpressionStatement(parent);
  if (!sameResult && !discarded) return notOffered(title, 'knex-raw', `knex.raw() resolves to the driver's raw result, which differs from what ${finding.callee ?? 'this call'} returns here`);
  if (site.sync) return notOffered(title, 'knex-raw', 'better-sqlite3 is synchronous; knex.raw() is not');
  if (!site.call.parent || !ts.isAwaitExpression(site.call.parent)) return notOffered(title, 'knex-raw', 'the call is not awaited where it is made');
  const nb = namedBindings(p.sql, site.params, site.canonicalKey);
  if ('reason' in nb) return notOffered(title, 'knex-raw', nb.reason);
  const inScope = instanceInScope(p.sf, fileName, instance, site.calleeRoot, options, templates);
  if (!inScope.ok) return notOffered(title, 'knex-raw', inScope.reason!);
  let text: string;
  try {
    text = renderRaw(instance, sqlLiteralText(nb.sql), nb.bindings, templates);
  } catch (e) {
    return notOffered(title, 'knex-raw', `the template failed: ${(e as Error).message}`);
  }
  const v = verifyRaw(text, { instance, dialect: p.dialect, originalSql: p.sql, bindings: bindingsMap(site), canonicalKey: site.canonicalKey });
  if (!v.ok) return notOffered(title, 'knex-raw', `not verified: ${v.reason}`);
  const edits: TextEdit[] = [{ range: rangeOf(p.sf, site.call.getStart(p.sf), site.call.getEnd()), newText: text }];
  if (inScope.importEdit) edits.push(inScope.importEdit);
  return { title, kind: 'quickfix', preferred: false, verified: true, edits: sortEdits(edits), target: 'knex-raw', knexSql: v.sql };
}

function cmpPos(a: Range['start'], b: Range['start']): number {
  return a.line - b.line || a.character - b.character;
}

function sortEdits(edits: TextEdit[]): TextEdit[] {
  return [...edits].sort((a, b) => cmpPos(a.range.start, b.range.start));
}

/**
 * The code actions for one finding: the builder rewrite (preferred when verified) and the
 * `knex.raw` rewrite as a separate, clearly labelled action. Actions that are not offered
 * come back with `verified: false`, no edits, and `reasonNotOffered` for the hover.
 */
/**
 * Why a raw-sql finding must wait for its hand-written transaction (from `findings`, the file's
 * findings), or undefined: a `db(...)` or `db.raw(...)` would run on another pooled connection,
 * outside the transaction.
 */
export function insideTransactionReason(finding: Finding, findings: Finding[] | undefined, options: RewriteOptions = {}): string | undefined {
  const t = findings && enclosingManualTransaction(finding, findings);
  if (!t) return undefined;
  const instance = options.knex?.instance ?? 'db';
  return `it runs inside the hand-written transaction at line ${t.range.start.line + 1}: a Knex call would run on another pooled connection, outside it; rewrite the transaction first (Rewrite as ${instance}.transaction())`;
}

/**
 * The rewrites of one raw-sql finding: the builder form (preferred) and `db.raw()`. `findings`
 * (the file's findings) lets it refuse a statement inside a hand-written transaction.
 */
export function rewriteActions(text: string, fileName: string, finding: Finding, options: RewriteOptions = {}, findings?: Finding[]): RewriteAction[] {
  try {
    const inside = insideTransactionReason(finding, findings, options);
    if (inside) return [notOffered('Rewrite with Knex', 'knex', inside)];
    const p = prepare(text, fileName, finding, options);
    if ('reason' in p) return [notOffered('Rewrite with Knex', 'knex', p.reason)];
    const templates = options.templates ?? defaultTemplates();
    const builder = builderAction(p, finding, fileName, options, templates);
    const actions = [builder];
    if (finding.info!.statementCount <= 1) {
      const raw = rawAction(p, finding, fileName, options, templates);
      if (raw) actions.push(raw);
    }
    return actions;
  } catch (e) {
    return [notOffered('Rewrite with Knex', 'knex', `internal error: ${(e as Error).message}`)];
  }
}

/** Why the builder rewrite is not offered for this finding (undefined when it is). */
export function whyNoRewrite(finding: Finding, text?: string, fileName?: string, options: RewriteOptions = {}, findings?: Finding[]): string | undefined {
  const r = findingReason(finding);
  if (r) return r;
  if (text === undefined || fileName === undefined) {
    const kind = finding.info!.kind;
    if (!['select', 'insert', 'update', 'delete'].includes(kind)) return `${kind === 'ddl' ? 'DDL' : 'this statement'} has no query-builder form`;
    const plan = planSql(finding.sql!.text, dialectOf(finding, options), options.schemaMapping);
    return plan.ok ? undefined : plan.reason;
  }
  const a = rewriteActions(text, fileName, finding, options, findings)[0];
  return a.verified ? undefined : a.reasonNotOffered;
}

export interface FixAllResult {
  edits: TextEdit[];
  applied: Array<{ finding: Finding; target: 'knex' }>;
  skipped: Array<{ finding: Finding; reason: string }>;
}

function overlaps(a: Range, b: Range): boolean {
  return cmpPos(a.start, b.end) < 0 && cmpPos(b.start, a.end) < 0;
}

/**
 * Every verified builder rewrite in a file, as one set of non-overlapping edits (a finding whose
 * edits would overlap an earlier one is skipped with a reason; run again to pick it up). The
 * import, when needed, is added once.
 */
export function fixAll(text: string, fileName: string, findings: Finding[], options: RewriteOptions = {}, context: Finding[] = findings): FixAllResult {
  const out: FixAllResult = { edits: [], applied: [], skipped: [] };
  let importEdit: TextEdit | undefined;
  for (const f of findings) {
    if (f.rule !== 'raw-sql') continue;
    const action = rewriteActions(text, fileName, f, options, context)[0];
    if (!action.verified) {
      out.skipped.push({ finding: f, reason: action.reasonNotOffered ?? 'not verified' });
      continue;
    }
    const isImport = (e: TextEdit) => /^\n?(import |const .*require\()/.test(e.newText) || /^, /.test(e.newText);
    const own = action.edits.filter((e) => !isImport(e));
    const imp = action.edits.find(isImport);
    if (own.some((e) => out.edits.some((x) => overlaps(e.range, x.range) || (cmpPos(e.range.start, x.range.start) === 0 && cmpPos(e.range.end, x.range.end) === 0)))) {
      out.skipped.push({ finding: f, reason: 'its edits overlap another rewrite in this file; run fix again' });
      continue;
    }
    out.edits.push(...own);
    if (imp && !importEdit) importEdit = imp;
    out.applied.push({ finding: f, target: 'knex' });
  }
  if (importEdit) out.edits.push(importEdit);
  out.edits = sortEdits(out.edits);
  return out;
}

/** Applies non-overlapping zero-based edits to a text (used by the CLI and the tests). */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const off = (p: Range['start']) => Math.min((lineStarts[p.line] ?? text.length) + p.character, text.length);
  const sorted = [...edits].map((e) => ({ s: off(e.range.start), e: off(e.range.end), t: e.newText })).sort((a, b) => b.s - a.s || b.e - a.e);
  let out = text;
  let lastStart = Infinity;
  for (const x of sorted) {
    if (x.e > lastStart) throw new Error('overlapping edits');
    out = out.slice(0, x.s) + x.t + out.slice(x.e);
    lastStart = x.s;
  }
  return out;
}
