/**
 * Raw SQL → a method of a Knex-backed repository class (issue #5, TypeScript), built on the
 * verified Knex rewrite (index.ts): a statement gets a repository method only when its Knex chain
 * verifies; the method body is that chain over `this.db` with the call's values as parameters, and
 * the call site keeps exactly the result adaptation callsite.ts computed, the chain replaced by the
 * method call.
 *
 *   const { rows } = await pool.query('SELECT * FROM jobs WHERE id = $1', [id]);  return rows[0];
 *   → const rows = await jobRepository.findById(id);  return rows;
 *   + src/repositories/jobRepository.ts:
 *       export class JobRepository {
 *         constructor(private readonly db: Knex) {}
 *         /** sql: select * from jobs where id = $1 | first *\/
 *         async findById(id: Knex.Value) { return this.db('jobs').where('id', '=', id).first(); }
 *       }
 *       export const jobRepository = new JobRepository(db);
 *
 * The `sql:` doc line is the method's fingerprint (normalised statement + how its result is read):
 * a statement with the same fingerprint, in any file, reuses the method; a different statement
 * whose name is taken gets a suffix. Verified before offering: the call site's Knex chain (as the
 * Knex rewrite verifies it), the rendered method read back (signature, one `return <chain>`, the
 * chain re-interpreted by verify.ts with the parameters bound to the original placeholders, same
 * SQL as the call site's chain), the call read back (exactly the original bind expressions, in
 * order), and both files parse. No I/O: files are read through `options.readFile`.
 */
import * as path from 'node:path';
import * as ts from 'typescript';
import type { Finding } from '../types';
import { analyzeCall, planResult, rangeOf, type CallSite } from './callsite';
import { chainOf, withFirst, type Arg, type Chain } from './chain';
import { bindingsMap, insideTransactionReason, sourceFile, whyNoRewrite, type RewriteOptions } from './index';
import { planSql, type Cond, type Plan } from './plan';
import { defaultTemplates, renderChain, renderImport, type Templates } from './render';
import type { FileChange, RepositoryAction, RepositoryConfig, RepositoryMethod, TextEdit } from './repositoryTypes';
import { liquidFor, shippedTemplates } from './templateSet';
import { verifyChain } from './verify';

export const TS_REPOSITORY_TEMPLATE_NAMES = ['file', 'method', 'call', 'import'] as const;
export type TsRepositoryTemplateName = (typeof TS_REPOSITORY_TEMPLATE_NAMES)[number];
export type TsRepositoryTemplates = Record<TsRepositoryTemplateName, string>;

/** The shipped `templates/repository-ts/*.liquid` (read once). */
export function defaultTsRepositoryTemplates(): TsRepositoryTemplates {
  return shippedTemplates('repository-ts', TS_REPOSITORY_TEMPLATE_NAMES);
}

export interface TsRepositoryOptions extends RewriteOptions {
  repository: RepositoryConfig['typescript'];
  /** The current text of a workspace file ('/'-separated, workspace-relative); undefined = absent. */
  readFile: (rel: string) => string | undefined;
  repositoryTemplates?: TsRepositoryTemplates;
  /**
   * false: no second "at all N call sites of this statement in the file" action (the editor offers
   * its own, computed when chosen, covering other files too). Default true.
   */
  sameFileAction?: boolean;
}

export interface TsRepositoryFixResult {
  edits: TextEdit[];
  files: FileChange[];
  /** `instance`: the exported repository instance the call site uses; `created`: the repository file is new. */
  applied: Array<{ finding: Finding; method: RepositoryMethod; instance: string; created: boolean }>;
  skipped: Array<{ finding: Finding; reason: string }>;
}

const DEFAULT_INSTANCE = 'db';
/** The name the method body's `this.db` is read as while it is re-verified. */
const VERIFY_INSTANCE = '__repositoryKnex';
/** Callback parameters the Knex chain uses (`(q) => q.where(…)`): never a method parameter. */
const CALLBACK_NAMES = /^(q\d*|j)$/;
const RESERVED = new Set(('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await async arguments eval undefined').split(' '));
const SQL_KEYWORDS = new Set(('select from where and or not in is null like ilike between insert into values update set delete returning order by group having limit offset asc desc join left right inner outer cross on as distinct count sum min max avg true false default conflict do nothing exists case when then else end union all ignore duplicate key').split(' '));

// ---- naming ---------------------------------------------------------------------------------

function words(s: string): string[] {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w.toLowerCase());
}

function camel(s: string): string {
  const w = words(s);
  if (!w.length) return '';
  const out = w[0] + w.slice(1).map((x) => x[0].toUpperCase() + x.slice(1)).join('');
  return /^[0-9]/.test(out) ? `_${out}` : out;
}

function pascal(s: string): string {
  const c = camel(s);
  return c ? c[0].toUpperCase() + c.slice(1) : '';
}

function singular(word: string): string {
  if (/ies$/.test(word) && word.length > 4) return word.slice(0, -3) + 'y';
  if (/(ss|us|is)$/.test(word)) return word;
  if (/(sses|xes|zes|ches|shes)$/.test(word)) return word.slice(0, -2);
  if (/s$/.test(word) && word.length > 1) return word.slice(0, -1);
  return word;
}

/** `job_runs` → `jobRun`, `public.jobs` → `job`. */
export function tableEntity(table: string): string {
  const bare = table.split(/\s+as\s+/i)[0].split('.').pop() ?? table;
  const w = words(bare);
  if (!w.length) return '';
  w[w.length - 1] = singular(w[w.length - 1]);
  return camel(w.join('_'));
}

/** The bare column name (`j.status` → `status`). */
function bareColumn(c: string): string {
  return c.split(/\s+as\s+/i)[0].split('.').pop() ?? c;
}

function whereColumns(c: Cond | undefined): { cols: string[]; or: boolean } {
  const cols: string[] = [];
  const walk = (x: Cond) => {
    if ('items' in x) {
      x.items.forEach(walk);
      return;
    }
    const col = bareColumn(x.column);
    if (!cols.includes(col)) cols.push(col);
  };
  if (c) walk(c);
  return { cols, or: c?.kind === 'or' };
}

function byPart(where: Cond | undefined): string {
  const { cols, or } = whereColumns(where);
  if (!cols.length) return '';
  if (cols.length > 3) return 'Where';
  return 'By' + cols.map(pascal).join(or ? 'Or' : 'And');
}

/** `findById`, `listByStatus`, `listAll`, `countByStatus`, `insert`, `updateStatusById`, `deleteById`. */
export function methodBaseName(plan: Plan, firstRow: boolean): string {
  switch (plan.kind) {
    case 'select': {
      const by = byPart(plan.where);
      const onlyCount = plan.columns.length === 1 && plan.columns[0].kind === 'agg' && plan.columns[0].fn === 'count' && !plan.groupBy.length;
      if (onlyCount) return `count${by || 'All'}`;
      if (firstRow) return `find${by || 'First'}`;
      return `list${by || 'All'}`;
    }
    case 'insert':
      return plan.rows.length > 1 ? 'insertMany' : plan.conflict ? (plan.conflict.action === 'merge' ? 'upsert' : 'insertIgnore') : 'insert';
    case 'update': {
      const set = plan.set.map((s) => bareColumn(s.column));
      const what = set.length && set.length <= 2 ? set.map(pascal).join('And') : '';
      return `update${what}${byPart(plan.where) || 'All'}`;
    }
    case 'delete':
      return `delete${byPart(plan.where) || 'All'}`;
  }
}

// ---- fingerprint ----------------------------------------------------------------------------

/** Whitespace collapsed and keywords lower-cased outside quotes; identifiers and literals as written. */
export function normaliseSql(sql: string): string {
  let out = '';
  let i = 0;
  const s = sql.trim().replace(/;\s*$/, '');
  while (i < s.length) {
    const ch = s[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < s.length) {
        if (s[j] === ch && s[j + 1] === ch) j += 2;
        else if (s[j] === ch) break;
        else j++;
      }
      out += s.slice(i, j + 1);
      i = j + 1;
    } else if (/\s/.test(ch)) {
      while (i < s.length && /\s/.test(s[i])) i++;
      out += ' ';
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i;
      while (j < s.length && /[A-Za-z0-9_$]/.test(s[j])) j++;
      const w = s.slice(i, j);
      out += SQL_KEYWORDS.has(w.toLowerCase()) ? w.toLowerCase() : w;
      i = j;
    } else {
      out += ch;
      i++;
    }
  }
  return out.trim().replace(/\s*,\s*/g, ', ').replace(/\(\s+/g, '(').replace(/\s+\)/g, ')');
}

function shapeOf(plan: Plan, firstRow: boolean): string {
  if (plan.kind === 'select') return firstRow ? 'first' : 'rows';
  if (plan.returning) return 'rows';
  return plan.kind === 'insert' ? 'insert' : 'count';
}

// ---- the pipeline for one finding -------------------------------------------------------------

interface Param {
  key: string;
  name: string;
  type: string;
  /** The original bind expression at the call site. */
  expr: string;
}

interface Computed {
  fingerprint: string;
  table: string;
  file: string;
  className: string;
  instanceName: string;
  baseName: string;
  params: Param[];
  /** The method body's chain (over `this.db`), rendered. */
  body: string;
  firstRow: boolean;
  /** Knex's SQL for the statement (the call site's chain as verified). */
  knexSql: string;
  dialect: NonNullable<RewriteOptions['defaultDialect']>;
  originalSql: string;
  mapping: RewriteOptions['schemaMapping'];
  chain: Chain;
  site: CallSite;
  edits: (call: string) => TextEdit[];
  sf: ts.SourceFile;
}

type Out<T> = { ok: true; value: T } | { ok: false; reason: string };

function isJs(fileName: string): boolean {
  return /\.(js|mjs|cjs|jsx)$/i.test(fileName);
}

function dialectOf(finding: Finding, options: RewriteOptions): Computed['dialect'] {
  const byDriver: Record<string, Computed['dialect']> = { pg: 'postgresql', 'pg-promise': 'postgresql', mysql2: 'mysql', 'better-sqlite3': 'sqlite', sqlite3: 'sqlite' };
  return byDriver[finding.driver] ?? options.defaultDialect ?? finding.info?.dialect ?? 'postgresql';
}

/** Parameter names and types from what each bind feeds in the chain. */
function paramsOf(chain: Chain, keys: string[], site: CallSite): Param[] {
  const hint = new Map<string, { name: string; type: string }>();
  const visit = (a: Arg, method: string, column: string | undefined) => {
    switch (a.t) {
      case 'bind':
        if (!hint.has(a.key)) {
          const numeric = ['limit', 'offset', 'increment', 'decrement'].includes(method);
          hint.set(a.key, { name: method === 'limit' || method === 'offset' ? method : column ? camel(bareColumn(column)) : '', type: numeric ? 'number' : 'Knex.Value' });
        }
        return;
      case 'array': a.items.forEach((x) => visit(x, method, column)); return;
      case 'object': a.entries.forEach(([k, v]) => visit(v, method, k)); return;
      case 'rawValue': visit(a.value, method, column); return;
      case 'fn': a.steps.forEach((s) => stepVisit(s.method, s.args)); return;
      default: return;
    }
  };
  const stepVisit = (method: string, args: Arg[]) => {
    const first = args[0];
    const column = first?.t === 'str' ? first.v : first?.t === 'raw' && first.idents.length === 1 ? first.idents[0] : undefined;
    args.forEach((a) => visit(a, method, column));
  };
  chain.steps.forEach((s) => stepVisit(s.method, s.args));
  const used = new Set<string>();
  return keys.map((key) => {
    const h = hint.get(key);
    let base = h?.name || `p${key}`;
    if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(base) || RESERVED.has(base) || CALLBACK_NAMES.test(base)) base = `${base.replace(/[^A-Za-z0-9_$]/g, '') || 'p'}Value`;
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}${i}`;
    used.add(name);
    return { key, name, type: h?.type ?? 'Knex.Value', expr: site.params.get(key)! };
  });
}

/**
 * compute() of the last (text, file, options, file findings) seen, by finding: a code action
 * computes the same call site several times (its own action, the "all call sites" one, the
 * fingerprints of candidates). Computed values are read, never changed.
 */
let computeMemo: { text: string; fileName: string; options: TsRepositoryOptions; fileFindings: Finding[] | undefined; byFinding: Map<string, Out<Computed>> } | undefined;

function compute(text: string, fileName: string, finding: Finding, options: TsRepositoryOptions, fileFindings?: Finding[]): Out<Computed> {
  const m = computeMemo;
  if (!m || m.text !== text || m.fileName !== fileName || m.options !== options || m.fileFindings !== fileFindings) {
    computeMemo = { text, fileName, options, fileFindings, byFinding: new Map() };
  }
  const r = finding.range;
  const key = `${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character}\0${finding.rule}\0${finding.sql?.text ?? ''}\0${finding.driver ?? ''}`;
  const known = computeMemo!.byFinding.get(key);
  if (known) return known;
  const out = computeUncached(text, fileName, finding, options, fileFindings);
  computeMemo!.byFinding.set(key, out);
  return out;
}

function computeUncached(text: string, fileName: string, finding: Finding, options: TsRepositoryOptions, fileFindings?: Finding[]): Out<Computed> {
  if (isJs(fileName)) return { ok: false, reason: 'repository rewrites are offered for TypeScript files only in this version; rewrite JavaScript call sites with Knex' };
  const sqlReason = whyNoRewrite(finding, undefined, undefined, options);
  if (sqlReason) return { ok: false, reason: sqlReason };
  const inside = insideTransactionReason(finding, fileFindings, options);
  if (inside) return { ok: false, reason: inside };
  if (!options.knex?.import) return { ok: false, reason: 'the repository file must import the knex instance: set rewrite.knex.import in .sqlmigrate.json' };
  const sql = finding.sql!.text;
  const dialect = dialectOf(finding, options);
  const sf = sourceFile(text, fileName);
  const site = analyzeCall(sf, finding, sql, { wrapperResults: options.wrapperResults });
  if (!site.ok) return site;
  const planned = planSql(sql, dialect, options.schemaMapping);
  if (!planned.ok) return { ok: false, reason: planned.reason };
  const plan = planned.plan;
  const stmt = { kind: plan.kind, returning: plan.kind !== 'select' && !!plan.returning, limited: plan.kind === 'select' && (!!plan.limit || !!plan.offset) };
  const result = planResult(sf, site.value, stmt);
  if (!result.ok) return result;
  const firstRow = result.value.firstRow;
  let chain = chainOf(plan);
  if (firstRow) chain = withFirst(chain);
  const templates: Templates = options.templates ?? defaultTemplates();
  const instance = options.knex.instance ?? DEFAULT_INSTANCE;

  // 1. The Knex rewrite of this call, verified as index.ts verifies it.
  const exprs = new Map<string, string>();
  for (const k of site.value.params.keys()) exprs.set(k, site.value.params.get(site.value.canonicalKey(k)) ?? site.value.params.get(k)!);
  let knexText: string;
  try {
    knexText = renderChain(chain, { instance, exprs, indent: '', column: 0 }, templates);
  } catch (e) {
    return { ok: false, reason: `the template failed: ${(e as Error).message}` };
  }
  const v = verifyChain(knexText, { instance, dialect, originalSql: sql, bindings: bindingsMap(site.value), canonicalKey: site.value.canonicalKey, firstRow, mapping: options.schemaMapping });
  if (!v.ok) return { ok: false, reason: `the Knex rewrite is not verified: ${v.reason}` };

  // 2. The method: one parameter per placeholder key, in the order of the original values.
  const keys = [...site.value.params.keys()].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  if (keys.some((k) => !/^\d+$/.test(k))) return { ok: false, reason: 'named placeholders cannot be ordered as method parameters' };
  const params = paramsOf(chain, keys, site.value);
  const body = renderChain(chain, { instance: 'this.db', exprs: new Map(params.map((p) => [p.key, p.name])), indent: '    ', column: 11 }, templates);
  const table = plan.table.name;
  const entity = tableEntity(table);
  if (!entity) return { ok: false, reason: `no repository name can be made from the table \`${table}\`` };
  const normSql = normaliseSql(sql);
  if (normSql.includes('*/')) return { ok: false, reason: 'the statement contains `*/`, which cannot go into the method\'s doc comment' };
  const mapped = planned.mapped.length ? ` | mapped: ${planned.mapped.join(', ')}` : '';
  const dir = (options.repository?.dir ?? 'src/repositories').replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
  return {
    ok: true,
    value: {
      fingerprint: `${normSql} | ${shapeOf(plan, firstRow)}${mapped}`,
      table,
      file: `${dir ? dir + '/' : ''}${entity}Repository.ts`,
      className: pascal(entity) + 'Repository',
      instanceName: entity + 'Repository',
      baseName: methodBaseName(plan, firstRow),
      params,
      body,
      firstRow,
      knexSql: v.sql,
      dialect,
      originalSql: sql,
      mapping: options.schemaMapping,
      chain,
      site: site.value,
      edits: result.value.edits,
      sf,
    },
  };
}

// ---- the repository file ----------------------------------------------------------------------

function parseProblems(text: string, fileName: string): number {
  // Parse diagnostics only: no parent pointers needed.
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  return ((sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? []).length;
}

/** The `sql:` fingerprint in a member's leading doc comment. */
function memberFingerprint(text: string, member: ts.ClassElement): string | undefined {
  for (const r of ts.getLeadingCommentRanges(text, member.pos) ?? []) {
    const c = text.slice(r.pos, r.end);
    for (const line of c.split('\n')) {
      const m = /^\s*(?:\/\*\*?)?\s*\*?\s*sql:\s*(.*?)\s*(?:\*\/)?\s*$/.exec(line);
      if (m) return m[1];
    }
  }
  return undefined;
}

interface RepoFile {
  cls?: ts.ClassDeclaration;
  hasInstance: boolean;
  sf: ts.SourceFile;
}

function readRepo(text: string, file: string, c: Computed): RepoFile {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const cls = sf.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === c.className);
  const hasInstance = sf.statements.some((s) => ts.isVariableStatement(s) && !!s.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) && s.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === c.instanceName));
  return { cls, hasInstance, sf };
}

function memberName(m: ts.ClassElement): string | undefined {
  return m.name && (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name) || ts.isPrivateIdentifier(m.name)) ? m.name.text : undefined;
}

function moduleSpecifier(target: string, fromFile: string): string {
  if (target.startsWith('@') || (!target.startsWith('.') && !target.includes('/'))) return target;
  const abs = path.posix.normalize(target.replace(/\\/g, '/').replace(/^\.\//, ''));
  let rel = path.posix.relative(path.posix.dirname(fromFile), abs);
  if (!rel.startsWith('.')) rel = './' + rel;
  return rel.replace(/\.(ts|tsx|js|mjs|cjs)$/, '');
}

function renderWith(templates: TsRepositoryTemplates, name: TsRepositoryTemplateName, vars: Record<string, unknown>): string {
  return liquidFor(templates, TS_REPOSITORY_TEMPLATE_NAMES).renderFileSync(name, vars);
}

function renderMethod(c: Computed, name: string, templates: TsRepositoryTemplates): string {
  const paramList = c.params.map((p) => `${p.name}: ${p.type}`).join(', ');
  return renderWith(templates, 'method', { name, params: c.params.map((p) => ({ name: p.name, type: p.type })), paramList, fingerprint: c.fingerprint, body: c.body, indent: '  ' }).replace(/^\n+|\s+$/g, '');
}

/**
 * Reads a rendered method back and re-verifies it: `async <name>(<params>) { return <chain>; }`,
 * the fingerprint line intact, and the chain (`this.db` read as the knex instance) interpreted by
 * verify.ts with each parameter bound to its placeholder, giving the call site's SQL.
 */
function verifyMethod(methodText: string, name: string, c: Computed): string | undefined {
  const wrapped = `class __Check {\n${methodText}\n}\n`;
  const sf = ts.createSourceFile('method.ts', wrapped, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  if (((sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? []).length) return 'the rendered method does not parse';
  const cls = sf.statements[0];
  if (sf.statements.length !== 1 || !ts.isClassDeclaration(cls) || cls.members.length !== 1) return 'the method template renders something other than one method';
  const m = cls.members[0];
  if (!ts.isMethodDeclaration(m) || memberName(m) !== name || !m.body) return 'the method template renders something other than the method';
  if (!m.modifiers?.some((x) => x.kind === ts.SyntaxKind.AsyncKeyword)) return 'the rendered method is not async';
  if (memberFingerprint(wrapped, m) !== c.fingerprint) return 'the rendered method lost its `sql:` fingerprint line';
  const names = m.parameters.map((p) => (ts.isIdentifier(p.name) && !p.dotDotDotToken && !p.initializer && !p.questionToken ? p.name.text : '?'));
  if (names.join(',') !== c.params.map((p) => p.name).join(',')) return 'the rendered method\'s parameters are not the statement\'s values in order';
  const st = m.body.statements;
  if (st.length !== 1 || !ts.isReturnStatement(st[0]) || !st[0].expression) return 'the rendered method body is not a single `return <chain>`';
  const expr = st[0].expression;
  // `this.db` → the knex instance; nothing else may refer to `this`.
  const repl: Array<[number, number]> = [];
  let stray = false;
  const visit = (n: ts.Node) => {
    if (ts.isPropertyAccessExpression(n) && n.expression.kind === ts.SyntaxKind.ThisKeyword) {
      if (n.name.text === 'db') repl.push([n.getStart(sf), n.getEnd()]);
      else stray = true;
      return;
    }
    if (n.kind === ts.SyntaxKind.ThisKeyword) stray = true;
    n.forEachChild(visit);
  };
  visit(expr);
  if (stray) return 'the rendered chain uses `this` other than `this.db`';
  let chainText = '';
  let last = expr.getStart(sf);
  for (const [s, e] of repl) {
    chainText += wrapped.slice(last, s) + VERIFY_INSTANCE;
    last = e;
  }
  chainText += wrapped.slice(last, expr.getEnd());
  const v = verifyChain(chainText, {
    instance: VERIFY_INSTANCE,
    dialect: c.dialect,
    originalSql: c.originalSql,
    bindings: new Map(c.params.map((p) => [p.name, p.key])),
    firstRow: c.firstRow,
    mapping: c.mapping,
  });
  if (!v.ok) return `the method's chain is not verified: ${v.reason}`;
  if (v.sql !== c.knexSql) return `the method's chain compiles to other SQL than the verified rewrite: ${v.sql}`;
  return undefined;
}

interface RepoChange {
  method: RepositoryMethod;
  /** The repository file's new text (undefined: unchanged, the method is reused). */
  after?: string;
  before: string | undefined;
}

function repositoryChange(c: Computed, current: string | undefined, options: TsRepositoryOptions, templates: TsRepositoryTemplates, knexTemplates: Templates): Out<RepoChange> {
  const base = { className: c.className, file: c.file, fingerprint: c.fingerprint };
  const knexInstance = options.knex?.instance ?? DEFAULT_INSTANCE;
  const check = (name: string, methodText: string): string | undefined => verifyMethod(methodText, name, c);
  if (current === undefined) {
    const name = c.baseName;
    const methodText = renderMethod(c, name, templates);
    const bad = check(name, methodText);
    if (bad) return { ok: false, reason: bad };
    const knexImport = renderImport('esm', knexInstance, moduleSpecifier(options.knex!.import!, c.file), options.knex?.importDefault ?? false, knexTemplates);
    const after = renderWith(templates, 'file', { className: c.className, instanceName: c.instanceName, table: c.table, knexImport, knex: knexInstance, methods: methodText }).replace(/^\n+/, '').replace(/\s*$/, '\n');
    if (parseProblems(after, c.file)) return { ok: false, reason: 'the repository file template renders a file that does not parse' };
    const repo = readRepo(after, c.file, c);
    if (!repo.cls || !repo.hasInstance) return { ok: false, reason: `the repository file template must declare class ${c.className} and export const ${c.instanceName}` };
    if (!repo.cls.members.some((m) => memberName(m) === name && memberFingerprint(after, m) === c.fingerprint)) return { ok: false, reason: 'the repository file template does not hold the method' };
    return { ok: true, value: { method: { ...base, name, reused: false }, after, before: undefined } };
  }
  if (parseProblems(current, c.file)) return { ok: false, reason: `${c.file} does not parse; fix it first` };
  const repo = readRepo(current, c.file, c);
  if (!repo.cls) return { ok: false, reason: `${c.file} exists but declares no class ${c.className}` };
  if (!repo.hasInstance) return { ok: false, reason: `${c.file} does not export \`${c.instanceName}\`` };
  const taken = new Set<string>();
  for (const m of repo.cls.members) {
    const n = memberName(m);
    if (n === undefined) continue;
    taken.add(n);
    if (ts.isMethodDeclaration(m) && memberFingerprint(current, m) === c.fingerprint) {
      const params = m.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : '?'));
      if (params.length !== c.params.length) return { ok: false, reason: `${c.className}.${n} has this statement's fingerprint but ${params.length} parameters, not ${c.params.length}` };
      return { ok: true, value: { method: { ...base, name: n, reused: true }, before: current } };
    }
  }
  let name = c.baseName;
  for (let i = 2; taken.has(name) || name === 'constructor'; i++) name = `${c.baseName}${i}`;
  const methodText = renderMethod(c, name, templates);
  const bad = check(name, methodText);
  if (bad) return { ok: false, reason: bad };
  const members = repo.cls.members;
  const lastMember = members[members.length - 1];
  let after: string;
  if (lastMember) {
    const at = lastMember.getEnd();
    after = current.slice(0, at) + '\n\n' + methodText + current.slice(at);
  } else {
    const at = repo.cls.getEnd() - 1;
    after = current.slice(0, at) + methodText + '\n' + current.slice(at);
  }
  if (parseProblems(after, c.file)) return { ok: false, reason: `adding the method to ${c.file} would not parse` };
  return { ok: true, value: { method: { ...base, name, reused: false }, after, before: current } };
}

// ---- the call site ----------------------------------------------------------------------------

interface ImportNeed {
  module: string;
  instance: string;
  /** An existing named import from the module (the name is appended to it). */
  existing?: ts.ImportDeclaration;
  /** Already imported: nothing to add. */
  present: boolean;
}

function importNeed(sf: ts.SourceFile, fileName: string, c: Computed): Out<ImportNeed> {
  const module = moduleSpecifier(c.file, fileName);
  let existing: ts.ImportDeclaration | undefined;
  let present = false;
  let clash: string | undefined;
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const mod = st.moduleSpecifier.text;
      const clause = st.importClause;
      const same = mod === module;
      if (same && clause && !clause.isTypeOnly && clause.namedBindings && ts.isNamedImports(clause.namedBindings)) existing = st;
      if (clause?.name?.text === c.instanceName) clash = `\`${c.instanceName}\` is already imported from '${mod}'`;
      if (clause?.namedBindings && ts.isNamespaceImport(clause.namedBindings) && clause.namedBindings.name.text === c.instanceName) clash = `\`${c.instanceName}\` is already imported from '${mod}'`;
      if (clause?.namedBindings && ts.isNamedImports(clause.namedBindings)) {
        for (const el of clause.namedBindings.elements) {
          if (el.name.text !== c.instanceName) continue;
          if (same && !clause.isTypeOnly && !el.isTypeOnly && (el.propertyName ?? el.name).text === c.instanceName) present = true;
          else clash = `\`${c.instanceName}\` is already imported from '${mod}'`;
        }
      }
    }
  }
  // Any other declaration of the name anywhere in the file would shadow or clash.
  if (!present && !clash && declaredNames(sf).has(c.instanceName)) clash = `\`${c.instanceName}\` already names something else in this file`;
  if (clash) return { ok: false, reason: clash };
  return { ok: true, value: { module, instance: c.instanceName, existing, present } };
}

const declaredCache = new WeakMap<ts.SourceFile, Set<string>>();

/** Every name a variable, function, class, parameter or binding element declares in the file (walked once per parsed file). */
function declaredNames(sf: ts.SourceFile): Set<string> {
  let names = declaredCache.get(sf);
  if (names) return names;
  const found = new Set<string>();
  const visit = (n: ts.Node) => {
    if ((ts.isVariableDeclaration(n) || ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n) || ts.isParameter(n) || ts.isBindingElement(n)) && n.name && ts.isIdentifier(n.name)) found.add(n.name.text);
    n.forEachChild(visit);
  };
  visit(sf);
  names = found;
  declaredCache.set(sf, names);
  return names;
}

function importEdits(sf: ts.SourceFile, needs: ImportNeed[], templates: TsRepositoryTemplates): TextEdit[] {
  const edits: TextEdit[] = [];
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const n of needs) {
    const id = `${n.module}\0${n.instance}`;
    if (n.present || seen.has(id)) continue;
    seen.add(id);
    if (n.existing) {
      const named = n.existing.importClause!.namedBindings as ts.NamedImports;
      const last = named.elements[named.elements.length - 1];
      if (last) {
        edits.push({ range: rangeOf(sf, last.getEnd(), last.getEnd()), newText: `, ${n.instance}` });
        continue;
      }
    }
    lines.push(renderWith(templates, 'import', { instance: n.instance, module: n.module }).trim());
  }
  if (lines.length) {
    const lastImport = [...sf.statements].reverse().find((s) => ts.isImportDeclaration(s) || ts.isImportEqualsDeclaration(s));
    if (lastImport) edits.push({ range: rangeOf(sf, lastImport.getEnd(), lastImport.getEnd()), newText: lines.map((l) => `\n${l}`).join('') });
    else {
      const first = sf.statements[0];
      const at = first ? first.getStart(sf) : 0;
      edits.push({ range: rangeOf(sf, at, at), newText: `${lines.join('\n')}\n${first ? '\n' : ''}` });
    }
  }
  return edits;
}

/** The call text, read back: `<instance>.<method>(<exactly the original bind expressions>)`. */
function renderCall(c: Computed, method: string, templates: TsRepositoryTemplates): Out<string> {
  const args = c.params.map((p) => p.expr);
  let text: string;
  try {
    text = renderWith(templates, 'call', { instance: c.instanceName, method, args, argList: args.join(', ') }).trim();
  } catch (e) {
    return { ok: false, reason: `the call template failed: ${(e as Error).message}` };
  }
  const sf = ts.createSourceFile('call.ts', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const st = sf.statements[0];
  if (((sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? []).length || sf.statements.length !== 1 || !ts.isExpressionStatement(st)) return { ok: false, reason: 'the call template does not render one expression' };
  const call = st.expression;
  if (!ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression) || call.expression.getText(sf) !== `${c.instanceName}.${method}`) return { ok: false, reason: `the call template does not render a call of ${c.instanceName}.${method}` };
  const got = call.arguments.map((a) => a.getText(sf));
  if (got.length !== args.length || got.some((g, i) => g !== args[i])) return { ok: false, reason: 'the rendered call does not pass exactly the original values in order' };
  return { ok: true, value: text };
}

interface Prepared {
  c: Computed;
  change: RepoChange;
  callEdits: TextEdit[];
  need: ImportNeed;
}

function prepareOne(text: string, fileName: string, finding: Finding, options: TsRepositoryOptions, readCurrent: (rel: string) => string | undefined, fileFindings?: Finding[]): Out<Prepared> {
  const computed = compute(text, fileName, finding, options, fileFindings);
  if (!computed.ok) return computed;
  const c = computed.value;
  if (c.file === fileName.replace(/\\/g, '/')) return { ok: false, reason: 'the statement is in the repository file itself' };
  const templates = options.repositoryTemplates ?? defaultTsRepositoryTemplates();
  const knexTemplates = options.templates ?? defaultTemplates();
  let change: Out<RepoChange>;
  try {
    change = repositoryChange(c, readCurrent(c.file), options, templates, knexTemplates);
  } catch (e) {
    return { ok: false, reason: `a repository template failed: ${(e as Error).message}` };
  }
  if (!change.ok) return change;
  const call = renderCall(c, change.value.method.name, templates);
  if (!call.ok) return call;
  const need = importNeed(c.sf, fileName, c);
  if (!need.ok) return need;
  return { ok: true, value: { c, change: change.value, callEdits: c.edits(call.value), need: need.value } };
}

function cmp(a: TextEdit['range']['start'], b: TextEdit['range']['start']): number {
  return a.line - b.line || a.character - b.character;
}

function sortEdits(edits: TextEdit[]): TextEdit[] {
  return [...edits].sort((a, b) => cmp(a.range.start, b.range.start));
}

function overlaps(a: TextEdit['range'], b: TextEdit['range']): boolean {
  return (cmp(a.start, b.end) < 0 && cmp(b.start, a.end) < 0) || (cmp(a.start, b.start) === 0 && cmp(a.end, b.end) === 0);
}

function applyTextEdits(text: string, edits: TextEdit[], sf: ts.SourceFile): string {
  const sorted = edits.map((e) => ({ s: sf.getPositionOfLineAndCharacter(e.range.start.line, e.range.start.character), e: sf.getPositionOfLineAndCharacter(e.range.end.line, e.range.end.character), t: e.newText })).sort((a, b) => b.s - a.s || b.e - a.e);
  let out = text;
  for (const x of sorted) out = out.slice(0, x.s) + x.t + out.slice(x.e);
  return out;
}

function notOffered(title: string, reason: string): RepositoryAction {
  return { title, kind: 'quickfix', preferred: false, verified: false, edits: [], files: [], reasonNotOffered: reason, target: 'repository' };
}

const TITLE = 'Move to a repository method';

/**
 * Every verified repository rewrite in a file, as one set of call-site edits and the repository
 * files they create or change. Findings sharing a statement share one method; a repository file
 * is read once through `readFile` and then carried forward (fix-all over several files calls this
 * per file with a `readFile` that reflects the previous files' results).
 */
export function tsRepositoryFixAll(text: string, fileName: string, findings: Finding[], options: TsRepositoryOptions, fileFindings: Finding[] = findings): TsRepositoryFixResult {
  const out: TsRepositoryFixResult = { edits: [], files: [], applied: [], skipped: [] };
  try {
    const files = new Map<string, { before: string | undefined; after: string }>();
    const readCurrent = (rel: string) => (files.has(rel) ? files.get(rel)!.after : safeRead(options, rel));
    const needs: ImportNeed[] = [];
    let sf: ts.SourceFile | undefined;
    for (const f of findings) {
      if (f.rule !== 'raw-sql') continue;
      const p = prepareOne(text, fileName, f, options, readCurrent, fileFindings);
      if (!p.ok) {
        out.skipped.push({ finding: f, reason: p.reason });
        continue;
      }
      sf = p.value.c.sf;
      if (p.value.callEdits.some((e) => out.edits.some((x) => overlaps(e.range, x.range)))) {
        out.skipped.push({ finding: f, reason: 'its edits overlap another rewrite in this file; run fix again' });
        continue;
      }
      out.edits.push(...p.value.callEdits);
      const ch = p.value.change;
      if (ch.after !== undefined) files.set(ch.method.file, { before: files.has(ch.method.file) ? files.get(ch.method.file)!.before : ch.before, after: ch.after });
      needs.push(p.value.need);
      out.applied.push({ finding: f, method: ch.method, instance: p.value.c.instanceName, created: ch.before === undefined });
    }
    if (sf) out.edits.push(...importEdits(sf, needs, options.repositoryTemplates ?? defaultTsRepositoryTemplates()));
    out.edits = sortEdits(out.edits);
    if (sf && out.edits.length) {
      // The original's parse diagnostics come with its (cached) tree: no second parse of it.
      const before = ((sf as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? []).length;
      if (parseProblems(applyTextEdits(text, out.edits, sf), fileName) > before) {
        const reason = 'the rewritten file would not parse';
        return { edits: [], files: [], applied: [], skipped: [...out.skipped, ...out.applied.map((a) => ({ finding: a.finding, reason }))] };
      }
    }
    out.files = [...files].map(([file, v]) => ({ file, before: v.before, after: v.after }));
    return out;
  } catch (e) {
    const reason = `internal error: ${(e as Error).message}`;
    return { edits: [], files: [], applied: [], skipped: findings.filter((f) => f.rule === 'raw-sql').map((finding) => ({ finding, reason })) };
  }
}

function safeRead(options: TsRepositoryOptions, rel: string): string | undefined {
  try {
    return options.readFile(rel);
  } catch {
    return undefined;
  }
}

/**
 * The repository actions for one raw-sql finding: replace the call with the repository method
 * (added to the repository file, or reused when a method with the same fingerprint exists), and,
 * when `fileFindings` holds other call sites in this file with the same statement, a second action
 * that rewrites all of them. Not offered ⇒ one action with `reasonNotOffered`.
 */
export function tsRepositoryActions(text: string, fileName: string, finding: Finding, options: TsRepositoryOptions, fileFindings?: Finding[]): RepositoryAction[] {
  try {
    const fix = tsRepositoryFixAll(text, fileName, [finding], options, fileFindings ?? [finding]);
    if (!fix.applied.length) return [notOffered(TITLE, fix.skipped[0]?.reason ?? 'not verified')];
    const { method, instance, created } = fix.applied[0];
    const where = method.reused ? `existing method in ${method.file}` : created ? `new ${method.file}` : `added to ${method.file}`;
    const main: RepositoryAction = {
      title: `Use ${instance}.${method.name}() (${where})`,
      kind: 'quickfix',
      preferred: true,
      verified: true,
      edits: fix.edits,
      files: fix.files,
      target: 'repository',
      method: fix.applied[0].method,
    };
    const actions = [main];
    // Candidates by their text (whitespace and case aside), then one fix-all over them: kept when
    // every call site it moves lands on this same method (otherwise the statements differ in how
    // their result is read, and only the ones with this fingerprint are taken, each checked).
    const key = roughKey(finding.sql?.text);
    const candidates = options.sameFileAction === false ? [] : (fileFindings ?? []).filter((f) => f !== finding && f.rule === 'raw-sql' && !sameRange(f, finding) && f.sql?.text !== undefined && roughKey(f.sql.text) === key);
    if (candidates.length) {
      const sameMethod = (m: RepositoryMethod) => m.fingerprint === method.fingerprint && m.name === method.name && m.file === method.file;
      let all = [finding, ...candidates].sort((a, b) => cmp(a.range.start, b.range.start));
      let fixAll = tsRepositoryFixAll(text, fileName, all, options, fileFindings);
      if (!fixAll.applied.every((a) => sameMethod(a.method))) {
        all = all.filter((f) => f === finding || tsRepositoryFingerprint(text, fileName, f, options, fileFindings) === method.fingerprint);
        fixAll = tsRepositoryFixAll(text, fileName, all, options, fileFindings);
      }
      if (fixAll.applied.length > 1 && fixAll.applied.every((a) => sameMethod(a.method)) && fixAll.applied.some((a) => a.finding === finding)) {
        actions.push({
          title: `Use ${instance}.${method.name}() at all ${fixAll.applied.length} call sites of this statement in the file`,
          kind: 'quickfix',
          preferred: false,
          verified: true,
          edits: fixAll.edits,
          files: fixAll.files,
          target: 'repository',
          method: fixAll.applied.find((a) => a.finding === finding)!.method,
        });
      }
    }
    return actions;
  } catch (e) {
    return [notOffered(TITLE, `internal error: ${(e as Error).message}`)];
  }
}

/** A necessary condition for two statements to share a fingerprint: the same text, whitespace and case aside. */
function roughKey(sql: string | undefined): string | undefined {
  return sql?.replace(/\s+/g, ' ').trim().toLowerCase();
}

function sameRange(a: Finding, b: Finding): boolean {
  return cmp(a.range.start, b.range.start) === 0 && cmp(a.range.end, b.range.end) === 0;
}

/** The fingerprint of a raw-sql finding's statement + result shape (what makes call sites share a method), or undefined when it has no verified Knex rewrite. */
export function tsRepositoryFingerprint(text: string, fileName: string, finding: Finding, options: TsRepositoryOptions, fileFindings?: Finding[]): string | undefined {
  try {
    const c = compute(text, fileName, finding, options, fileFindings);
    return c.ok ? c.value.fingerprint : undefined;
  } catch {
    return undefined;
  }
}
